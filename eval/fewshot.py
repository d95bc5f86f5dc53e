"""Custom intents, measured: few-shot heads on real labelled sets.

    python -m eval.fewshot        # writes eval/reports/fewshot.{md,json}

An operator defines labels with a handful of examples each; ``service/nlp/custom.py``
trains a head on their embeddings. This program draws k examples per class (k = 8, 16,
32; 5 draws with fixed seeds, nested: a draw's 8 are the first 8 of its 16) and measures
each head type on a fixed test sample that no draw can touch:

- THUCNews headlines (zh, 10 classes): 2,000 headlines for test, 1,000 for development,
  examples from the rest;
- 20 Newsgroups bydate (en, 20 classes, first 1,000 characters): examples from the train
  split (1,000 of it kept for development), 2,000 test-split posts for test;
- the project's intent seeds (8 labels, zh, en and code-mixed chat): examples from the
  train split, all languages together, scored on the test split per language.

Heads: ``logistic`` (multinomial logistic regression on the embedding), ``prototype``
(cosine to each class's mean embedding), ``logistic+chars`` (the logistic logits mixed
with a character n-gram TF-IDF layer, as the built-in heads can be), and a TF-IDF +
logistic regression baseline on the same examples (character 1–3-grams for Chinese and
mixed text, words and word pairs for English). Each head is trained as the service trains
it (5-fold CV on the examples sets temperature and the "uncertain" threshold); the
seconds are the whole training after embedding, CV included.

Hyper-parameters (C of the logistic heads and of the baseline, the text layer's mix) are
chosen on the development samples at k = 8, never on the test samples; that table is in
the report too. Embeddings come from the default embedder's on-disk cache (the topic
eval's corpus holds every text used here), so a rerun embeds nothing.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from eval.common import describe, machine, table, write_report
from service.nlp import custom
from service.nlp.charngrams import counts
from training import data
from training.common import SEED, default_embedder, embed_cached

KS = (8, 16, 32)
DRAWS = 5
HEADS = ("logistic", "prototype", "logistic+chars", "tfidf")
C_GRID = (1.0, 10.0, 100.0)
MIX_GRID = (0.5, 0.7, 0.85)
N_TEST, N_DEV = 2000, 1000


# -- data ---------------------------------------------------------------------------------
def _split_off(rows: list, n: int, seed: int) -> tuple[list, list]:
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return rows[:n], rows[n:]


def _without(rows: list, texts: set[str]) -> list:
    return [r for r in rows if r[0] not in texts]


def sets() -> dict[str, dict]:
    """name -> {pool, dev, tests: {name: rows}, lang}; rows are (text, label)."""
    thuc = list(dict.fromkeys(data.thucnews()))
    thuc_test, rest = _split_off(thuc, N_TEST, SEED)
    thuc_dev, thuc_pool = _split_off(rest, N_DEV, SEED + 1)
    taken = {t for t, _ in thuc_test + thuc_dev}
    news_train = list(dict.fromkeys((t[:1000], g) for t, g in data.newsgroups("train")))
    news_test, _ = _split_off(list(dict.fromkeys((t[:1000], g)
                                                 for t, g in data.newsgroups("test"))),
                              N_TEST, SEED)
    news_dev, news_pool = _split_off(_without(news_train, {t for t, _ in news_test}), N_DEV,
                                     SEED + 1)
    seeds = data.seeds("intent")
    seed_test = [e for e in seeds if e.split == "test"]
    seed_pool = _without([(e.text, e.label) for e in seeds if e.split != "test"],
                         {e.text for e in seed_test})
    return {
        "THUCNews headlines (zh)": {"pool": _without(thuc_pool, taken), "dev": thuc_dev,
                                    "tests": {"test": thuc_test}, "lang": "zh"},
        "20 Newsgroups (en)": {"pool": news_pool, "dev": news_dev,
                               "tests": {"test": news_test}, "lang": "en"},
        "intent seeds (zh, en, mixed)": {
            "pool": seed_pool, "dev": None, "lang": "mixed",
            "tests": {"all": [(e.text, e.label) for e in seed_test]}
            | {lang: [(e.text, e.label) for e in seed_test if e.lang == lang]
               for lang in ("zh", "en", "mixed")}},
    }


def embeddings(embedder, all_sets: dict) -> dict[str, np.ndarray]:
    """text -> vector, from the cache of eval/topics_scale.py's corpus where it is there."""
    from eval.topics_scale import corpus

    wanted = {t for s in all_sets.values()
              for rows in [s["pool"], s["dev"] or [], *s["tests"].values()] for t, _ in rows}
    table_ = {}
    cached = corpus()
    vectors = embed_cached(embedder, cached, desc="scale corpus (cached)")
    for text, v in zip(cached, vectors, strict=True):
        if text in wanted:
            table_[text] = v
    missing = sorted(wanted - table_.keys())
    if missing:
        table_.update(zip(missing, embed_cached(embedder, missing, desc="fewshot"), strict=True))
    return table_


