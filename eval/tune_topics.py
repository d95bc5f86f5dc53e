"""Choose the clustering defaults on development data kept apart from eval/topics.py.

    python -m eval.tune_topics      # writes eval/reports/tune_topics.{md,json}

Development sets: the 20 Newsgroups *train* split and THUCNews headlines not sampled by
eval/topics.py, and a mixed set built from both the same way. A configuration qualifies
when it leaves at most 15% unassigned on every set; among those, the highest mean of NMI
and ARI wins.
"""

from __future__ import annotations

import itertools
import random

import numpy as np

from eval.common import describe, machine, table, write_report
from eval.topics import MIXED_EN, MIXED_ZH, languages, sample, scores, sets
from service.topics.cluster import ClusterParams, cluster
from training import data
from training.common import SEED, default_embedder, embed_cached


def dev_sets(n: int) -> dict[str, list[tuple[str, str]]]:
    used = {t for rows in sets(n).values() for t, _ in rows}
    news = [(t[:1000], g) for t, g in data.newsgroups("train")]
    thuc = [(t, c) for t, c in data.thucnews() if t not in used]
    rng = random.Random(SEED + 1)
    rng.shuffle(thuc)
    mixed = sample([(t, MIXED_EN[g]) for t, g in news if g in MIXED_EN], n // 2)
    mixed += [(t, MIXED_ZH[c]) for t, c in thuc if c in MIXED_ZH][: n // 2]
    return {"20NG train (en)": sample(news, n), "THUCNews dev (zh)": thuc[:n],
            "mixed dev": sample(mixed, n)}


def grid():
    for sel, share, merge, cross, min_sim in itertools.product(
            ("eom", "leaf"), (0.4, 0.5), (0.9, 0.7), (1.0, 0.6, 0.5), (0.3, 0.5)):
        yield ClusterParams(pca_dims=20, min_samples=1, fold_share=share, selection=sel,
                            size_divisor=100, merge_cos=merge, merge_cos_cross=cross,
                            fold_min_sim=min_sim)


def main(n: int = 3000) -> None:
    embedder = default_embedder()
    dev = {name: (embed_cached(embedder, [t for t, _ in rows], desc=name), [g for _, g in rows],
                  languages([t for t, _ in rows])) for name, rows in dev_sets(n).items()}
    results = []
    for params in grid():
        per = {name: scores(truth, cluster(v, params, langs).labels)
               for name, (v, truth, langs) in dev.items()}
        worst_noise = max(s["unassigned"] for s in per.values())
        quality = float(np.mean([(s["nmi"] + s["ari"]) / 2 for s in per.values()]))
        results.append({"params": params.__dict__, "quality": round(quality, 4),
                        "worst_unassigned": worst_noise, "sets": per})
        print(params, round(quality, 4), worst_noise)
    ok = [r for r in results if r["worst_unassigned"] <= 0.15] or results
    best = max(ok, key=lambda r: r["quality"])
    varied = ["selection", "fold_share", "merge_cos", "merge_cos_cross", "fold_min_sim"]
    rows = [[*(r["params"][k] for k in varied), r["quality"], r["worst_unassigned"]]
            for r in sorted(results, key=lambda r: -r["quality"])[:15]]
    md = (f"# Clustering defaults, tuned on development data\n\nMachine: {describe(machine())}. "
          "Reproduce: `python -m eval.tune_topics`.\n\nBest qualifying (≤15% unassigned on "
          f"every set): `{best['params']}`, quality {best['quality']}.\n\nTop 15:\n\n"
          + table([*varied, "mean (NMI+ARI)/2", "worst unassigned"], rows))
    path = write_report("tune_topics", {"machine": machine(), "best": best, "all": results}, md)
    print(path.read_text())


if __name__ == "__main__":
    main()
