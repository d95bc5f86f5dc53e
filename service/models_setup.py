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
    With ``settings.demo``, an empty demo community is then loaded (service/demo.py).
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
    report = {"models": classifier.versions, "rebuilt_heads": rebuilt,
              "sample": [{"intent": p.intent, "sentiment": p.sentiment} for p in sample]}
    if settings.demo:
        report["demo"] = prepare_demo(settings, classifier)
    report["admin_key"] = prepare_admin_key(settings)
    return report | {"seconds": round(time.perf_counter() - start, 2)}


def prepare_admin_key(settings: Settings) -> dict:
    """The first admin key of a fresh database, written beside it (see README, Access)."""
    from service.auth.keys import ensure_admin_key
    from service.store import Store

    found = ensure_admin_key(Store(settings.db_path), settings.db_path.parent / "admin.key")
    if found["created"]:
        print(f"created the first admin key: {found['key_file']} (sign in to the dashboard "
              "with it; create more with `pulse keys create`)", file=sys.stderr)
    return found


def prepare_demo(settings: Settings, classifier: Classifier) -> dict:
    """Load the demo community into an empty one (with the classifier already loaded).

    A failed fetch of its data leaves the service usable: it is reported, not raised.
    """
    from tqdm import tqdm

    from service.demo import COMMUNITY, load_demo
    from service.pipeline import Pipeline
    from service.store import Store
    from training.data import DataError

    pipeline = Pipeline(classifier, Store(settings.db_path))
    present = pipeline.store.count_messages(COMMUNITY)
    if present:
        return {"community": COMMUNITY, "loaded": False, "messages": present}
    try:
        with tqdm(desc="loading the demo community", unit="msg", file=sys.stderr) as bar:
            return load_demo(pipeline, progress=bar.update)
    except DataError as exc:
        print(f"demo community not loaded: {exc}", file=sys.stderr)
        return {"community": COMMUNITY, "loaded": False, "error": str(exc)}