def draw(pool: list, labels: tuple[str, ...], k: int, seed: int) -> list[int]:
    """Row indices of k examples per label; the first k of a seeded order (nested in k)."""
    rng = np.random.default_rng(seed)
    out = []
    for label in labels:
        rows = [i for i, (_, lab) in enumerate(pool) if lab == label]
        out += [rows[i] for i in rng.permutation(len(rows))[:k]]
    return out


# -- heads --------------------------------------------------------------------------------
def tfidf_baseline(texts, y, lang: str, c: float):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = (TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)
           if lang == "en" else
           TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True))
    model = LogisticRegression(C=c, max_iter=2000).fit(vec.fit_transform(texts), y)
    return vec, model


def score(head_name: str, train: tuple, tests: dict, lang: str, params: dict) -> dict:
    """Train one head on (vectors, y, texts, labels); metrics on each test set."""
    x, y, texts, labels = train
    start = time.perf_counter()
    if head_name == "tfidf":
        fitted = tfidf_baseline(texts, y, lang, params.get("c", 10.0))
        seconds = time.perf_counter() - start
        out = {"seconds": seconds}
        for name, (_, yt, tt, _) in tests.items():
            vec, model = fitted
            probs = np.zeros((len(yt), len(labels)))
            probs[:, model.classes_] = model.predict_proba(vec.transform(tt))
            out[name] = _metrics(probs, yt, None)
        return out
    head, cv = custom.calibrate(x, y, labels, head_name,
                                texts if head_name == "logistic+chars" else None, **params)
    out = {"seconds": time.perf_counter() - start, "cv_accuracy": cv["cv_accuracy"],
           "uncertain_below": head.uncertain_below, "temperature": head.temperature}
    for name, (xt, yt, _, grams) in tests.items():
        probs = head.predict_proba(xt, None, grams if head.chars is not None else None)
        out[name] = _metrics(probs, yt, head.uncertain_below)
    return out


def _metrics(probs: np.ndarray, y: np.ndarray, uncertain_below: float | None) -> dict:
    from sklearn.metrics import f1_score

    pred = probs.argmax(axis=1)
    out = {"accuracy": float((pred == y).mean()),
           "macro_f1": float(f1_score(y, pred, average="macro"))}
    if uncertain_below is not None:
        top, correct = probs.max(axis=1), pred == y
        kept = top >= uncertain_below
        out["coverage"] = float(kept.mean())
        out["accuracy_when_confident"] = float(correct[kept].mean()) if kept.any() else None
        edges = np.linspace(0, 1, 11)
        out["ece"] = float(sum(((top > lo) & (top <= hi)).mean()
                               * abs(top[(top > lo) & (top <= hi)].mean()
                                     - correct[(top > lo) & (top <= hi)].mean())
                               for lo, hi in zip(edges[:-1], edges[1:], strict=True)
                               if ((top > lo) & (top <= hi)).any()))
    return out


def prepared(rows: list, vec: dict, labels: tuple[str, ...]) -> tuple:
    texts = [t for t, _ in rows]
    y = np.array([labels.index(lab) for _, lab in rows])
    return (np.stack([vec[t] for t in texts]), y, texts, counts(texts))


