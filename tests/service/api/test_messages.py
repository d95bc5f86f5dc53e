from __future__ import annotations

import json

from tests.conftest import message


def ingest(client, *msgs):
    return client.post("/v1/messages", json={"messages": list(msgs)})


def test_ingest_batch_stores_with_predictions(client, store):
    r = ingest(client, message(1), message(2))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] == 2 and body["duplicates"] == 0
    assert [i["status"] for i in body["items"]] == ["created", "created"]
    row = store.get_message(body["items"][0]["id"])
    assert row["external_id"] == "m1" and row["sentiment"] in ("negative", "neutral", "positive")
    assert abs(sum(row["intent_probs"].values()) - 1) < 1e-3
    assert row["ts"] == "2026-11-02T10:00:00.000000Z"


def test_single_message_form(client):
    r = client.post("/v1/messages", json={"message": message(5)})
    assert r.status_code == 200 and r.json()["created"] == 1


def test_resend_is_not_duplicated_and_says_which_are_known(client, store, pipeline):
    ingest(client, message(1), message(2))
    calls_before = len(pipeline.classifier.embedder.calls)
    r = ingest(client, message(2), message(3), message(3))
    assert [i["status"] for i in r.json()["items"]] == ["duplicate", "created", "duplicate"]
    assert r.json()["items"][1]["id"] == r.json()["items"][2]["id"]
    assert store.count_messages() == 3
    # only the one new text was embedded
    assert pipeline.classifier.embedder.calls[calls_before:] == [1]


def test_same_external_id_in_other_community_is_distinct(client, store):
    ingest(client, message(1), message(1, community="other"))
    assert store.count_messages() == 2


def test_invalid_item_rejects_whole_batch_and_names_it(client, store):
    r = ingest(client, message(1), message(2, text="   "), message(3))
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_input"
    assert "messages[1].text" in body["message"] and "empty" in body["message"]
    assert store.count_messages() == 0


def test_bad_inputs_get_4xx_with_reason(client, store):
    cases = {
        "unknown field": ({"messages": [message(1, colour="red")]}, 422, "messages[0].colour"),
        "wrong type": ({"messages": [message(1, text=123)]}, 422, "messages[0].text"),
        "bad timestamp": ({"messages": [message(1, ts="yesterday-ish")]}, 422, "messages[0].ts"),
        "ancient timestamp": ({"messages": [message(1, ts="1901-01-01T00:00:00Z")]}, 422, "range"),
        "control char": ({"messages": [message(1, text="hi\x00there")]}, 422, "U+0000"),
        "too long": ({"messages": [message(1, text="x" * 501)]}, 422, "limit is 500"),
        "over batch": ({"messages": [message(i) for i in range(51)]}, 413, "limit is 50"),
        "both forms": ({"message": message(1), "messages": [message(2)]}, 422, "exactly one"),
        "empty batch": ({"messages": []}, 422, "empty"),
        "missing field": ({"messages": [{"text": "hi"}]}, 422, "community"),
        "not an object": ([1, 2], 422, "body"),
    }
    for name, (payload, status, needle) in cases.items():
        r = client.post("/v1/messages", json=payload)
        assert r.status_code == status, (name, r.text)
        assert needle in r.json()["message"], (name, r.json()["message"])
    assert store.count_messages() == 0


def test_non_utf8_and_non_json_bodies(client):
    for raw in (b'{"messages": [\xff\xfe]}', b"not json", b""):
        r = client.post("/v1/messages", content=raw, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (raw, r.text)
        assert r.json()["message"]


def test_ten_megabyte_body_is_refused(client):
    big = json.dumps({"messages": [message(1, text="x" * 10_000_000)]})
    r = client.post("/v1/messages", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["message"]


def test_list_filters_and_pagination(client):
    ingest(client, *[message(i) for i in range(1, 13)])
    ingest(client, message(20, channel="random", community="acme"))
    page = client.get("/v1/messages", params={"community": "acme", "limit": 5}).json()
    assert len(page["items"]) == 5 and page["next_cursor"]
    seen = [m["id"] for m in page["items"]]
    while page["next_cursor"]:
        page = client.get("/v1/messages", params={"community": "acme", "limit": 5,
                                                  "cursor": page["next_cursor"]}).json()
        seen += [m["id"] for m in page["items"]]
    assert len(seen) == len(set(seen)) == 13
    random = client.get("/v1/messages", params={"channel": "random"}).json()["items"]
    assert [m["external_id"] for m in random] == ["m20"]
    window = client.get("/v1/messages", params={"since": "2026-11-05T00:00:00Z",
                                                "until": "2026-11-07T00:00:00Z"}).json()["items"]
    assert sorted(m["ts"][:10] for m in window) == ["2026-11-05", "2026-11-06"]
    any_msg = client.get("/v1/messages").json()["items"][0]
    for key in ("sentiment", "intent"):
        got = client.get("/v1/messages", params={key: any_msg[key]}).json()["items"]
        assert got and all(m[key] == any_msg[key] for m in got)


def test_flag_filter(client, store):
    ingest(client, *[message(i) for i in range(1, 30)])
    flagged = client.get("/v1/messages", params={"flag": "spam", "limit": 500}).json()["items"]
    assert all("spam" in m["flags"] for m in flagged)
    total = sum(1 for m in client.get("/v1/messages", params={"limit": 500}).json()["items"]
                if "spam" in m["flags"])
    assert len(flagged) == total


def test_list_rejects_bad_query(client):
    assert client.get("/v1/messages", params={"cursor": "nonsense"}).status_code == 422
    assert client.get("/v1/messages", params={"limit": 0}).status_code == 422
    assert client.get("/v1/messages", params={"sentiment": "angry"}).status_code == 422
    assert client.get("/v1/messages", params={"since": "not-a-date"}).status_code == 422


def test_get_one_and_404(client):
    mid = ingest(client, message(1)).json()["items"][0]["id"]
    assert client.get(f"/v1/messages/{mid}").json()["external_id"] == "m1"
    r = client.get("/v1/messages/999999")
    assert r.status_code == 404 and "999999" in r.json()["message"]
