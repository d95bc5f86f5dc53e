from __future__ import annotations


def test_classify_one_text(client, store):
    r = client.post("/v1/classify", json={"text": "这个app又闪退了 login fails"})
    assert r.status_code == 200, r.text
    body = r.json()
    (result,) = body["results"]
    assert result["lang"] == "mixed"
    assert set(result["sentiment"]["probs"]) == {"negative", "neutral", "positive"}
    assert result["intent"]["label"] in result["intent"]["probs"]
    assert set(result["flags"]) == {"abuse", "spam"}
    for flag in result["flags"].values():
        assert flag["flagged"] == (flag["score"] >= flag["threshold"])
    assert body["models"]["embedder"] == "hash-64"
    assert store.count_messages() == 0  # stateless


def test_classify_batch_keeps_order(client):
    texts = ["hello there", "你好", "buy cheap followers now"]
    results = client.post("/v1/classify", json={"texts": texts}).json()["results"]
    assert [r["lang"] for r in results] == ["en", "zh", "en"]


def test_classify_bad_inputs(client):
    cases = [({"text": ""}, 422, "text: text is empty"), ({"texts": ["ok", " "]}, 422, "texts[1]"),
             ({"texts": []}, 422, "empty"), ({}, 422, "exactly one"),
             ({"text": "a" * 501}, 422, "limit is 500"),
             ({"texts": ["a"] * 51}, 413, "limit is 50"), ({"text": 5}, 422, "text"),
             ({"text": "x", "extra": 1}, 422, "extra")]
    for payload, status, needle in cases:
        r = client.post("/v1/classify", json=payload)
        assert r.status_code == status, (payload, r.text)
        assert needle in r.json()["message"], (payload, r.json()["message"])


def test_an_internal_failure_is_a_json_500_not_a_crash(settings, store, make_key):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.pipeline import Pipeline
    from tests.fakes import fake_classifier

    classifier = fake_classifier()

    def broken(texts):
        raise RuntimeError("model exploded")

    classifier.embedder.embed = broken
    app = create_app(settings, pipeline=Pipeline(classifier, store))
    with TestClient(app, raise_server_exceptions=False,
                    headers={"X-API-Key": make_key("bot")}) as client:
        r = client.post("/v1/classify", json={"text": "hello"})
    assert r.status_code == 500 and r.json()["error"] == "internal_error"
