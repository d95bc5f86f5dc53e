"""Small classifier heads over the message embedding, stored as self-describing folders.

A head folder holds ``config.json`` (labels, embedder, version, threshold), ``weights.npz``
(a softmax layer over the embedding, optionally mixed with a character n-gram layer over
the text, plus a sentiment-lexicon layer), ``metrics.json`` and ``MODEL_CARD.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.nlp.charngrams import CharNgramLayer
from service.nlp.lang import detect_language
from service.nlp.lexicon import FEATURES as LEXICON_FEATURES
from service.nlp.lexicon import LexiconLayer

HEAD_NAMES = ("sentiment", "intent", "abuse", "spam")


class HeadError(RuntimeError):
    """A head artifact is missing, malformed, or built for another embedder."""


@dataclass(frozen=True)
class Head:
    name: str
    version: str
    labels: tuple[str, ...]
    embedder: str
    weights: np.ndarray  # (k, d)
    bias: np.ndarray  # (k,)
    threshold: float = 0.5  # flags: score at or above which the flag is raised
    temperature: float = 1.0  # logits are divided by it (fitted on validation data)
    uncertain_below: float = 0.0  # labels: below this top probability, say "uncertain"
    chars: CharNgramLayer | None = None  # optional text layer ...
    mix: float = 1.0  # ... logits = mix * embedding logits + (1 - mix) * text logits
    # ... or, for a message whose language (service/nlp/lang.py) is listed, that weight
    mix_by_lang: dict[str, float] = field(default_factory=dict)
    lexicon: LexiconLayer | None = None  # optional: lexicon scores added to the logits
    extra: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.weights.shape[1])

    def raw_logits(self, vectors: np.ndarray, texts: list[str] | None = None,
                   ngram_counts=None, langs: list[str] | None = None) -> np.ndarray:
        """``ngram_counts`` and ``langs`` (service/nlp/lang.py), when the caller already has
        them for every head, spare hashing and detecting the texts again."""
        logits = vectors @ self.weights.T + self.bias
        if self.chars is not None and (self.mix < 1.0 or self.mix_by_lang):
            if texts is None and (ngram_counts is None or (self.mix_by_lang and langs is None)):
                raise ValueError(f"head {self.name!r} also reads the text: pass texts")
            mix = self.mixes(texts, langs) if self.mix_by_lang else self.mix
            logits = mix * logits + (1 - mix) * self.chars.logits(texts, ngram_counts)
        if self.lexicon is not None:
            if texts is None:
                raise ValueError(f"head {self.name!r} also reads the text: pass texts")
            logits = self.lexicon.logits(logits, texts)
        return logits

    def mixes(self, texts: list[str] | None, langs: list[str] | None = None) -> np.ndarray:
        """The embedding weight of each text, as a column: its language's, else ``mix``."""
        langs = langs if langs is not None else [detect_language(t) for t in texts]
        return np.array([[self.mix_by_lang.get(lang, self.mix)] for lang in langs])

    def predict_proba(self, vectors: np.ndarray, texts: list[str] | None = None,
                      ngram_counts=None, langs: list[str] | None = None) -> np.ndarray:
        logits = self.raw_logits(vectors, texts, ngram_counts, langs) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def save_head(folder: Path, head: Head) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "name": head.name,
        "version": head.version,
        "labels": list(head.labels),
        "embedder": head.embedder,
        "dim": head.dim,
        "threshold": head.threshold,
        "temperature": head.temperature,
        "uncertain_below": head.uncertain_below,
        "mix": head.mix,
        **({"mix_by_lang": head.mix_by_lang} if head.mix_by_lang else {}),
        "kind": "softmax-linear" + ("+char-ngrams" if head.chars is not None else "")
                + ("+lexicon" if head.lexicon is not None else ""),
        **head.extra,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    np.savez_compressed(
        folder / "weights.npz",
        weights=head.weights.astype(np.float32),
        bias=head.bias.astype(np.float32),
        **(head.chars.arrays() if head.chars is not None else {}),
        **(head.lexicon.arrays() if head.lexicon is not None else {}),
    )


def load_head(folder: Path) -> Head:
    try:
        config = json.loads((folder / "config.json").read_text())
        with np.load(folder / "weights.npz") as arrays:
            weights, bias = arrays["weights"], arrays["bias"]
            chars = CharNgramLayer.from_arrays(arrays) if "char_weights" in arrays else None
            lexicon = LexiconLayer.from_arrays(arrays) if "lexicon_weights" in arrays else None
    except (OSError, KeyError, ValueError) as exc:
        raise HeadError(f"cannot load head from {folder}: {exc}") from exc
    known = {"name", "version", "labels", "embedder", "dim", "threshold", "kind", "temperature",
             "uncertain_below", "mix", "mix_by_lang"}
    head = Head(
        name=config["name"],
        version=config["version"],
        labels=tuple(config["labels"]),
        embedder=config["embedder"],
        weights=weights,
        bias=bias,
        threshold=float(config.get("threshold", 0.5)),
        temperature=float(config.get("temperature", 1.0)),
        uncertain_below=float(config.get("uncertain_below", 0.0)),
        chars=chars,
        mix=float(config.get("mix", 1.0)),
        mix_by_lang={k: float(v) for k, v in config.get("mix_by_lang", {}).items()},
        lexicon=lexicon,
        extra={k: v for k, v in config.items() if k not in known},
    )
    if weights.shape != (len(head.labels), config["dim"]) or bias.shape != (len(head.labels),):
        raise HeadError(f"{folder}: weights do not match labels/dim in config.json")
    k = len(head.labels)
    if lexicon is not None and lexicon.weights.shape != (k, len(LEXICON_FEATURES)):
        raise HeadError(f"{folder}: lexicon layer does not match the labels in config.json")
    return head


def load_heads(models_dir: Path, embedder_name: str) -> dict[str, Head]:
    """Load every head and check it was trained on this embedder's vector space."""
    heads = {}
    for name in HEAD_NAMES:
        head = load_head(models_dir / name)
        if head.embedder != embedder_name:
            raise HeadError(
                f"head {name!r} was trained for embedder {head.embedder!r} but the service "
                f"uses {embedder_name!r}: retrain with `python -m training.train_all`"
            )
        heads[name] = head
    return heads


def choose_uncertain(probs: np.ndarray, y: np.ndarray, min_coverage: float = 0.6) -> float:
    """The "uncertain" cut on the calibrated top probability (``uncertain_below``).

    The lowest cut whose answered examples halve the error rate while at least
    ``min_coverage`` of them are answered; if none does, the cut with the best accuracy
    among those answering that many. Used by the built-in heads (validation data) and the
    custom intent heads (out-of-fold predictions).
    """
    top, correct = probs.max(axis=1), probs.argmax(axis=1) == y
    target = min(0.95, correct.mean() + (1 - correct.mean()) / 2)
    best_t, best_acc = 0.0, float(correct.mean())
    for t in np.round(np.arange(0.3, 0.96, 0.05), 2):
        kept = top >= t
        if kept.mean() < min_coverage:
            break
        acc = float(correct[kept].mean())
        if acc >= target:
            return float(t)
        if acc > best_acc:
            best_t, best_acc = float(t), acc
    return best_t
