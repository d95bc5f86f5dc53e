"""Alert subscriptions and the delivery log over the API (admin keys only)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.alerts.deliver import verify
from tests.service.alerts.conftest import Receiver, wait_until


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def create(client, url: str, **over):
    body = {"community": "acme", "events": ["queue_item", "weekly_report"], "url": url} | over
    return client.post("/v1/alerts/subscriptions", json=body)


def test_create_shows_the_secret_once_and_lists_without_it(client):
    r = create(client, "https://hooks.slack.com/services/T0/B0/tokentoken", target="slack",
               name="#mods", min_priority=80)
    assert r.status_code == 201
    made = r.json()
    assert made["secret"].startswith("whsec_")
    assert made["url"] == "https://hooks.slack.com/…"
    assert made["events"] == ["queue_item", "weekly_report"] and made["min_priority"] == 80
    assert made["sentiment_below"] is None and made["active"] and made["target"] == "slack"
    listed = client.get("/v1/alerts/subscriptions", params={"community": "acme"}).json()["items"]
    assert [s["id"] for s in listed] == [made["id"]]
    assert "secret" not in listed[0] and "tokentoken" not in str(listed)
    one = client.get(f"/v1/alerts/subscriptions/{made['id']}").json()
    assert "secret" not in one and one["name"] == "#mods"
    given = create(client, "http://127.0.0.1:9/x", secret="my-own-secret-1234").json()
    assert given["secret"] == "my-own-secret-1234"


@pytest.mark.parametrize("over, where", [
    ({"events": ["nope"]}, "events[0]"),
    ({"events": []}, "events"),
    ({"target": "email"}, "target"),
    ({"secret": "short"}, "secret"),
    ({"min_priority": 120}, "min_priority"),
    ({"colour": "red"}, "colour"),
])
def test_bad_subscriptions_are_422_with_the_reason(client, over, where):
    r = create(client, "http://127.0.0.1:9/x", **over)
    assert r.status_code == 422 and where in r.json()["message"], r.json()


def test_a_url_must_be_http(client):
    r = create(client, "ftp://example.com/hook")
    assert r.status_code == 422 and "http:// or https://" in r.json()["message"]


def test_disable_keeps_the_row_and_is_idempotent(client):
    made = create(client, "http://127.0.0.1:9/x").json()
    gone = client.delete(f"/v1/alerts/subscriptions/{made['id']}")
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert gone.json()["disabled_at"]
    assert client.get("/v1/alerts/subscriptions").json()["items"] == []
    kept = client.get("/v1/alerts/subscriptions", params={"include_inactive": True}).json()
    assert [s["id"] for s in kept["items"]] == [made["id"]]
    again = client.delete(f"/v1/alerts/subscriptions/{made['id']}").json()
    assert again["disabled_at"] == gone.json()["disabled_at"]
    assert client.post(f"/v1/alerts/subscriptions/{made['id']}/test").status_code == 409
    assert client.delete("/v1/alerts/subscriptions/999").status_code == 404
    assert client.get("/v1/alerts/deliveries/999").status_code == 404


def test_a_test_alert_is_delivered_signed_logged_and_counted(client, receiver):
    made = create(client, receiver.url).json()
    r = client.post(f"/v1/alerts/subscriptions/{made['id']}/test")
    assert r.status_code == 202 and r.json()["status"] == "pending"
    (got,) = receiver.wait_for(1)  # the worker was woken: no need to wait for its interval
    assert verify(made["secret"], got.body, got.headers["x-pulse-timestamp"],
                  got.headers["x-pulse-signature"])
    assert got.json()["url"] == "http://127.0.0.1:8000/dashboard/acme/queue"
    row = wait_until(lambda: (d := client.get(f"/v1/alerts/deliveries/{r.json()['id']}").json())
                     ["status"] == "delivered" and d)
    assert row["attempts"] == 1 and row["status_code"] == 200 and row["delivered_at"]
    assert row["payload"]["event_id"] == got.headers["x-pulse-event-id"]

    def counted():  # the counter moves just after the row is written: wait for it too
        metrics = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
        return [s for s in metrics["pulse_alert_deliveries"].samples if s.name.endswith("_total")]

    (sample,) = wait_until(counted)
    assert sample.labels == {"target": "webhook", "outcome": "delivered"} and sample.value == 1


def test_the_delivery_log_filters_and_pages(client, receiver):
    made = create(client, receiver.url).json()
    ids = [client.post(f"/v1/alerts/subscriptions/{made['id']}/test").json()["id"]
           for _ in range(3)]
    page = client.get("/v1/alerts/deliveries", params={"community": "acme", "limit": 2}).json()
    assert [d["id"] for d in page["items"]] == ids[::-1][:2] and page["next_before"] == ids[1]
    rest = client.get("/v1/alerts/deliveries", params={"community": "acme", "limit": 2,
                                                       "before": page["next_before"]}).json()
    assert [d["id"] for d in rest["items"]] == [ids[0]] and rest["next_before"] is None
    assert client.get("/v1/alerts/deliveries", params={"community": "other"}).json()["items"] == []
    assert client.get("/v1/alerts/deliveries").status_code == 422  # community is required


def test_only_admin_keys_of_the_community(client, make_key):
    made = create(client, "http://127.0.0.1:9/x").json()
    for role in ("bot", "ingest", "moderator", "operator"):
        r = client.get("/v1/alerts/subscriptions", headers={"Authorization": f"Bearer {make_key(role)}"})
        assert r.status_code == 403, role
    beta = {"Authorization": f"Bearer {make_key('admin', 'beta')}"}
    assert client.get(f"/v1/alerts/subscriptions/{made['id']}", headers=beta).status_code == 404
    assert client.get("/v1/alerts/subscriptions", headers=beta).json()["items"] == []
    r = client.post("/v1/alerts/subscriptions", headers=beta, json={
        "community": "acme", "events": ["weekly_report"], "url": "http://127.0.0.1:9/x"})
    assert r.status_code == 403
    assert client.get("/v1/alerts/deliveries", params={"community": "acme"},
                      headers=beta).status_code == 403
