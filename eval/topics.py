"""Clustering quality against ground truth, next to a BERTopic-style baseline, and stability.

    python -m eval.topics [--n 3000]       # writes eval/reports/topics.{md,json}

Sets (real data, fetched by pinned version): 20 Newsgroups test split (English),
THUCNews headlines (Chinese), and a mixed set where English newsgroups and Chinese
headlines share three classes (sports, politics, science/tech) and keep others apart.
Both methods read the same default embeddings. Baseline: UMAP to 5-d (15 neighbours,
cosine, min_dist 0) + HDBSCAN(min_cluster_size=10), BERTopic's defaults.
Stability: the mixed set becomes a 37-day stream ingested through the real pipeline;
recluster days 1–30, ingest days 31–37 (assigned at ingest), recluster days 8–37; report
how many shared messages keep their topic id. Also the same window twice.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from eval.common import describe, machine, table, write_report
from service.topics.cluster import ClusterParams, cluster
from training import data
from training.common import SEED, default_embedder, embed_cached

MIXED_EN = {"rec.sport.baseball": "sports", "rec.sport.hockey": "sports",
            "talk.politics.guns": "politics", "talk.politics.mideast": "politics",
            "talk.politics.misc": "politics", "sci.space": "science", "sci.med": "science",
            "sci.electronics": "science", "comp.graphics": "science",
            "soc.religion.christian": "religion", "rec.autos": "autos"}
MIXED_ZH = {"sports": "sports", "politics": "politics", "science": "science",
            "entertainment": "entertainment", "realty": "realty"}


def sample(rows, n: int) -> list[tuple[str, str]]:
    rows = list(rows)
    random.Random(SEED).shuffle(rows)
    return rows[:n]


def sets(n: int) -> dict[str, list[tuple[str, str]]]:
    news = [(t[:1000], g) for t, g in data.newsgroups("test")]
    thuc = data.thucnews()
    mixed = sample([(t, MIXED_EN[g]) for t, g in news if g in MIXED_EN], n // 2)
    mixed += sample([(t, MIXED_ZH[c]) for t, c in thuc if c in MIXED_ZH], n // 2)
    return {"20 Newsgroups (en)": sample(news, n), "THUCNews headlines (zh)": sample(thuc, n),
            "mixed zh+en": sample(mixed, n)}


def languages(texts: list[str]) -> np.ndarray:
    from service.nlp.lang import detect_language

    return np.array([detect_language(t) for t in texts])


def baseline(vectors: np.ndarray) -> np.ndarray:
    import hdbscan
    import umap

    reduced = umap.UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                        random_state=SEED).fit_transform(vectors)
    return hdbscan.HDBSCAN(min_cluster_size=10, metric="euclidean",
                           cluster_selection_method="eom").fit_predict(reduced)


def scores(truth: list[str], labels: np.ndarray) -> dict:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    labels = np.asarray(labels)
    return {"nmi": round(float(normalized_mutual_info_score(truth, labels)), 4),
            "ari": round(float(adjusted_rand_score(truth, labels)), 4),
            "unassigned": round(float((labels < 0).mean()), 4),
            "topics": int(labels.max()) + 1 if labels.size else 0}


def keyword_examples(texts: list[str], truth: list[str], labels: np.ndarray) -> list[dict]:
    """Each topic's keywords next to the ground-truth class most of its messages carry."""
    from collections import Counter

    from service.topics.label import ctfidf_keywords

    k = int(labels.max()) + 1
    words = ctfidf_keywords({c: [texts[i] for i in np.flatnonzero(labels == c)] for c in range(k)})
    out = []
    for c in range(k):
        classes = Counter(truth[i] for i in np.flatnonzero(labels == c))
        top, count = classes.most_common(1)[0]
        out.append({"topic": c, "size": sum(classes.values()), "keywords": words[c][:6],
                    "main_class": top, "purity": round(count / sum(classes.values()), 3)})
    return sorted(out, key=lambda r: -r["size"])


def quality(n: int) -> dict:
    embedder = default_embedder()
    out = {}
    for name, rows in sets(n).items():
        texts, truth = [t for t, _ in rows], [g for _, g in rows]
        vectors = embed_cached(embedder, texts, desc=name)
        start = time.perf_counter()
        ours = cluster(vectors, ClusterParams(), languages(texts)).labels
        t_ours = time.perf_counter() - start
        examples = keyword_examples(texts, truth, ours)
        start = time.perf_counter()
        base = baseline(vectors)
        t_base = time.perf_counter() - start
        out[name] = {"n": len(rows), "classes": len(set(truth)),
                     "ours": scores(truth, ours) | {"seconds": round(t_ours, 1)},
                     "baseline": scores(truth, base) | {"seconds": round(t_base, 1)},
                     "keywords": examples}
        print(name, out[name])
    return out


