"""Semantic search over a community's stored message embeddings."""

from __future__ import annotations

import numpy as np

from service.store import Store


def similar_messages(store: Store, community: str, vector: np.ndarray, limit: int,
                     exclude: int | None = None) -> list[tuple[int, float]]:
    """(message id, cosine similarity) of the closest stored messages, best first."""
    ids, vectors = store.embeddings(community)
    if ids.size == 0 or vectors.shape[1] != vector.shape[0]:
        return []
    sims = vectors @ vector
    if exclude is not None:
        sims[ids == exclude] = -np.inf
    top = np.argsort(-sims)[:limit]
    return [(int(ids[i]), round(float(sims[i]), 4)) for i in top if np.isfinite(sims[i])]
