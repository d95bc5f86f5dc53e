"""Small, deterministic stand-ins for unit tests (the real models run in the slow suite)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from service.nlp.classifier import Classifier
from service.nlp.heads import Head, save_head

INTENTS = ("question", "bug_report", "complaint", "feature_request", "praise", "chitchat",
           "spam_ad", "abuse")


class HashEmbedder:
    """Character-trigram hashing into 64 dimensions: similar texts get similar vectors."""

    name = "hash-64"
    dim = 64

    def __init__(self) -> None:
        self.calls: list[int] = []  # batch sizes, so tests can check "embedded once"

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            padded = f"  {text.lower()}  "
            for j in range(len(padded) - 2):
                h = int(hashlib.md5(padded[j : j + 3].encode()).hexdigest()[:8], 16)
                out[i, h % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def fake_heads(models_dir: Path | None = None, embedder: str = "hash-64") -> dict[str, Head]:
    """Heads with fixed random weights over the fake embedder (saved if a folder is given)."""
    rng = np.random.default_rng(7)
    specs = {"sentiment": ("negative", "neutral", "positive"), "intent": INTENTS,
             "abuse": ("clean", "abuse"), "spam": ("clean", "spam")}
    heads = {}
    for name, labels in specs.items():
        head = Head(name=name, version="test", labels=labels, embedder=embedder,
                    weights=rng.normal(size=(len(labels), 64)).astype(np.float32),
                    bias=np.zeros(len(labels), np.float32), threshold=0.5)
        if models_dir is not None:
            save_head(models_dir / name, head)
        heads[name] = head
    return heads


def fake_classifier() -> Classifier:
    return Classifier(HashEmbedder(), fake_heads())


def labelled(external_id: str, ts: str, *, community: str = "acme", author: str = "u1",
             intent: str = "chitchat", sentiment: str = "neutral", flags: tuple = (),
             text: str | None = None, reply_to: str | None = None, thread_id: str | None = None,
             topic_id: int | None = None, confidence: float = 0.9, negative: float = 0.1):
    """A stored-message row with chosen labels, for queue and trend tests (no model run)."""
    import numpy as np

    from service.store import NewMessage

    return NewMessage(
        community=community, channel="general", author_id=author, external_id=external_id,
        text=text or f"{intent} {external_id}", ts=ts, reply_to=reply_to, thread_id=thread_id,
        metadata={}, lang="en", sentiment=sentiment,
        sentiment_probs={"negative": negative, "neutral": 1 - negative, "positive": 0.0},
        intent=intent, intent_probs={intent: confidence},
        flag_scores={f: 0.95 for f in flags} | {f: 0.01 for f in ("abuse", "spam") if f not in flags},
        flags=list(flags), models={"embedder": "x"}, embedder="x",
        embedding=np.ones(4, dtype=np.float32), topic_id=topic_id)
