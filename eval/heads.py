"""Every head in models/ on its held-out test sets, per language, next to a baseline.

    python -m eval.heads            # writes eval/reports/heads.{md,json}

The heads are the artifacts the service loads (not retrained here). The baseline is a
TF-IDF (character 1–3-grams, which also covers Chinese) + logistic regression model fitted
in the same run on the same training rows with the same weights.
"""

from __future__ import annotations

import numpy as np

from eval.common import describe, machine, table, write_report
from service.nlp.heads import load_head
from service.settings import Settings
from training import flags, intent, sentiment
from training.common import default_embedder, embed_cached, evaluate, metrics


def tfidf_baseline(train, weights, tests: dict, labels, flag: str | None) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True,
                          max_features=200_000)
    x = vec.fit_transform([e.text for e in train])
    model = LogisticRegression(C=4.0, max_iter=3000).fit(x, [e.label for e in train],
                                                          sample_weight=weights)
    out = {}
    for name, examples in tests.items():
        pred = list(model.predict(vec.transform([e.text for e in examples])))
        y = [e.label for e in examples]
        m = metrics(y, pred, labels)
        if flag:
            m["flag_f1"] = m["per_class"][flag]["f1"]
        if set(y) <= {"negative", "positive"} and "neutral" in labels:
            probs = model.predict_proba(vec.transform([e.text for e in examples]))
            cls = list(model.classes_)
            neg, pos = cls.index("negative"), cls.index("positive")
            polar = ["positive" if p[pos] >= p[neg] else "negative" for p in probs]
            m["polarity_accuracy"] = round(float(np.mean([a == b for a, b in zip(polar, y, strict=True)])), 4)
        out[name] = m
    return out


def heads_to_evaluate():
    yield "sentiment", sentiment.splits(), sentiment.weights, None
    yield "intent", intent.splits(), intent.weights, None
    for flag in ("spam", "abuse"):
        yield flag, flags.splits(flag), flags.weights, flag


def run() -> dict:
    settings = Settings()
    embedder = default_embedder()
    results = {}
    for name, (train, _val, tests), weight_fn, flag in heads_to_evaluate():
        head = load_head(settings.models_dir / name)
        ours = {}
        for test_name, examples in tests.items():
            x = embed_cached(embedder, [e.text for e in examples], desc=f"{name}: {test_name}")
            ours[test_name] = evaluate(head, x, examples, flag)
        base = tfidf_baseline(train, weight_fn(train), tests, list(head.labels), flag)
        results[name] = {"version": head.version, "embedder": head.embedder,
                         "threshold": head.threshold, "temperature": head.temperature,
                         "uncertain_below": head.uncertain_below, "head": ours,
                         "tfidf_baseline": base}
    return results


def _primary(m: dict) -> tuple[str, float]:
    if "flag_f1" in m:
        return "F1(flag)", m["flag_f1"]
    if "polarity_accuracy" in m:
        return "polarity acc", m["polarity_accuracy"]
    return "macro-F1", m["macro_f1"]


def main() -> None:
    results = run()
    md = ["# Heads on held-out data\n\n",
          f"Machine: {describe(machine())}. Reproduce: `python -m eval.heads` (models from `models/`).\n",
          "Baseline: TF-IDF char 1–3-grams + logistic regression, same training rows.\n"
          "Probabilities are temperature-scaled on validation data; ECE is the expected "
          "calibration error of the top label (10 bins). Below its threshold a sentiment or "
          "intent prediction is reported as \"uncertain\": coverage is the share of messages "
          "above it, with the accuracy on those.\n\n"]
    for name, r in results.items():
        cut = (f"flag threshold {r['threshold']}" if name in ("spam", "abuse")
               else f"uncertain below {r['uncertain_below']}")
        md.append(f"## {name} (v{r['version']}, embedder {r['embedder']}, temperature "
                  f"{r['temperature']}, {cut})\n\n")
        rows = []
        for test_name, m in r["head"].items():
            b = r["tfidf_baseline"][test_name]
            metric, ours = _primary(m)
            confident = ("" if "coverage" not in m else
                         f"{m['coverage']:.0%} / {m['accuracy_when_confident']}")
            rows.append([test_name, m["n"], m["accuracy"], m["macro_f1"], metric, ours,
                         _primary(b)[1], b["accuracy"], m["ece"], confident])
        md.append(table(["test set", "n", "accuracy", "macro-F1", "primary", "head",
                         "TF-IDF baseline", "baseline acc", "ECE",
                         "coverage / acc. when confident"], rows))
        md.append("\n")
    path = write_report("heads", {"machine": machine(), "results": results}, "".join(md))
    print(path.read_text())


if __name__ == "__main__":
    main()
