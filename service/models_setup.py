"""Load the models once (service, CLI, benchmarks) and prepare them on a fresh machine."""

from __future__ import annotations

import sys
import time

from service.nlp.classifier import Classifier
from service.nlp.embedder import load_embedder
from service.nlp.heads import HeadError, load_heads
from service.settings import Settings


def load_classifier(settings: Settings) -> Classifier:
    embedder = load_embedder(settings.embedder, settings.embed_threads, settings.embed_batch)
    classifier = Classifier(embedder, load_heads(settings.models_dir, embedder.name))
    classifier.classify(["warm up 预热"])  # imports and lazy set-up now, not on a request
    return classifier


def prepare(settings: Settings) -> dict:
    """Check that the embedder and every head load; rebuild the heads if they do not.

    The heads ship in models/; they are rebuilt (fetching the training data, with progress
    bars) only when missing or trained for another embedder than the configured one.
    """
    start = time.perf_counter()
    embedder = load_embedder(settings.embedder, settings.embed_threads, settings.embed_batch)
    try:
        heads = load_heads(settings.models_dir, embedder.name)
        rebuilt = False
    except HeadError as exc:
        print(f"heads need rebuilding: {exc}", file=sys.stderr)
        from training import train_all

        train_all.main()
        heads = load_heads(settings.models_dir, embedder.name)
        rebuilt = True
    classifier = Classifier(embedder, heads)
    sample = classifier.classify(["The app crashes when I log in", "登录后闪退了，怎么办？"])
    return {"models": classifier.versions, "rebuilt_heads": rebuilt,
            "seconds": round(time.perf_counter() - start, 2),
            "sample": [{"intent": p.intent, "sentiment": p.sentiment} for p in sample]}
