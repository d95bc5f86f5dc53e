"""Keep topic ids stable across reclusters and record lineage.

Old topics are compared with new clusters on the messages of the new window (their current
topic ids come from the previous run or from assignment at ingest). A new cluster takes the
id of the old topic it matches one-to-one (Hungarian assignment on member overlap, or on
centroid similarity for topics with few members left in the window). What is left over is
named by where its members went: merged, split, new or gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MATCH_OVERLAP = 0.3  # mean of the two overlap shares needed to continue an id
MATCH_CENTROID = 0.85  # or centroid cosine, when the old topic has few members in the window
MAJORITY = 0.5
SIZE_CHANGE = 0.2  # grown / shrunk beyond this relative change


@dataclass
class Lineage:
    ids: list[int | None]  # per new cluster: the continued old id, or None (gets a new id)
    events: list[dict] = field(default_factory=list)  # old-topic events (merged, gone)
    new_events: list[dict] = field(default_factory=list)  # per new cluster: event + related


def match(old_ids: list[int], old_members: list[set[int]], old_centroids: np.ndarray,
          old_sizes: list[int], new_members: list[set[int]], new_centroids: np.ndarray) -> Lineage:
    from scipy.optimize import linear_sum_assignment

    n_old, n_new = len(old_ids), len(new_members)
    inter = np.array([[len(o & n) for n in new_members] for o in old_members], dtype=float)
    inter = inter.reshape(n_old, n_new)
    share_old = inter / np.maximum([[len(o)] for o in old_members], 1) if n_old else inter
    share_new = inter / np.maximum([len(n) for n in new_members], 1) if n_new else inter
    overlap = (share_old + share_new) / 2
    cos = old_centroids @ new_centroids.T if n_old and n_new else np.zeros((n_old, n_new))
    sparse = np.array([len(o) < 3 for o in old_members]).reshape(n_old, 1)
    score = np.where(sparse, np.where(cos >= MATCH_CENTROID, cos, 0), overlap)
    ok = np.where(sparse, cos >= MATCH_CENTROID, overlap >= MATCH_OVERLAP)

    ids: list[int | None] = [None] * n_new
    matched_old: dict[int, int] = {}
    if n_old and n_new:
        rows, cols = linear_sum_assignment(-score)
        for i, j in zip(rows, cols, strict=True):
            if ok[i, j]:
                ids[j] = old_ids[i]
                matched_old[i] = j
    lineage = Lineage(ids)
    for j in range(n_new):
        size = len(new_members[j])
        if ids[j] is not None:
            i = old_ids.index(ids[j])
            before = old_sizes[i]
            change = (size - before) / max(before, 1)
            event = "grown" if change > SIZE_CHANGE else "shrunk" if change < -SIZE_CHANGE \
                else "continued"
            lineage.new_events.append({"event": event, "related": [], "size_before": before,
                                       "size_after": size})
            continue
        sources = [old_ids[i] for i in range(n_old) if share_new[i, j] >= MAJORITY
                   and i in matched_old]
        lineage.new_events.append({"event": "split" if sources else "new", "related": sources,
                                   "size_before": None, "size_after": size})
    for i in range(n_old):
        if i in matched_old:
            continue
        into = [ids[j] for j in range(n_new) if n_new and share_old[i, j] >= MAJORITY
                and ids[j] is not None]
        lineage.events.append({"topic_id": old_ids[i], "event": "merged" if into else "gone",
                               "related": into, "size_before": old_sizes[i], "size_after": 0})
    return lineage