def train_rows(pool: list, idx: list[int], vec: dict, labels: tuple[str, ...]) -> tuple:
    texts = [pool[i][0] for i in idx]
    y = np.array([labels.index(pool[i][1]) for i in idx])
    return np.stack([vec[t] for t in texts]), y, texts, labels


# -- the two passes -----------------------------------------------------------------------
def develop(all_sets: dict, vec: dict) -> dict:
    """k = 8 on the development samples: C per head and the text layer's mix."""
    grid = {"logistic": [{"c": c} for c in C_GRID],
            "logistic+chars": [{"c": custom.LOGISTIC_C, "mix": m} for m in MIX_GRID],
            "tfidf": [{"c": c} for c in C_GRID]}
    out: dict = {}
    for name, s in all_sets.items():
        if s["dev"] is None:
            continue
        labels = tuple(sorted({lab for _, lab in s["pool"]}))
        dev = {"dev": prepared(s["dev"], vec, labels)}
        for head_name, options in grid.items():
            for params in options:
                key = f"{head_name} " + " ".join(f"{k}={v:g}" for k, v in params.items())
                runs = [score(head_name, train_rows(s["pool"], draw(s["pool"], labels, 8,
                                                                    SEED + d), vec, labels),
                              dev, s["lang"], params)["dev"]["accuracy"] for d in range(DRAWS)]
                out.setdefault(key, {})[name] = round(float(np.mean(runs)), 4)
                print("dev", name, key, out[key][name], flush=True)
    return out


def choose(dev: dict) -> dict[str, dict]:
    """Per head, the parameters with the best mean development accuracy over the sets."""
    best: dict[str, tuple[float, dict]] = {}
    for key, per_set in dev.items():
        head_name, *pairs = key.split(" ")
        params = {k: float(v) for k, v in (p.split("=") for p in pairs)}
        mean = float(np.mean(list(per_set.values())))
        if head_name not in best or mean > best[head_name][0] + 1e-9:
            best[head_name] = (mean, params)
    chosen = {h: p for h, (_, p) in best.items()}
    chosen.setdefault("prototype", {})
    return chosen


def measure(all_sets: dict, vec: dict, chosen: dict, ks=KS) -> dict:
    out: dict = {}
    for name, s in all_sets.items():
        labels = tuple(sorted({lab for _, lab in s["pool"]}))
        tests = {t: prepared(rows, vec, labels) for t, rows in s["tests"].items()}
        for k in ks:
            runs: dict[str, list] = {h: [] for h in HEADS}
            for d in range(DRAWS):
                train = train_rows(s["pool"], draw(s["pool"], labels, k, SEED + 100 + d), vec,
                                   labels)
                for head_name in HEADS:
                    runs[head_name].append(score(head_name, train, tests, s["lang"],
                                                 chosen[head_name]))
            out.setdefault(name, {})[k] = {h: summarise(r, list(tests)) for h, r in runs.items()}
            print(name, k, {h: out[name][k][h][list(tests)[0]]["accuracy"] for h in HEADS},
                  flush=True)
    return out


