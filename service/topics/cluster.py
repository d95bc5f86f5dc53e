"""Reduce (PCA) → HDBSCAN → fold outliers by their neighbours → centroids and thresholds.

HDBSCAN alone leaves many messages as noise (BERTopic users' first complaint). Here a
noise message joins a cluster when enough of its nearest clustered neighbours (cosine, in
the reduced space, which is cheap at scale and measured as good) belong to that cluster,
so only messages whose neighbourhood is split or empty stay unassigned. Centroids and
per-topic admission thresholds (a low percentile of members' similarity to their
centroid) assign new messages between reclusters.

Defaults were chosen on development data (`python -m eval.tune_topics`). Merging
clusters whose centroids are close (merge_cos) also repairs HDBSCAN's leaf selection
cutting one compact group into pieces (see tests/service/topics/test_cluster.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClusterParams:
    pca_dims: int = 20
    min_cluster_size: int = 0  # 0: chosen from the number of messages (see below)
    min_samples: int = 1
    selection: str = "leaf"  # HDBSCAN cluster_selection_method: eom | leaf
    size_divisor: int = 100  # automatic min_cluster_size = n / size_divisor
    merge_cos: float = 0.7  # merge clusters whose centroids are at least this similar
    merge_cos_cross: float = 0.5  # ... or this, when one is mostly Chinese, the other English
    fold_k: int = 15  # neighbours consulted for a noise message
    fold_share: float = 0.4  # share of them that must agree on one cluster
    fold_min_sim: float = 0.5  # neighbours less similar (reduced space) do not vote
    admit_percentile: float = 5.0  # of members' similarity to their centroid (new messages)
    small_divisor: int = 3  # second pass over the leftovers: min size = main min size / this
    max_fit: int = 20_000  # larger windows are fitted on a sample of this many messages
    max_ref: int = 5_000  # labelled sample messages the others vote against
    seed: int = 0

    def size_for(self, n: int) -> int:
        """Smallest topic worth showing: a share of the window, between 5 and 50 messages."""
        return self.min_cluster_size or int(min(50, max(5, n // self.size_divisor)))


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # (n,) cluster index or -1
    centroids: np.ndarray  # (k, d) unit vectors in the embedding space
    thresholds: np.ndarray  # (k,) admission similarity per cluster
    core: np.ndarray  # (n,) bool: chosen by HDBSCAN itself (not folded in)


def reduce(vectors: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    dims = min(dims, vectors.shape[0] - 1, vectors.shape[1])
    reduced = PCA(n_components=dims, random_state=seed).fit_transform(vectors)
    return reduced / np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-12)


def cluster(vectors: np.ndarray, params: ClusterParams = ClusterParams(),
            langs: np.ndarray | None = None) -> Clustering:
    """Cluster unit vectors; deterministic for the same input and params.

    Windows larger than ``max_fit`` are fitted on a fixed random sample (HDBSCAN's cost
    grows faster than linearly); every other message then takes its cluster by the same
    neighbour vote, against up to ``max_ref`` labelled sample messages. ``langs`` (zh, en,
    mixed per message) lets the same issue reported in two languages become one topic:
    the multilingual encoder places translations close, but less close than paraphrases.
    """
    n = vectors.shape[0]
    fit = _sample(n, params.max_fit, params.seed)
    if fit.size < 2 * params.size_for(fit.size):
        return _empty(n, vectors.shape[1])
    reduced = reduce(vectors, params.pca_dims, params.seed)
    fitted, core_fit = _fit(vectors[fit], reduced[fit], params,
                            None if langs is None else np.asarray(langs)[fit])
    labels = np.full(n, -1)
    labels[fit] = fitted
    if fit.size < n:
        rest = np.setdiff1d(np.arange(n), fit, assume_unique=True)
        ref = fit[fitted >= 0]
        ref = ref[_sample(ref.size, params.max_ref, params.seed)]
        labels[rest] = vote(reduced[rest], reduced[ref], labels[ref], params.fold_k,
                            params.fold_share, params.fold_min_sim)
    k = int(labels.max()) + 1
    if k == 0:
        return _empty(n, vectors.shape[1])
    core = np.zeros(n, bool)
    core[fit] = core_fit
    centroids, thresholds = centroids_of(vectors, labels, k, params.admit_percentile)
    return Clustering(labels, centroids, thresholds, core)


def _fit(vectors: np.ndarray, reduced: np.ndarray, params: ClusterParams, langs=None):
    """HDBSCAN → merge near-identical clusters → fold noise → small topics in the rest."""
    import hdbscan

    n = len(vectors)
    size = params.size_for(n)
    model = hdbscan.HDBSCAN(min_cluster_size=size, min_samples=min(params.min_samples, size),
                            metric="euclidean", cluster_selection_method=params.selection)
    core = merge_close(vectors, model.fit_predict(reduced.astype(np.float64)), params.merge_cos,
                       langs, params.merge_cos_cross)
    if core.max() < 0:
        return core, core >= 0
    labels = fold_noise(reduced, core, params.fold_k, params.fold_share, params.fold_min_sim)
    labels = small_topics(reduced, labels, max(5, size // params.small_divisor))
    return labels, core >= 0


def _sample(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def small_topics(reduced: np.ndarray, labels: np.ndarray, min_size: int) -> np.ndarray:
    """Re-examine what is still unassigned: dense groups too small for the main pass (a new
    issue reported a dozen times this week) become topics of their own."""
    import hdbscan

    rest = np.flatnonzero(labels < 0)
    if rest.size < 2 * min_size:
        return labels
    model = hdbscan.HDBSCAN(min_cluster_size=min_size, min_samples=min_size,
                            cluster_selection_method="eom")
    found = model.fit_predict(reduced[rest].astype(np.float64))
    found[model.probabilities_ < 0.5] = -1  # only the dense part; the fringe stays out
    labels = labels.copy()
    offset = int(labels.max()) + 1
    kept = np.unique(found[found >= 0])
    for new, old in enumerate(kept):
        labels[rest[found == old]] = offset + new
    return labels


def merge_close(vectors: np.ndarray, labels: np.ndarray, min_cos: float,
                langs: np.ndarray | None = None, cross_cos: float = 1.0) -> np.ndarray:
    """Join clusters whose centroids are close (HDBSCAN's leaf selection can cut one topic
    into pieces, and it can split one issue by language); indices renumbered 0..k-1."""
    k = int(labels.max()) + 1
    if k < 2 or min_cos >= 1.0:
        return labels
    centres = np.stack([vectors[labels == c].mean(axis=0) for c in range(k)])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    limit = np.full((k, k), min_cos)
    if langs is not None:
        main = [_main_language(langs[labels == c]) for c in range(k)]
        for a in range(k):
            for b in range(k):
                if {main[a], main[b]} == {"zh", "en"}:
                    limit[a, b] = min(min_cos, cross_cos)
    parent = list(range(k))

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    sims = centres @ centres.T
    for a, b in zip(*np.nonzero(np.triu(sims >= limit, 1)), strict=True):
        parent[root(int(b))] = root(int(a))
    roots = [root(c) for c in range(k)]
    order = {r: i for i, r in enumerate(dict.fromkeys(roots))}
    return np.array([order[roots[c]] if c >= 0 else -1 for c in labels])


def _main_language(langs: np.ndarray) -> str | None:
    """zh or en when at least 70% of a cluster's messages are in it."""
    for lang in ("zh", "en"):
        if (langs == lang).mean() >= 0.7:
            return lang
    return None


