"""Intent head over the community taxonomy, from the project's seed messages.

    python -m training.intent

Seeds live in `training/seeds/intent_{zh,en,mixed}.jsonl`; their `split` field fixes the
held-out part once (a third per label and language), never used for training or tuning.
Real English chat lines (chitchat-dataset 0.9.0, training conversations only) are added as
`chitchat` examples, weighing a quarter of one label in total, so that ordinary banter is
not read as abuse; lines ending in "?" are left out (they are often real questions).
"""

from __future__ import annotations

import random

import numpy as np

from training import data
from training.common import SEED, balanced_weights, text_layer_line, today, train_and_write

LABELS = ("question", "bug_report", "complaint", "feature_request", "praise", "chitchat",
          "spam_ad", "abuse")
VERSION = "2"
N_CHAT = 2000  # chitchat training lines added as `chitchat` examples
N_CHAT_VAL = 0  # ... and validation lines (none: C and the cut are chosen on seeds)
CHAT_WEIGHT = 0.25  # the chat lines' total weight, in units of one seed label's
CHAT_TEST = "en chitchat test conversations (unlabelled, assumed harmless)"
ALARMS = ("abuse", "spam_ad")  # intents that put a message in the moderators' queue


def chat_examples(n_train: int, n_val: int, questions: bool = False) -> list[data.Example]:
    """Real English chat lines (chitchat-dataset, never a demo or test conversation) as
    `chitchat` examples; lines ending in "?" are left out unless ``questions``."""
    from training.flags import chat_lines

    lines = [e for e in chat_lines("chitchat", 10**9, 10**9)
             if questions or not e.text.rstrip().endswith("?")]
    return (_sample([e for e in lines if e.split == "train"], n_train)
            + _sample([e for e in lines if e.split == "val"], n_val))


def _sample(examples: list[data.Example], n: int) -> list[data.Example]:
    examples = list(examples)
    random.Random(SEED).shuffle(examples)
    return examples[:n]


def splits(n_chat: int | None = None, n_chat_val: int | None = None,
           questions: bool = False) -> tuple[list, list, dict]:
    """(train, validation, named test sets)."""
    seeds = data.seeds("intent")
    n_chat = N_CHAT if n_chat is None else n_chat
    n_chat_val = N_CHAT_VAL if n_chat_val is None else n_chat_val
    rows = seeds + (chat_examples(n_chat, n_chat_val, questions) if n_chat or n_chat_val else [])
    train = [e for e in rows if e.split == "train"]
    val = [e for e in rows if e.split == "val"]
    tests = {f"seeds ({lang})": [e for e in seeds if e.split == "test" and e.lang == lang]
             for lang in ("zh", "en", "mixed")}
    return train, val, tests


def weights(train: list[data.Example]):
    """Seed labels balanced; the chat lines a group of their own weighing ``CHAT_WEIGHT`` of
    one label (weighed like a label they made the seed chitchat class swallow casual
    complaints and praise in out-of-fold checks)."""
    w = balanced_weights(["chat-lines" if e.source == "chitchat" else e.label for e in train])
    w = w * np.array([CHAT_WEIGHT if e.source == "chitchat" else 1.0 for e in train])
    return w * len(train) / w.sum()


def main() -> None:
    from training.flags import held_out_chat

    train_and_write("intent", VERSION, LABELS, splits(), weights, card,
                    harmless={CHAT_TEST: held_out_chat()}, alarm_labels=ALARMS)


def card(report: dict) -> str:
    rows = "\n".join(f"| {name} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} |"
                     for name, m in report["test"].items())
    chat = report["false_alarms"][CHAT_TEST]
    return f"""# Intent head v{report['version']}

Labels: {", ".join(LABELS)}. One logistic-regression layer over the `{report['embedder']}`
message embedding. Built {today()} by `python -m training.intent`.

## Data
Seed messages written for this project: 45 per label in Chinese and in English, 25 per
label in code-mixed Chinese–English (`training/seeds/`). A third per label and language is
held out for test (the `split` field), a tenth of the rest for validation (C choice).
Real English chat: {report['train_sources'].get('chitchat', 0):,} lines of chitchat-dataset
0.9.0 training conversations (split by a hash of the conversation id; the demo's and the
test conversations never used; lines ending in "?" left out) as `chitchat`, weighing
{CHAT_WEIGHT} of one label in total. There is no Chinese chat corpus: Chinese chitchat is
the seeds only.
Training sources: {report['train_sources']}. C={report['C']}; temperature
{report['temperature']} and "uncertain" below a top probability of
{report['uncertain_below']} (both chosen on validation data).

{text_layer_line(report)}

False alarms on ordinary chat: of the {chat['n']:,} distinct lines of the held-out chitchat
test conversations (unlabelled, assumed harmless), {_pct(chat['abuse'])} are labelled `abuse`
and {_pct(chat['spam_ad'])} `spam_ad` (the labels that put a message in the moderators'
queue; `python -m eval.chat_flags` compares versions).

## Held-out results (per language)
| test set | n | accuracy | macro-F1 |
|---|---|---|---|
{rows}

## Limits
Seeds are written, not sampled from a live community: real traffic will differ. Moderator
relabels will extend the data (issue "Model quality"). Rebuild: `python -m training.intent`.
"""


def _pct(v: float) -> str:
    return f"{100 * v:.2f} %"


if __name__ == "__main__":
    main()
