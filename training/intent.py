"""Intent head over the community taxonomy, from the project's seed messages.

    python -m training.intent

Seeds live in `training/seeds/intent_{zh,en,mixed}.jsonl`; their `split` field fixes the
held-out part once (a third per label and language), never used for training or tuning.
"""

from __future__ import annotations

from training import data
from training.common import balanced_weights, text_layer_line, today, train_and_write

LABELS = ("question", "bug_report", "complaint", "feature_request", "praise", "chitchat",
          "spam_ad", "abuse")
VERSION = "1"


def splits() -> tuple[list, list, dict]:
    """(train, validation, named test sets)."""
    seeds = data.seeds("intent")
    train = [e for e in seeds if e.split == "train"]
    val = [e for e in seeds if e.split == "val"]
    tests = {f"seeds ({lang})": [e for e in seeds if e.split == "test" and e.lang == lang]
             for lang in ("zh", "en", "mixed")}
    return train, val, tests


def weights(train: list[data.Example]):
    return balanced_weights([e.label for e in train])


def main() -> None:
    train_and_write("intent", VERSION, LABELS, splits(), weights, card)


def card(report: dict) -> str:
    rows = "\n".join(f"| {name} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} |"
                     for name, m in report["test"].items())
    return f"""# Intent head v{report['version']}

Labels: {", ".join(LABELS)}. One logistic-regression layer over the `{report['embedder']}`
message embedding. Built {today()} by `python -m training.intent`.

## Data
Seed messages written for this project: 45 per label in Chinese and in English, 25 per
label in code-mixed Chinese–English (`training/seeds/`). A third per label and language is
held out for test (the `split` field), a tenth of the rest for validation (C choice).
Training sources: {report['train_sources']}. C={report['C']}; temperature
{report['temperature']} and "uncertain" below a top probability of
{report['uncertain_below']} (both chosen on validation data).

{text_layer_line(report)}

## Held-out results (per language)
| test set | n | accuracy | macro-F1 |
|---|---|---|---|
{rows}

## Limits
Seeds are written, not sampled from a live community: real traffic will differ. Moderator
relabels will extend the data (issue "Model quality"). Rebuild: `python -m training.intent`.
"""


if __name__ == "__main__":
    main()
