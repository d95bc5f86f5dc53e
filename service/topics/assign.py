"""Assign new messages to the current topics at ingest (nearest centroid + threshold)."""

from __future__ import annotations

import threading

import numpy as np

from service.store import Store
from service.topics.cluster import assign


class TopicAssigner:
    """Caches each community's centroids; reloads when a newer recluster run has finished
    (in this process or another, e.g. `pulse recluster` beside the server)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, tuple[int, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    def assign(self, community: str, vectors: np.ndarray) -> list[int | None]:
        run = self.store.latest_run_id(community)
        cached = self._cache.get(community)
        if cached is None or cached[0] != run:
            topics = self.store.active_topics(community)
            dim = vectors.shape[1] if vectors.ndim == 2 else 0
            cached = (run, np.array([t["id"] for t in topics], dtype=np.int64),
                      np.array([t["centroid"] for t in topics], np.float32).reshape(-1, dim),
                      np.array([t["threshold"] for t in topics], np.float32))
            with self._lock:
                self._cache[community] = cached
        _, ids, centroids, thresholds = cached
        if len(vectors) == 0 or len(ids) == 0 or centroids.shape[1] != vectors.shape[1]:
            return [None] * len(vectors)
        labels = assign(vectors, centroids, thresholds)
        return [int(ids[c]) if c >= 0 else None for c in labels]
