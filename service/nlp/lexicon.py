"""A sentiment-lexicon view of the text, added to a head's logits.

VADER (vaderSentiment 3.3.2, MIT) scores English words, emoticons, negation, intensifiers
and capitalisation from a human-rated lexicon. Its negative share, positive share and
compound score of the text, times a small weight matrix fitted on out-of-fold logits
(training/common.py ``add_lexicon_layer``), are added to the head's logits:

    logits = head_logits + B @ vader(text)

A message without any lexicon word (every Chinese message, and plain English like "the bus
leaves at noon") scores zero and keeps the head's logits unchanged. The message is still
embedded once (`python -m eval.speed` measures the heads with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

FEATURES = ("neg", "pos", "compound")


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def scores(texts: list[str]) -> np.ndarray:
    """(n, 3) VADER scores of each text, in ``FEATURES`` order."""
    analyzer = _analyzer()
    out = np.zeros((len(texts), len(FEATURES)), np.float32)
    for i, text in enumerate(texts):
        s = analyzer.polarity_scores(text)
        out[i] = [s[name] for name in FEATURES]
    return out


@dataclass(frozen=True)
class LexiconLayer:
    weights: np.ndarray  # (k, 3): per label, the weight of each lexicon score

    def logits(self, head_logits: np.ndarray, texts: list[str]) -> np.ndarray:
        return head_logits + scores(texts) @ self.weights.T

    def arrays(self) -> dict[str, np.ndarray]:
        return {"lexicon_weights": self.weights.astype(np.float32)}

    @classmethod
    def from_arrays(cls, arrays) -> LexiconLayer:
        return cls(weights=arrays["lexicon_weights"])


def fit(logits: np.ndarray, features: np.ndarray, y: np.ndarray, sample_weight: np.ndarray,
        l2: float = 1e-3) -> np.ndarray:
    """The (k, 3) weights minimising the weighted log-loss of softmax(logits + features @
    W.T) with an L2 penalty; ``y`` holds label indices."""
    from scipy.optimize import minimize

    k, m = logits.shape[1], features.shape[1]
    w_norm = sample_weight / sample_weight.sum()
    onehot = np.eye(k)[y]

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat.reshape(k, m)
        z = logits + features @ w.T
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = -(w_norm * (logp * onehot).sum(axis=1)).sum() + l2 * (w * w).sum()
        grad = ((np.exp(logp) - onehot) * w_norm[:, None]).T @ features + 2 * l2 * w
        return float(value), grad.ravel()

    result = minimize(loss, np.zeros(k * m), jac=True, method="L-BFGS-B")
    return result.x.reshape(k, m).astype(np.float32)
