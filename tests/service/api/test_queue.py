from datetime import UTC, datetime, timedelta

from service.store import format_ts
from tests.fakes import labelled


def ago(hours: float) -> str:
    return format_ts(datetime.now(UTC) - timedelta(hours=hours))


def seed(store):
    store.insert_messages([
        labelled("spam1", ago(3), intent="spam_ad", flags=("spam",), author="bot"),
        labelled("q1", ago(30), intent="question", author="u2"),
        labelled("chat", ago(2)),
    ])


def test_queue_lists_ranked_items_with_explanations(client, store):
    seed(store)
    page = client.get("/v1/queue", params={"community": "acme"}).json()
    assert page["total"] == 2 and page["refreshed"]["created"] == 2
    assert [i["kind"] for i in page["items"]] == ["flagged", "unanswered"]
    first = page["items"][0]
    assert first["factors"][0]["factor"] == "severity"
    assert abs(sum(f["contribution"] for f in first["factors"]) - first["priority"]) < 0.02
    only = client.get("/v1/queue", params={"community": "acme", "kind": "unanswered"}).json()
    assert [i["kind"] for i in only["items"]] == ["unanswered"]


def test_act_undo_and_history_through_the_api(client, store):
    seed(store)
    item = client.get("/v1/queue", params={"community": "acme"}).json()["items"][0]
    url = f"/v1/queue/{item['id']}/actions"
    ack = client.post(url, json={"action": "acknowledge"})
    assert ack.status_code == 201 and ack.json()["changes"] == {"status": ["open", "acknowledged"]}
    assert ack.json()["actor"] == "tester"  # the API key's name
    bad = client.post(url, json={"action": "reopen"})
    assert bad.status_code == 409 and "cannot reopen" in bad.json()["message"]
    relabel = client.post(url, json={"action": "relabel", "field": "flags",
                                     "value": []})
    assert relabel.status_code == 201
    detail = client.get(f"/v1/queue/{item['id']}").json()
    assert detail["labels"]["flags"] == [] and detail["message"]["flags"] == ["spam"]
    assert [a["action"] for a in detail["actions"]] == ["acknowledge", "relabel"]
    undo = client.post(f"/v1/queue/actions/{relabel.json()['id']}/undo", json={})
    assert undo.status_code == 201
    assert client.get(f"/v1/queue/{item['id']}").json()["labels"]["flags"] == ["spam"]
    assert client.get("/v1/feedback", params={"community": "acme"}).json()["items"] == []
    dismissed = client.get("/v1/queue", params={"community": "acme", "status": "acknowledged"})
    assert [i["id"] for i in dismissed.json()["items"]] == [item["id"]]


def test_bad_actions_are_clear_4xx(client, store):
    seed(store)
    item = client.get("/v1/queue", params={"community": "acme"}).json()["items"][0]
    url = f"/v1/queue/{item['id']}/actions"
    cases = [
        ({"actor": "ann", "action": "acknowledge"}, 422, "actor"),  # who acts is the key
        ({"action": "explode"}, 422, "action"),
        ({"action": "relabel", "field": "intent", "value": "nope"}, 422,
         "intent must be one of"),
        ({"action": "note"}, 422, "a note needs text"),
        ({"action": "acknowledge", "extra": 1}, 422, "extra"),
    ]
    for body, status, words in cases:
        r = client.post(url, json=body)
        assert r.status_code == status, body
        assert words in r.text, (body, r.text)
    assert client.post("/v1/queue/999/actions", json={"action": "note", "note": "x"}).status_code == 404
    assert client.post("/v1/queue/actions/999/undo", json={}).status_code == 404
    assert client.get("/v1/queue/999").status_code == 404
    assert client.post("/v1/messages/999/relabel",
                       json={"field": "sentiment", "value": "negative"}).status_code == 404


def test_weights_are_per_community_and_validated(client, store):
    seed(store)
    url = "/v1/communities/acme/queue-settings"
    assert client.get(url).json()["weights"]["severity"] == 3.0
    body = client.get(url).json() | {"weights": {"unanswered": 10.0, "severity": 0.1}}
    assert client.put(url, json=body).status_code == 200
    page = client.get("/v1/queue", params={"community": "acme"}).json()
    assert [i["kind"] for i in page["items"]] == ["unanswered", "flagged"]
    assert client.get("/v1/communities/other/queue-settings").json()["weights"]["severity"] == 3.0
    bad = client.put(url, json=body | {"weights": {"loudness": 1.0}})
    assert bad.status_code == 422 and "unknown factors" in bad.text
    assert client.put(url, json=body | {"weights": {"severity": -1}}).status_code == 422


def test_reads_share_a_recent_scoring_unless_forced(client, store):
    seed(store)
    assert client.get("/v1/queue", params={"community": "acme"}).json()["refreshed"] is not None
    store.insert_messages([labelled("spam2", ago(1), intent="spam_ad", flags=("spam",))])
    shared = client.get("/v1/queue", params={"community": "acme"}).json()
    assert shared["refreshed"] is None and shared["total"] == 2  # within PULSE_QUEUE_REFRESH_S
    forced = client.get("/v1/queue", params={"community": "acme", "refresh": "true"}).json()
    assert forced["refreshed"]["created"] == 1 and forced["total"] == 3
