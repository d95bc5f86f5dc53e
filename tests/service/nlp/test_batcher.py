import threading

import numpy as np

from service.nlp.batcher import MicroBatcher
from tests.fakes import fake_classifier


def test_concurrent_requests_are_batched_and_answered_in_order():
    embedder = fake_classifier().embedder
    texts = [f"text {i}" for i in range(40)]
    direct = dict(zip(texts, embedder.embed(texts), strict=True))
    calls = embedder.calls
    calls.clear()
    batcher = MicroBatcher(embedder.embed, max_batch=64, max_wait_ms=20)
    results = {}

    def ask(i):
        results[i] = batcher([f"text {i}", f"text {i + 20}"])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert len(calls) < 20 and sum(calls) == 40  # fewer model calls than requests
    for i, (a, b) in results.items():
        np.testing.assert_allclose(a, direct[f"text {i}"], rtol=1e-6)
        np.testing.assert_allclose(b, direct[f"text {i + 20}"], rtol=1e-6)


def test_errors_reach_every_waiting_request():
    def broken(texts):
        raise RuntimeError("model failed")

    batcher = MicroBatcher(broken)
    try:
        batcher(["x"])
    except RuntimeError as exc:
        assert "model failed" in str(exc)
    else:
        raise AssertionError("error not raised")
    finally:
        batcher.close()
