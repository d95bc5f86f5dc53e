"""GET/PUT /v1/communities/{c}/redaction, and what an ingest then stores and embeds."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.conftest import message

URL = "/v1/communities/acme/redaction"
PII = "兼职日结300，加微信 abc_123 或电话 13812345678，mail hr@jobs.cn, 详情 www.jobs.cn"


@pytest.fixture
def seen(pipeline, monkeypatch):
    """Every text that reached the embedder and the heads."""
    texts = {"embed": [], "predict": []}
    embed, predict = pipeline.classifier.embed, pipeline.classifier.predict

    def spy_embed(batch):
        texts["embed"] += batch
        return embed(batch)

    def spy_predict(batch, vectors):
        texts["predict"] += batch
        return predict(batch, vectors)

    monkeypatch.setattr(pipeline.classifier, "embed", spy_embed)
    monkeypatch.setattr(pipeline.classifier, "predict", spy_predict)
    return texts


def test_off_by_default(client):
    body = client.get(URL).json()
    assert body["enabled"] is False and body["kinds"] == [] and "wechat" in body["available"]


def test_put_then_ingest_stores_and_embeds_only_the_redacted_text(client, seen, store):
    put = client.put(URL, json={"kinds": ["phone", "email", "wechat", "url"]})
    assert put.status_code == 200
    assert put.json()["kinds"] == ["email", "phone", "url", "wechat"]  # canonical order
    assert put.json()["placeholders"]["wechat"] == "[WECHAT]"
    assert client.get(URL).json()["enabled"] is True

    meta = {"contact": "boss@jobs.cn", "n": 1}
    r = client.post("/v1/messages", json={"messages": [
        message(1, text=PII, metadata=meta), message(2, community="other", text=PII)]})
    assert r.status_code == 200, r.text
    acme_id, other_id = (item["id"] for item in r.json()["items"])

    stored = client.get(f"/v1/messages/{acme_id}").json()
    expected = "兼职日结300，加微信 [WECHAT] 或电话 [PHONE]，mail [EMAIL], 详情 [URL]"
    assert stored["text"] == expected
    assert stored["metadata"] == {"contact": "[EMAIL]", "n": 1,
                                  "redacted": {"wechat": 1, "phone": 1, "email": 2, "url": 1}}
    # The embedder and the heads saw the redacted text, never the original.
    assert seen["embed"] == [expected, PII] and seen["predict"] == [expected, PII]
    # The original is nowhere in the database file's message rows.
    assert "13812345678" not in str(store.get_message(acme_id))
    # A community without the setting is stored as sent.
    assert client.get(f"/v1/messages/{other_id}").json()["text"] == PII


def test_turning_it_off_applies_at_once_and_nothing_is_rewritten(client):
    client.put(URL, json={"kinds": ["phone"]})
    first = client.post("/v1/messages", json={"message": message(1, text="call 13812345678")})
    assert client.put(URL, json={"kinds": []}).json()["enabled"] is False
    second = client.post("/v1/messages", json={"message": message(2, text="call 13812345678")})
    texts = [client.get(f"/v1/messages/{r.json()['items'][0]['id']}").json()["text"]
             for r in (first, second)]
    assert texts == ["call [PHONE]", "call 13812345678"]
    # A resent message stays a duplicate: redaction is never applied to stored rows.
    client.put(URL, json={"kinds": ["phone"]})
    again = client.post("/v1/messages", json={"message": message(2, text="call 13812345678")})
    assert again.json()["items"][0]["status"] == "duplicate"
    assert client.get(f"/v1/messages/{again.json()['items'][0]['id']}").json()["text"] == texts[1]


def test_null_turns_it_off_and_the_queue_settings_are_untouched(client, store):
    queue = client.put("/v1/communities/acme/queue-settings",
                       json={"weights": {"severity": 1.0}, "window_days": 9})
    assert queue.status_code == 200, queue.text
    client.put(URL, json={"kinds": ["email"]})
    assert client.put(URL, json={"kinds": None}).json()["enabled"] is False
    assert client.get("/v1/communities/acme/queue-settings").json()["window_days"] == 9
    # A community with only a redaction row keeps the queue defaults.
    client.put("/v1/communities/fresh/redaction", json={"kinds": ["email"]})
    assert store.queue_settings("fresh") is None
    assert client.get("/v1/communities/fresh/queue-settings").status_code == 200


def test_unknown_kinds_and_fields_are_422(client):
    r = client.put(URL, json={"kinds": ["email", "passport"]})
    assert r.status_code == 422 and "kinds" in r.text
    assert client.put(URL, json={"kinds": ["email"], "extra": 1}).status_code == 422
    assert client.get(URL).json()["enabled"] is False


@pytest.mark.parametrize("role, get_status, put_status", [
    ("admin", 200, 200), ("moderator", 200, 403), ("operator", 200, 403),
    ("ingest", 403, 403), ("bot", 403, 403)])
def test_roles(settings, pipeline, make_key, role, get_status, put_status):
    with TestClient(create_app(settings, pipeline=pipeline)) as c:
        headers = {"Authorization": f"Bearer {make_key(role, 'acme')}"}
        assert c.get(URL, headers=headers).status_code == get_status
        assert c.put(URL, json={"kinds": ["email"]}, headers=headers).status_code == put_status
        assert c.get(URL).status_code == 401


def test_a_key_for_another_community_may_not_read_or_change_it(settings, pipeline, make_key):
    with TestClient(create_app(settings, pipeline=pipeline)) as c:
        headers = {"Authorization": f"Bearer {make_key('admin', 'other')}"}
        assert c.get(URL, headers=headers).status_code == 403
        assert c.put(URL, json={"kinds": ["email"]}, headers=headers).status_code == 403
        assert pipeline.store.redaction_kinds("acme") is None


def test_api_kinds_match_the_redactor():
    from typing import get_args

    from service.api.redaction import Kind
    from service.nlp.redact import KINDS

    assert get_args(Kind) == KINDS
