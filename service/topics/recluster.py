"""recluster(): one background job per community over a time window.

window → cluster (reduce + HDBSCAN + outlier folding) → name (c-TF-IDF) → match with the
previous topics (stable ids, lineage) → one transaction in the store.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import numpy as np

from service.store import Store, format_ts
from service.topics.cluster import ClusterParams, cluster
from service.topics.label import ctfidf_keywords, name_of
from service.topics.track import SIZE_CHANGE, match


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    n_messages: int
    n_topics: int
    unassigned: int
    events: dict[str, int]


def open_run(store: Store, community: str, until: datetime, days: int,
             params: ClusterParams) -> int:
    """Record a run as 'running' (so an API caller gets its id before the work starts)."""
    return store.start_run(community, format_ts(until - timedelta(days=days)), format_ts(until),
                           asdict(params) | {"days": days})


def recluster(store: Store, community: str, until: datetime, days: int = 30,
              params: ClusterParams | None = None, log=None,
              run_id: int | None = None) -> RunSummary:
    """Recluster the messages of ``community`` in the ``days`` before ``until``."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    params = params or ClusterParams()
    since = format_ts(until - timedelta(days=days))
    until_ts = format_ts(until)
    if run_id is None:
        run_id = open_run(store, community, until, days, params)
    try:
        summary = _run(store, community, since, until_ts, params, run_id, log)
    except Exception as exc:
        store.fail_run(run_id, f"{type(exc).__name__}: {exc}")
        raise
    return summary


