"""Back-pressure: bounded in-flight requests (503 + Retry-After) and model-call timeouts."""

import threading

from fastapi.testclient import TestClient

from service.app import create_app
from service.pipeline import Pipeline
from tests.conftest import message
from tests.fakes import fake_classifier


def held_pipeline(store, release: threading.Event, **kw) -> Pipeline:
    """Its embedder waits for ``release`` (a model that is busy)."""
    classifier = fake_classifier()
    embed = classifier.embedder.embed

    def held(texts):
        release.wait(10)
        return embed(texts)

    classifier.embedder.embed = held
    return Pipeline(classifier, store, **kw)


def test_ingest_over_the_bound_is_503_with_retry_after(settings, store, make_key):
    release = threading.Event()
    app = create_app(settings.model_copy(update={"max_inflight_ingest": 1}),
                     pipeline=held_pipeline(store, release))
    with TestClient(app, headers={"X-API-Key": make_key("ingest")}) as c:
        first: dict = {}
        t = threading.Thread(target=lambda: first.update(
            r=c.post("/v1/messages", json={"message": message(1)})))
        t.start()
        while app.state.gates["ingest"].inside == 0:  # the first one is in
            threading.Event().wait(0.01)
        second = c.post("/v1/messages", json={"message": message(2)})
        assert second.status_code == 503 and second.headers["retry-after"] == "1"
        assert "at capacity" in second.json()["message"]
        release.set()
        t.join(10)
        assert first["r"].status_code == 200
        assert store.count_messages() == 1  # the refused one was not stored
        again = c.post("/v1/messages", json={"message": message(2)})
        assert again.status_code == 200 and again.json()["created"] == 1
        assert app.state.gates["ingest"].inside == 0


def test_a_model_call_past_the_timeout_is_503_and_stores_nothing(settings, store, make_key):
    release = threading.Event()
    pipeline = held_pipeline(store, release, batching=True, timeout_s=0.3)
    with TestClient(create_app(settings, pipeline=pipeline),
                    headers={"X-API-Key": make_key("admin")}) as c:
        r = c.post("/v1/messages", json={"message": message(1)})
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert "nothing was stored" in r.json()["message"]
        r = c.post("/v1/classify", json={"text": "hello"})
        assert r.status_code == 503
        release.set()
        assert store.count_messages() == 0
        ok = c.post("/v1/messages", json={"message": message(1)})
        assert ok.status_code == 200 and ok.json()["created"] == 1
