"""Embed once, run every head on the same vectors.

The classifier is built once at start-up (models loaded, then injected) and shared by
the classify endpoint, the ingest pipeline, the importer and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.nlp.charngrams import counts
from service.nlp.embedder import Embedder
from service.nlp.heads import Head
from service.nlp.lang import detect_language

FLAG_HEADS = ("abuse", "spam")
UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class Prediction:
    lang: str
    sentiment: str
    sentiment_probs: dict[str, float]
    intent: str
    intent_probs: dict[str, float]
    flag_scores: dict[str, float]
    flags: list[str]  # flags whose score reached the head's threshold


class Classifier:
    def __init__(self, embedder: Embedder, heads: dict[str, Head]) -> None:
        self.embedder = embedder
        self.heads = heads

    @property
    def versions(self) -> dict[str, str]:
        return {"embedder": self.embedder.name} | {
            name: f"{head.name}@{head.version}" for name, head in self.heads.items()
        }

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts)

    def predict(self, texts: list[str], vectors: np.ndarray) -> list[Prediction]:
        """Heads on already-computed vectors (one matrix product per head)."""
        if not texts:
            return []
        grams = (counts(texts) if any(h.chars is not None for h in self.heads.values())
                 else None)  # hashed once for every head that reads the text
        langs = [detect_language(t) for t in texts]  # detected once, for heads and answer
        probs = {name: head.predict_proba(vectors, texts, grams, langs)
                 for name, head in self.heads.items()}
        sentiment, intent = self.heads["sentiment"], self.heads["intent"]
        out = []
        for i in range(len(texts)):
            scores = {f: round(float(probs[f][i, 1]), 4) for f in FLAG_HEADS}
            out.append(
                Prediction(
                    lang=langs[i],
                    sentiment=_label(sentiment, probs["sentiment"][i]),
                    sentiment_probs=_named(sentiment.labels, probs["sentiment"][i]),
                    intent=_label(intent, probs["intent"][i]),
                    intent_probs=_named(intent.labels, probs["intent"][i]),
                    flag_scores=scores,
                    flags=[f for f in FLAG_HEADS if scores[f] >= self.heads[f].threshold],
                )
            )
        return out

    def classify(self, texts: list[str]) -> list[Prediction]:
        return self.predict(texts, self.embed(texts))


def _label(head: Head, row: np.ndarray) -> str:
    """The arg-max label, or "uncertain" when the head is not confident enough."""
    best = int(row.argmax())
    return head.labels[best] if row[best] >= head.uncertain_below else UNCERTAIN


def _named(labels: tuple[str, ...], row: np.ndarray) -> dict[str, float]:
    return {label: round(float(p), 4) for label, p in zip(labels, row, strict=True)}
