"""Custom intents over the API: train, show, roll back; ingest and classify use them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.conftest import message
from tests.service.nlp.test_custom import examples

URL = "/v1/communities/acme/intents"


def test_train_show_and_roll_back(client):
    assert client.get(URL).status_code == 404
    r = client.put(URL, json={"labels": examples()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 1 and body["active"] and body["created_by"] == "tester"
    assert body["labels"] == ["account", "billing", "shipping"]
    assert body["metrics"]["cv_accuracy"] > 0.5 and body["metrics"]["n_examples"] == 27
    assert {"temperature", "uncertain_below"} <= set(body["config"])
    data = examples()
    data["refund"] = [f"refund request number {i}" for i in range(8)]
    assert client.put(URL, json={"labels": data}).json()["version"] == 2
    shown = client.get(URL).json()
    assert shown["version"] == 2 and shown["examples"]["refund"][0] == "refund request number 0"
    assert [(h["version"], h["active"]) for h in shown["history"]] == [(2, True), (1, False)]
    r = client.post(f"{URL}/activate", json={"version": 1})
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["active_version"] == 1
    assert "refund" not in client.get(URL).json()["labels"]
    old = client.get(URL, params={"version": 2}).json()
    assert old["version"] == 2 and old["active"] is False and old["active_version"] == 1
    assert client.get(URL, params={"version": 5}).status_code == 404
    r = client.post(f"{URL}/activate", json={"version": 5})
    assert r.status_code == 404 and "no custom intents version 5" in r.json()["message"]


@pytest.mark.parametrize("labels, needle", [
    ({"a": [f"a{i}" for i in range(8)]}, "at least 2 labels"),
    ({"a": [f"a{i}" for i in range(8)], "b": ["b1", "b2", "b3"]}, "label 'b' has 3 distinct"),
    ({"a": [f"x{i}" for i in range(8)], "b": [f"x{i}" for i in range(4, 12)]},
     "given under both 'a' and 'b'"),
    ({"a": [f"a{i}" for i in range(8)], "b": [f"b{i}" for i in range(7)] + ["b\x00"]},
     "control character"),
])
def test_bad_examples_are_a_422_with_reasons(client, labels, needle):
    r = client.put(URL, json={"labels": labels})
    assert r.status_code == 422, r.text
    body = r.json()
    assert needle in body["message"], body["message"]
    assert all(d["loc"][:2] == ["body", "labels"] for d in body["detail"])
    assert client.get(URL).status_code == 404  # nothing stored


def test_malformed_bodies_are_a_422(client):
    for body in ({"labels": ["a", "b"]}, {"labels": {"a": "text"}}, {}, {"labels": {}, "x": 1}):
        assert client.put(URL, json=body).status_code == 422, body


def test_ingest_stores_the_custom_intent_and_the_message_api_returns_it(client, pipeline):
    client.put(URL, json={"labels": examples()})
    pipeline.classifier.embedder.calls.clear()
    r = client.post("/v1/messages", json={"messages": [
        message(1, text="refund my payment for the invoice"),
        message(2, text="refund my payment for the invoice", community="beta")]})
    assert r.status_code == 200, r.text
    assert pipeline.classifier.embedder.calls == [2]
    acme, beta = (client.get(f"/v1/messages/{item['id']}").json() for item in r.json()["items"])
    assert acme["custom_intent"] == "billing" and acme["custom_intent_version"] == 1
    assert 0 < acme["custom_intent_prob"] <= 1
    assert beta["custom_intent"] is None and beta["custom_intent_version"] is None
    listed = client.get("/v1/messages", params={"community": "acme"}).json()["items"]
    assert listed[0]["custom_intent"] == "billing"


def test_classify_with_a_community_adds_its_custom_intent(client, pipeline):
    texts = ["lost parcel tracking", "reset password please"]
    r = client.post("/v1/classify", json={"texts": texts, "community": "acme"})
    assert r.status_code == 200 and r.json()["results"][0]["custom_intent"] is None
    client.put(URL, json={"labels": examples()})
    pipeline.classifier.embedder.calls.clear()
    results = client.post("/v1/classify", json={"texts": texts, "community": "acme"}).json()[
        "results"]
    assert pipeline.classifier.embedder.calls == [2]
    assert [x["custom_intent"]["label"] for x in results] == ["shipping", "account"]
    assert results[0]["custom_intent"]["version"] == 1
    assert set(results[0]["custom_intent"]["probs"]) == {"account", "billing", "shipping"}
    plain = client.post("/v1/classify", json={"text": "lost parcel"}).json()["results"][0]
    assert plain["custom_intent"] is None
    assert client.post("/v1/classify", json={"community": "acme"}).status_code == 422


def test_roles_and_scope(settings, pipeline, make_key):
    with TestClient(create_app(settings, pipeline=pipeline)) as app:
        def as_(role, *communities):
            return {"X-API-Key": make_key(role, *communities)}

        body = {"labels": examples()}
        for role in ("bot", "ingest", "moderator"):
            r = app.put(URL, json=body, headers=as_(role))
            assert r.status_code == 403 and f"a {role} key may not do this" in r.json()["message"]
        assert app.put(URL, json=body, headers=as_("operator", "acme")).status_code == 200
        assert app.put(URL, json=body, headers=as_("admin")).json()["version"] == 2
        assert app.get(URL, headers=as_("moderator", "acme")).status_code == 200
        assert app.get(URL, headers=as_("bot")).status_code == 403
        assert app.post(f"{URL}/activate", json={"version": 1},
                        headers=as_("moderator")).status_code == 403
        beta = as_("operator", "beta")
        assert app.put(URL, json=body, headers=beta).status_code == 403
        assert app.get(URL, headers=beta).status_code == 403
        assert app.post(f"{URL}/activate", json={"version": 1}, headers=beta).status_code == 403
        r = app.post("/v1/classify", json={"text": "hi", "community": "acme"},
                     headers=as_("bot", "beta"))
        assert r.status_code == 403 and "not for community 'acme'" in r.json()["message"]
        assert app.post("/v1/classify", json={"text": "hi", "community": "acme"},
                        headers=as_("bot", "acme")).status_code == 200
        assert app.get(URL, headers=as_("admin")).json()["version"] == 2  # nothing changed