def summarise(runs: list[dict], test_names: list[str]) -> dict:
    def ms(values) -> dict:
        values = [v for v in values if v is not None]
        return {"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values)), 4)}

    out = {"seconds": ms([r["seconds"] for r in runs])}
    for key in ("cv_accuracy", "uncertain_below", "temperature"):
        if key in runs[0]:
            out[key] = ms([r[key] for r in runs])
    for t in test_names:
        out[t] = {m: ms([r[t][m] for r in runs]) for m in runs[0][t]}
    return out


def out_of_scope(all_sets: dict, vec: dict, ks=(8, 32)) -> dict:
    """Real traffic holds messages no custom label covers. Train on half the seed labels
    (every other one, sorted) and count how many test messages of the other half the head
    calls "uncertain", beside the accuracy and coverage on the in-scope half."""
    s = all_sets["intent seeds (zh, en, mixed)"]
    every = tuple(sorted({lab for _, lab in s["pool"]}))
    labels = every[::2]
    pool = [(t, lab) for t, lab in s["pool"] if lab in labels]
    rows = s["tests"]["all"]
    inside = prepared([r for r in rows if r[1] in labels], vec, labels)
    outside = np.stack([vec[t] for t, lab in rows if lab not in labels])
    out: dict = {"labels": list(labels), "others": [lab for lab in every if lab not in labels]}
    for k in ks:
        runs = []
        for head_name in ("logistic", "prototype"):
            for d in range(DRAWS):
                x, y, texts, _ = train_rows(pool, draw(pool, labels, k, SEED + 100 + d), vec, labels)
                head, _ = custom.calibrate(x, y, labels, head_name)
                m = _metrics(head.predict_proba(inside[0]), inside[1], head.uncertain_below)
                m["out_of_scope_uncertain"] = float(
                    (head.predict_proba(outside).max(axis=1) < head.uncertain_below).mean())
                runs.append((head_name, m))
            out.setdefault(k, {})[head_name] = {
                key: {"mean": round(float(np.mean([m[key] for h, m in runs if h == head_name])), 4),
                      "std": round(float(np.std([m[key] for h, m in runs if h == head_name])), 4)}
                for key in ("accuracy", "coverage", "accuracy_when_confident",
                            "out_of_scope_uncertain")}
    return out


def embed_timing(embedder, all_sets: dict) -> dict:
    """Seconds to embed one draw of 8 examples per label (what a retrain embeds)."""
    out = {}
    for name, s in all_sets.items():
        labels = tuple(sorted({lab for _, lab in s["pool"]}))
        texts = [s["pool"][i][0] for i in draw(s["pool"], labels, 8, SEED + 100)]
        embedder.embed(texts[:4])
        start = time.perf_counter()
        embedder.embed(texts)
        out[name] = {"texts": len(texts), "seconds": round(time.perf_counter() - start, 3)}
    return out


# -- report -------------------------------------------------------------------------------
def _pm(m: dict) -> str:
    return f"{m['mean']:.3f} ± {m['std']:.3f}"


_NOT_TESTS = ("seconds", "cv_accuracy", "uncertain_below", "temperature")


def _first_test(heads: dict) -> str:
    return next(t for t in heads["logistic"] if t not in _NOT_TESTS)


def report_md(r: dict) -> str:
    default = {"kind": custom.DEFAULT_KIND, "c": custom.LOGISTIC_C}
    chosen_c = r["chosen"].get(custom.DEFAULT_KIND, {}).get("c")
    lines = ["# Custom intents: few-shot heads\n",
             f"`python -m eval.fewshot` on {describe(r['machine'])}; embedder "
             f"`{r['embedder']}`. {DRAWS} random draws of k examples per class (fixed seeds); "
             "mean ± standard deviation over the draws. Test samples are disjoint from every "
             "draw and from the development samples. Service default "
             f"(`service/nlp/custom.py`): `{default['kind']}` head, C = {default['c']:g}"
             + ("" if chosen_c is None or chosen_c == default["c"] else
                f" — **differs from this run's development choice C = {chosen_c:g}**") + ".\n"]
    lines.append("## Summary at k = 8\n")
    rows = []
    for name, per_k in r["test"].items():
        heads = per_k.get(8) or per_k.get("8")
        t = _first_test(heads)
        rows.append([f"{name}" + (f", {t}" if t != "test" else ""),
                     *[_pm(heads[h][t]["accuracy"]) for h in HEADS],
                     *[_pm(heads[h][t]["macro_f1"]) for h in HEADS]])
    lines.append(table(["set", *[f"{h} accuracy" for h in HEADS],
                        *[f"{h} macro-F1" for h in HEADS]], rows))
    lines.append("The CV accuracy the service reports with each version is measured on heads "
                 "fitted without a fifth of the examples, so with 8 per label it is pessimistic "
                 "(see each set's second table).\n")
    for name, per_k in r["test"].items():
        tests = [t for t in next(iter(per_k.values()))["logistic"] if t not in _NOT_TESTS]
        lines.append(f"## {name}\n")
        for t in tests:
            if len(tests) > 1:
                lines.append(f"Test split, {t} messages:\n")
            rows = []
            for k, heads in per_k.items():
                for h, m in heads.items():
                    rows.append([k, h, _pm(m[t]["accuracy"]), _pm(m[t]["macro_f1"]),
                                 _pm(m[t]["coverage"]) if "coverage" in m[t] else "—",
                                 _pm(m[t]["accuracy_when_confident"])
                                 if "accuracy_when_confident" in m[t] else "—",
                                 f"{m['seconds']['mean']:.3f}"])
            lines.append(table(["k", "head", "accuracy", "macro-F1", "answered (not uncertain)",
                                "accuracy when answered", "train s"], rows))
        cv_rows = [[k, h, _pm(m["cv_accuracy"]), _pm(m[tests[0]]["accuracy"]),
                    _pm(m["uncertain_below"]), _pm(m["temperature"])]
                   for k, heads in per_k.items() for h, m in heads.items() if "cv_accuracy" in m]
        lines.append("What the service reports at training time (CV on the examples) against "
                     f"the held-out {tests[0]} accuracy, and the calibration it chose:\n")
        lines.append(table(["k", "head", "CV accuracy", "test accuracy", "uncertain below",
                            "temperature"], cv_rows))
    oos = r["out_of_scope"]
    lines.append("## Messages no label covers\n")
    lines.append(f"Intent seeds: a head trained on {', '.join(oos['labels'])} only, scored on "
                 f"the test messages of those labels and on those of {', '.join(oos['others'])} "
                 "(which it cannot name: the right answer is \"uncertain\").\n")
    lines.append(table(["k", "head", "in-scope accuracy", "in-scope answered",
                        "accuracy when answered", "out-of-scope called uncertain"],
                       [[k, h, _pm(m["accuracy"]), _pm(m["coverage"]),
                         _pm(m["accuracy_when_confident"]), _pm(m["out_of_scope_uncertain"])]
                        for k, heads in oos.items() if isinstance(heads, dict)
                        for h, m in heads.items()]))
    lines.append("## Choices made on development samples (k = 8, mean accuracy of 5 draws)\n")
    sets_ = sorted({s for per in r["dev"].values() for s in per})
    lines.append(table(["head and parameters", *sets_],
                       [[key, *[per.get(s, "—") for s in sets_]] for key, per in r["dev"].items()]))
    lines.append("Chosen: " + "; ".join(f"`{h}` {p or 'no parameters'}"
                                        for h, p in r["chosen"].items()) + ".\n")
    lines.append("## Time to retrain\n")
    lines.append("Embedding one draw of k = 8 per class with the default embedder (one call), "
                 f"then training the default `{custom.DEFAULT_KIND}` head (5-fold CV, "
                 "temperature, threshold and the final fit; mean of the draws above):\n")
    rows = []
    for n, v in r["embed"].items():
        heads = r["test"][n].get(8) or r["test"][n].get("8")
        fit_s = heads[custom.DEFAULT_KIND]["seconds"]["mean"]
        rows.append([n, v["texts"], v["seconds"], round(fit_s, 3), round(v["seconds"] + fit_s, 3)])
    lines.append(table(["set", "texts", "embed s", "train s", "total s"], rows))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="few-shot custom intent heads")
    parser.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # small matrices: one BLAS thread is fastest on 2 busy cores
    embedder = default_embedder()
    all_sets = sets()
    vec = embeddings(embedder, all_sets)
    dev = develop(all_sets, vec)
    chosen = choose(dev)
    print("chosen", chosen, flush=True)
    result = {"machine": machine(), "embedder": embedder.name, "draws": DRAWS, "ks": list(KS),
              "sizes": {n: {"pool": len(s["pool"]), **{t: len(v) for t, v in s["tests"].items()}}
                        for n, s in all_sets.items()},
              "dev": dev, "chosen": chosen, "embed": embed_timing(embedder, all_sets),
              "out_of_scope": out_of_scope(all_sets, vec),
              "test": measure(all_sets, vec, chosen)}
    path = write_report("fewshot", result, report_md(result))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