def _run(store, community, since, until, params, run_id, log) -> RunSummary:
    window = store.window(community, since, until)
    ids, vectors, texts = window["ids"], window["vectors"], window["texts"]
    log(f"run {run_id}: {len(ids)} messages in {community} from {since} to {until}")
    result = cluster(vectors, params, window["langs"]) if len(ids) else None
    k = len(result.centroids) if result else 0
    labels = result.labels if result else np.empty(0, int)
    log(f"run {run_id}: {k} clusters, {int((labels < 0).sum())} messages unassigned")

    members = [set(ids[labels == c].tolist()) for c in range(k)]
    old = store.active_topics(community)
    old_members: dict[int, set[int]] = {t["id"]: set() for t in old}
    for mid, tid in zip(ids.tolist(), window["topic_ids"], strict=True):
        if tid in old_members:
            old_members[tid].add(mid)
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    old_centroids = np.zeros((len(old), dim), np.float32)
    for i, t in enumerate(old):
        if t["centroid"].shape == (dim,):  # another embedder's centroid: match on members only
            old_centroids[i] = t["centroid"]
    lineage = match([t["id"] for t in old], [old_members[t["id"]] for t in old],
                    old_centroids, [t["size"] for t in old], members,
                    result.centroids if k else np.zeros((0, dim), np.float32))

    centroids = result.centroids if k else np.zeros((0, dim), np.float32)
    thresholds = result.thresholds if k else np.zeros(0, np.float32)
    if k:
        labels = keep_previous(labels, vectors, centroids, window["topic_ids"], lineage.ids)
        labels, centroids, thresholds = revive_merged(
            labels, vectors, centroids, thresholds, window["topic_ids"], lineage,
            {t["id"]: (old_centroids[i], t["size"]) for i, t in enumerate(old)},
            max(5, params.size_for(len(ids)) // params.small_divisor), params.admit_percentile)
        k = len(centroids)
        for c, e in enumerate(lineage.new_events):  # sizes after hysteresis and revival
            e["size_after"] = int((labels == c).sum())
            if e["size_before"] is not None:
                change = (e["size_after"] - e["size_before"]) / max(e["size_before"], 1)
                e["event"] = ("grown" if change > SIZE_CHANGE else "shrunk"
                              if change < -SIZE_CHANGE else "continued")
    keywords = ctfidf_keywords({c: [texts[i] for i in np.flatnonzero(labels == c)]
                                for c in range(k)})
    topics = []
    for c in range(k):
        rows = np.flatnonzero(labels == c)
        if rows.size == 0:
            rows = np.array([int(np.argmax(vectors @ centroids[c]))])
        closest = rows[np.argsort(-(vectors[rows] @ centroids[c]))[:5]]
        topics.append({"id": lineage.ids[c], "label": name_of(keywords[c]),
                       "keywords": keywords[c], "representatives": ids[closest].tolist(),
                       "centroid": centroids[c], "threshold": thresholds[c],
                       "size": len(rows)})
    events = [e | {"cluster": c} for c, e in enumerate(lineage.new_events)] + lineage.events
    retired = [(e["topic_id"], e["event"]) for e in lineage.events]
    assignments = {int(mid): (int(c) if c >= 0 else None)
                   for mid, c in zip(ids.tolist(), labels.tolist(), strict=True)}
    stats = {"n_messages": len(ids), "n_topics": k, "unassigned": int((labels < 0).sum())}
    store.apply_recluster(run_id, community, topics, retired, events, assignments, stats)
    counts: dict[str, int] = {}
    for e in events:
        counts[e["event"]] = counts.get(e["event"], 0) + 1
    log(f"run {run_id}: done; lineage {counts}")
    return RunSummary(run_id, len(ids), k, stats["unassigned"], counts)


STICKY_MARGIN = 0.05


def keep_previous(labels: np.ndarray, vectors: np.ndarray, centroids: np.ndarray,
                  previous: list[int | None], continued: list[int | None]) -> np.ndarray:
    """Hysteresis: a message stays in its previous topic (if that topic continues) unless
    its new cluster is clearly closer, so borderline messages do not flip between runs."""
    where = {tid: c for c, tid in enumerate(continued) if tid is not None}
    labels = labels.copy()
    for i, tid in enumerate(previous):
        c_old = where.get(tid)
        if c_old is None or labels[i] == c_old:
            continue
        sim_old = float(vectors[i] @ centroids[c_old])
        sim_new = float(vectors[i] @ centroids[labels[i]]) if labels[i] >= 0 else -1.0
        if sim_old >= sim_new - STICKY_MARGIN:
            labels[i] = c_old
    return labels


def revive_merged(labels, vectors, centroids, thresholds, previous, lineage, old: dict,
                  min_size: int, percentile: float):
    """A topic reported as merged keeps its id when enough of its previous messages are
    still closer to its own centroid than to the cluster that absorbed it: HDBSCAN joining
    two neighbouring topics in one run is not, by itself, a change an operator should see.
    """
    previous = np.array([-1 if t is None else t for t in previous])
    labels = labels.copy()
    centroids, thresholds = list(centroids), list(thresholds)
    for event in [e for e in lineage.events if e["event"] == "merged"]:
        topic_id, into = event["topic_id"], lineage.ids.index(event["related"][0])
        rows = np.flatnonzero((labels == into) & (previous == topic_id))
        own_centroid, size_before = old[topic_id]
        closer = rows[vectors[rows] @ own_centroid >= vectors[rows] @ centroids[into]]
        if closer.size < min_size:
            continue
        labels[closer] = len(centroids)
        centre = vectors[closer].mean(axis=0)
        centroids.append(centre / max(float(np.linalg.norm(centre)), 1e-12))
        thresholds.append(float(np.percentile(vectors[closer] @ centroids[-1], percentile)))
        lineage.ids.append(topic_id)
        change = (closer.size - size_before) / max(size_before, 1)
        lineage.new_events.append({
            "event": "grown" if change > SIZE_CHANGE else "shrunk" if change < -SIZE_CHANGE
            else "continued", "related": [], "size_before": size_before,
            "size_after": int(closer.size)})
        lineage.events.remove(event)
    return (labels, np.array(centroids, np.float32).reshape(len(centroids), -1),
            np.array(thresholds, np.float32))
