"""Chat sentiment out-of-fold: does the head's recipe beat the TF-IDF baseline on the seed
chat messages beyond the small held-out sets?

    python -m eval.chat_oof         # ~5 min on 2 cores; writes eval/reports/chat_oof.{md,json}

The held-out chat sets have 64-120 messages per language, so a gap to the baseline there
carries a wide interval (eval/reports/heads.md). This program scores the same recipes on
the training rows instead, by 5-fold cross-fitting over every sentiment source with the
training weights (the folds of training/common.py): the head's embedding layer at its
stored C, its character layer at its stored C, the stored per-language mix of the two, and
the TF-IDF baseline of heads.md fitted in the same folds. It reports the chat seed rows of
each language with a 95 % paired-bootstrap interval. The lexicon layer is left out (it is
fitted on these out-of-fold logits in training). No test row is read.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from tqdm import tqdm

from eval.common import REPORTS, describe, machine, paired_bootstrap, table, write_report
from eval.heads import fit_tfidf, tfidf_probs
from service.nlp.charngrams import fit_idf, tfidf_rows
from service.settings import Settings
from training import sentiment
from training.common import (
    default_embedder,
    embed_cached,
    fold_ids,
    metrics,
    out_of_fold_logits,
)

FOLDS = 5
LANGS = ("zh", "en", "mixed")


def out_of_fold(train, weights, stored: dict) -> dict[str, np.ndarray]:
    """Out-of-fold scores (rows x labels) of each recipe over the training rows."""
    labels = list(sentiment.LABELS)
    texts = [e.text for e in train]
    y = np.array([e.label for e in train])
    fold = fold_ids(texts, FOLDS)
    x = embed_cached(default_embedder(), texts, desc="training rows")
    chars = tfidf_rows(*fit_idf(texts), texts)
    out = {"embedding": out_of_fold_logits(x, y, labels, stored["C"], weights, fold),
           "characters": out_of_fold_logits(chars, y, labels, stored["char_C"], weights, fold),
           "tfidf": np.zeros((len(y), len(labels)))}
    for f in tqdm(range(FOLDS), desc="TF-IDF baseline folds"):
        fit, held = fold != f, fold == f
        rows = [train[i] for i in np.flatnonzero(fit)]
        fitted = fit_tfidf(rows, weights[fit])
        out["tfidf"][held] = tfidf_probs(fitted, [texts[i] for i in np.flatnonzero(held)], labels)
    return out


def run() -> dict:
    train, _, _ = sentiment.splits()
    weights = sentiment.weights(train)
    config = json.loads((Settings().models_dir / "sentiment" / "metrics.json").read_text())
    if "text_C" not in config:
        raise SystemExit("models/sentiment/metrics.json has no text_C: rebuild the head with "
                         "`python -m training.sentiment`")
    stored = {"C": config["C"], "char_C": config["text_C"], "mix": config["mix"],
              "mix_by_lang": config.get("mix_by_lang", {}), "version": config["version"]}
    scores = out_of_fold(train, weights, stored)
    labels = list(sentiment.LABELS)
    y = np.array([e.label for e in train])
    results = {}
    for lang in LANGS:
        rows = np.array([e.source == f"seeds-{lang}" for e in train])
        mix = stored["mix_by_lang"].get(lang, stored["mix"])
        recipes = {"head (stored mix)": mix * scores["embedding"] + (1 - mix) * scores["characters"],
                   "embedding layer": scores["embedding"], "character layer": scores["characters"],
                   "TF-IDF baseline": scores["tfidf"]}
        preds = {k: [labels[i] for i in v[rows].argmax(axis=1)] for k, v in recipes.items()}
        truth = list(y[rows])
        results[lang] = {
            "n": int(rows.sum()), "mix": mix,
            "macro_f1": {k: metrics(truth, p, labels)["macro_f1"] for k, p in preds.items()},
            "head_minus_tfidf": paired_bootstrap(truth, preds["head (stored mix)"],
                                                 preds["TF-IDF baseline"], "macro_f1")}
    return {"machine": machine(), "stored": stored, "chat": results}


def report_md(r: dict) -> str:
    s = r["stored"]
    rows = []
    for lang, m in r["chat"].items():
        g = m["head_minus_tfidf"]
        rows.append([f"seeds-{lang}", m["n"], m["mix"], *m["macro_f1"].values(),
                     f"{g['diff']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]"])
    names = list(next(iter(r["chat"].values()))["macro_f1"])
    return (f"# Chat sentiment out-of-fold: the head's recipe against the TF-IDF baseline\n\n"
            f"Machine: {describe(r['machine'])}. Reproduce: `python -m eval.chat_oof`.\n\n"
            f"Sentiment head v{s['version']}'s recipe (embedding C={s['C']}, character layer "
            f"C={s['char_C']}, its per-language mix; no lexicon layer) and the TF-IDF baseline "
            f"of heads.md, each cross-fitted in {FOLDS} folds over all training rows with the "
            f"training weights; macro-F1 on the seed chat rows of each language (training "
            f"rows only, no test row read). Interval: 95 %, 2,000 paired bootstrap "
            f"resamples. The per-language mix was itself chosen on these out-of-fold scores "
            f"(training/common.py language_mixes), so the head's column is slightly "
            f"optimistic; its embedding and character columns are not.\n\n"
            + table(["chat rows", "n", "embedding weight", *names,
                     "head − TF-IDF [95 % CI]"], rows))


def main() -> None:
    if "--from-json" in sys.argv:  # rewrite the Markdown from the last run's JSON
        r = json.loads((REPORTS / "chat_oof.json").read_text())
    else:
        r = run()
    path = write_report("chat_oof", r, report_md(r))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
