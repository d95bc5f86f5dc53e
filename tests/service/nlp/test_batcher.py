import threading

from service.nlp.batcher import MicroBatcher
from tests.fakes import fake_classifier


def test_concurrent_requests_are_batched_and_answered_in_order():
    classifier = fake_classifier()
    texts = [f"text {i}" for i in range(40)]
    direct = dict(zip(texts, classifier.classify(texts), strict=True))
    calls = classifier.embedder.calls
    calls.clear()
    batcher = MicroBatcher(classifier, max_batch=64, max_wait_ms=20)
    results = {}

    def ask(i):
        results[i] = batcher.classify([f"text {i}", f"text {i + 20}"])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert len(calls) < 20 and sum(calls) == 40  # fewer model calls than requests
    for i, (a, b) in results.items():
        assert a.intent_probs == direct[f"text {i}"].intent_probs
        assert b.intent_probs == direct[f"text {i + 20}"].intent_probs


def test_errors_reach_every_waiting_request():
    classifier = fake_classifier()

    def broken(texts):
        raise RuntimeError("model failed")

    classifier.embedder.embed = broken
    batcher = MicroBatcher(classifier)
    try:
        batcher.classify(["x"])
    except RuntimeError as exc:
        assert "model failed" in str(exc)
    else:
        raise AssertionError("error not raised")
    finally:
        batcher.close()
