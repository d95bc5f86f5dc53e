"""A character n-gram view of the text, mixed into a head beside the embedding.

Hashed character 1–3-grams (word-bounded, lower-cased) with sublinear TF-IDF and a linear
layer. It reads surface forms the sentence embedding smooths away (product words, spam
patterns, Chinese review vocabulary) and costs tens of microseconds per message, so the
message is still embedded only once. Only the hashed features seen in training are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

N_FEATURES = 2**20


@lru_cache(maxsize=1)
def _hasher():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(analyzer="char_wb", ngram_range=(1, 3), n_features=N_FEATURES,
                             alternate_sign=False, norm=None, lowercase=True)


def counts(texts: list[str]):
    """Sparse (n, N_FEATURES) n-gram counts."""
    if not texts:  # the hasher raises StopIteration on an empty list
        import scipy.sparse as sp

        return sp.csr_matrix((0, N_FEATURES))
    return _hasher().transform(texts)


@dataclass(frozen=True)
class CharNgramLayer:
    features: np.ndarray  # (u,) sorted hashed feature ids kept from training
    idf: np.ndarray  # (u,)
    weights: np.ndarray  # (k, u)
    bias: np.ndarray  # (k,)

    def _tfidf(self, texts: list[str] | None, x) -> tuple[int, np.ndarray, np.ndarray,
                                                           np.ndarray]:
        """(rows, row ids, kept-feature columns, L2-normalised sublinear TF-IDF values) of
        the texts' n-grams; ``x``: their counts, when already computed for another head."""
        x = (counts(texts) if x is None else x).tocsr()
        n = x.shape[0]
        if x.nnz == 0:
            empty = np.empty(0, np.int64)
            return n, empty, empty, np.empty(0, np.float32)
        pos = np.minimum(np.searchsorted(self.features, x.indices), len(self.features) - 1)
        keep = self.features[pos] == x.indices
        rows = np.repeat(np.arange(n), np.diff(x.indptr))[keep]
        cols = pos[keep]
        vals = (1 + np.log(x.data[keep])) * self.idf[cols]
        norms = np.sqrt(np.bincount(rows, vals * vals, minlength=n))
        return n, rows, cols, vals / np.maximum(norms[rows], 1e-12)

    def features_of(self, texts: list[str] | None = None, x=None):
        """The TF-IDF rows as a scipy CSR matrix (for training)."""
        import scipy.sparse as sp

        n, rows, cols, vals = self._tfidf(texts, x)
        return sp.csr_matrix((vals, (rows, cols)), shape=(n, len(self.features)))

    def logits(self, texts: list[str] | None = None, x=None) -> np.ndarray:
        """``features_of(...) @ weights.T + bias`` in plain numpy: on the hot path building
        a scipy matrix per request costs more than the arithmetic."""
        n, rows, cols, vals = self._tfidf(texts, x)
        out = np.tile(self.bias, (n, 1)).astype(np.float32)
        if rows.size:
            contrib = vals[:, None] * self._weights_t[cols]  # (nnz, k)
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            out[rows[starts]] += np.add.reduceat(contrib, starts, axis=0)
        return out

    @property
    def _weights_t(self) -> np.ndarray:
        cached = self.__dict__.get("_wt")
        if cached is None:
            cached = np.ascontiguousarray(self.weights.T)
            object.__setattr__(self, "_wt", cached)
        return cached

    def arrays(self) -> dict[str, np.ndarray]:
        return {"char_features": self.features.astype(np.int64), "char_idf": self.idf,
                "char_weights": self.weights.astype(np.float16), "char_bias": self.bias}

    @classmethod
    def from_arrays(cls, arrays) -> CharNgramLayer:
        return cls(arrays["char_features"], arrays["char_idf"].astype(np.float32),
                   arrays["char_weights"].astype(np.float32),
                   arrays["char_bias"].astype(np.float32))


def fit_idf(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(kept feature ids, smoothed idf) from training texts; features seen in ≥ 2 texts."""
    x = counts(texts).tocsc()
    df = np.diff(x.indptr)
    features = np.flatnonzero(df >= 2)
    idf = np.log((1 + len(texts)) / (1 + df[features])) + 1
    return features, idf.astype(np.float32)


def tfidf_rows(features: np.ndarray, idf: np.ndarray, texts: list[str]):
    """The TF-IDF rows (scipy CSR) of ``texts`` over kept ``features``: what a layer's
    weights are fitted on, before there are any."""
    empty = np.zeros((0, len(features)), np.float32)
    return CharNgramLayer(features, idf, empty, np.zeros(0, np.float32)).features_of(texts)