def stability(n: int) -> dict:
    from service.models_setup import load_classifier
    from service.pipeline import Pipeline
    from service.schemas import MessageIn
    from service.settings import Settings
    from service.store import Store
    from service.topics.recluster import recluster

    rows = sets(n)["mixed zh+en"]
    rng = random.Random(SEED)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    days = [rng.randint(0, 36) for _ in rows]
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(load_classifier(Settings()), Store(Path(tmp) / "s.db"))

        def ingest(day_range):
            batch = [MessageIn(community="c", channel="news", author_id=f"a{i % 200}",
                               external_id=str(i), text=t,
                               ts=start + timedelta(days=d, minutes=i % 600))
                     for i, ((t, _), d) in enumerate(zip(rows, days, strict=True))
                     if d in day_range]
            for k in range(0, len(batch), 200):
                pipeline.ingest(batch[k : k + 200])

        def topic_of() -> dict[int, int | None]:
            return {int(m): t for m, t in pipeline.store._db().execute(
                "SELECT external_id, topic_id FROM messages").fetchall()}

        store = pipeline.store
        ingest(range(0, 30))
        first = recluster(store, "c", until=start + timedelta(days=30), log=lambda m: None)
        after_first = topic_of()
        same = recluster(store, "c", until=start + timedelta(days=30), log=lambda m: None)
        after_same = topic_of()
        ingest(range(30, 37))
        second = recluster(store, "c", until=start + timedelta(days=37), log=lambda m: None)
        after_second = topic_of()
    shared = [i for i, d in enumerate(days) if 7 <= d < 30]
    kept = [after_first[i] == after_second[i] for i in shared if after_first[i] is not None]
    same_kept = [after_first[i] == after_same[i] for i in after_first]
    kept_topics = sum(second.events.get(e, 0) for e in ("continued", "grown", "shrunk"))
    return {"messages": len(rows), "shared_messages": len(shared),
            "topics_keeping_id": f"{kept_topics} of {first.n_topics}",
            "same_window_same_topic": round(float(np.mean(same_kept)), 4),
            "overlap_same_topic": round(float(np.mean(kept)), 4) if kept else None,
            "run1": first.__dict__, "rerun": same.__dict__, "run2": second.__dict__}


def main() -> None:
    parser = argparse.ArgumentParser(description="topic clustering quality and stability")
    parser.add_argument("--n", type=int, default=3000)
    args = parser.parse_args()
    q = quality(args.n)
    s = stability(args.n)
    rows = []
    for name, r in q.items():
        for method in ("ours", "baseline"):
            m = r[method]
            rows.append([name, method, r["n"], r["classes"], m["nmi"], m["ari"],
                         f"{m['unassigned']:.1%}", m["topics"], m["seconds"]])
    md = (f"# Topics: clustering quality and stability\n\nMachine: {describe(machine())}. "
          "Reproduce: `python -m eval.topics`. Embedder: the service default. ours = the service's "
          "defaults (`service/topics/cluster.py`: PCA-20, HDBSCAN leaf, merge near-identical "
          "centroids, neighbour-vote outlier folding), tuned on separate development data "
          "(`eval/reports/tune_topics.md`); baseline = UMAP-5 + "
          "HDBSCAN(min_cluster_size=10) (BERTopic defaults). Unassigned messages count as one "
          "cluster in NMI/ARI for both.\n\n"
          + table(["set", "method", "n", "classes", "NMI", "ARI", "unassigned", "topics", "s"],
                  rows)
          + "\n## Stability (real pipeline and store, 37-day stream of the mixed set)\n\n"
          + table(["measure", "value"],
                  [["same window twice: messages keeping their topic id",
                    s["same_window_same_topic"]],
                   ["days 1–30 then 8–37: shared messages keeping their topic id",
                    s["overlap_same_topic"]],
                   ["shared messages", s["shared_messages"]],
                   ["run-1 topics that keep their id in run 2", s["topics_keeping_id"]],
                   ["run 1 topics / unassigned", f"{s['run1']['n_topics']} / "
                    f"{s['run1']['unassigned']}"],
                   ["run 2 topics / unassigned / lineage", f"{s['run2']['n_topics']} / "
                    f"{s['run2']['unassigned']} / {s['run2']['events']}"]])
          + "\nMessages whose topic was merged into another in run 2 change id by design; "
          "they are counted as changed above.\n"
          + "\n## Topic labels (ours): keywords and the class most of the topic's messages carry\n\n"
          + "".join(f"### {name}\n\n" + table(
              ["size", "keywords", "main class", "purity"],
              [[e["size"], " ".join(e["keywords"]), e["main_class"], e["purity"]]
               for e in r["keywords"]]) + "\n" for name, r in q.items()))
    path = write_report("topics", {"machine": machine(), "quality": q, "stability": s}, md)
    print(path.read_text())


if __name__ == "__main__":
    main()