def fold_noise(vectors: np.ndarray, core: np.ndarray, k: int, share: float,
               min_sim: float = 0.0) -> np.ndarray:
    """Give a noise message the cluster most of its k nearest clustered messages share."""
    labels = core.copy()
    noise, clustered = np.flatnonzero(core < 0), np.flatnonzero(core >= 0)
    if noise.size and clustered.size:
        labels[noise] = vote(vectors[noise], vectors[clustered], core[clustered], k, share,
                             min_sim)
    return labels


def vote(queries: np.ndarray, refs: np.ndarray, ref_labels: np.ndarray, k: int, share: float,
         min_sim: float = 0.0, chunk: int = 1024) -> np.ndarray:
    """Per query: the label at least ``share`` of its k nearest references (cosine at least
    ``min_sim``) carry, else -1."""
    out = np.full(len(queries), -1)
    k = min(k, len(refs))
    if k == 0 or len(queries) == 0:
        return out
    n_labels = int(ref_labels.max()) + 1
    for start in range(0, len(queries), chunk):
        sims = queries[start : start + chunk] @ refs.T
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        votes = ref_labels[nearest]
        votes[np.take_along_axis(sims, nearest, axis=1) < min_sim] = -1
        counts = np.stack([(votes == c).sum(axis=1) for c in range(n_labels)], axis=1)
        winner = counts.argmax(axis=1)
        agreed = counts[np.arange(len(winner)), winner] >= share * k
        out[start : start + chunk][agreed] = winner[agreed]
    return out


def centroids_of(vectors, labels, k: int, percentile: float) -> tuple[np.ndarray, np.ndarray]:
    centroids = np.zeros((k, vectors.shape[1]), dtype=np.float32)
    thresholds = np.zeros(k, dtype=np.float32)
    for c in range(k):
        members = vectors[labels == c]
        centre = members.mean(axis=0)
        centroids[c] = centre / max(float(np.linalg.norm(centre)), 1e-12)
        thresholds[c] = np.percentile(members @ centroids[c], percentile)
    return centroids, thresholds


def assign(vectors: np.ndarray, centroids: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Closest centroid if the similarity reaches its threshold, else -1."""
    if len(centroids) == 0:
        return np.full(len(vectors), -1)
    sims = vectors @ centroids.T
    best = sims.argmax(axis=1)
    ok = sims[np.arange(len(vectors)), best] >= thresholds[best]
    return np.where(ok, best, -1)


def _empty(n: int, dim: int) -> Clustering:
    return Clustering(np.full(n, -1), np.zeros((0, dim), np.float32), np.zeros(0, np.float32),
                      np.zeros(n, bool))
