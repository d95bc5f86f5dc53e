"""The alert worker inside the running app: end to end from ingest to a real receiver, and
ingest never waiting on a receiver that hangs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.alerts.deliver import verify
from service.alerts.subscriptions import subscribe
from service.alerts.worker import run_once
from service.app import create_app
from service.settings import Settings
from service.store import Store, format_ts
from tests.fakes import HashEmbedder, labelled
from tests.service.alerts.conftest import Reply, wait_until

BATTERY = [f"battery drains fast after the update, phone {i}" for i in range(8)]


@pytest.fixture
def fast_settings(tmp_path) -> Settings:
    return Settings(db_path=tmp_path / "alerts.db", public_url="https://pulse.example.org",
                    alerts_interval_s=0.1, alerts_backoff_s=0.05, alerts_timeout_s=30,
                    rate_limit_rps=10_000, rate_limit_burst=10_000)


@pytest.fixture
def app_client(fast_settings, pipeline, make_key):
    with TestClient(create_app(fast_settings, pipeline=pipeline),
                    headers={"Authorization": f"Bearer {make_key('admin', name='tester')}"}) as c:
        yield c


def battery_topic(store: Store) -> int:
    """A topic whose centroid the fake embedder puts the battery messages next to."""
    vectors = HashEmbedder().embed(BATTERY)
    centroid = vectors.mean(axis=0) / np.linalg.norm(vectors.mean(axis=0))
    now = datetime.now(UTC)
    run = store.start_run("acme", format_ts(now - timedelta(days=30)), format_ts(now), {})
    ids = store.apply_recluster(
        run, "acme", [{"id": None, "label": "battery drain", "keywords": ["battery", "drains"],
                       "representatives": [], "centroid": centroid, "threshold": 0.9, "size": 0}],
        [], [], {}, {"n_messages": 0, "n_topics": 1, "unassigned": 0})
    return ids[0]


def test_an_emerging_topic_reaches_the_receiver(app_client, store, receiver):
    topic = battery_topic(store)
    made = app_client.post("/v1/alerts/subscriptions", json={
        "community": "acme", "events": ["topic_spiking"], "url": receiver.url})
    assert made.status_code == 201
    secret = made.json()["secret"]
    now = datetime.now(UTC)
    r = app_client.post("/v1/messages", json={"messages": [
        {"community": "acme", "channel": "help", "author_id": f"u{i}", "external_id": f"b{i}",
         "text": text, "ts": format_ts(now - timedelta(hours=i + 1))}
        for i, text in enumerate(BATTERY)]})
    assert r.status_code == 200 and r.json()["created"] == 8
    (got,) = receiver.wait_for(1)
    assert verify(secret, got.body, got.headers["x-pulse-timestamp"], got.headers["x-pulse-signature"])
    body = got.json()
    week = f"{now.isocalendar()[0]}-W{now.isocalendar()[1]:02d}"
    assert got.headers["x-pulse-event"] == "topic_spiking"
    assert body["event_id"] == f"topic_spiking:{topic}:{week}"
    assert body["title"] == "Topic emerging in acme: battery drain"
    assert body["url"] == f"https://pulse.example.org/dashboard/acme/topics/{topic}"
    assert body["data"]["messages_7d"] == 8 and body["data"]["kind"] == "emerging"
    log = wait_until(lambda: [d for d in app_client.get(
        "/v1/alerts/deliveries", params={"community": "acme"}).json()["items"]
        if d["status"] == "delivered"])
    assert log[0]["event_id"] == body["event_id"] and log[0]["attempts"] == 1
    time.sleep(0.3)  # a few more evaluations: the same event is not sent again
    assert len(receiver.requests) == 1


def test_a_hanging_receiver_does_not_block_ingest(fast_settings, pipeline, make_key, store,
                                                  receiver):
    receiver.reply(Reply(hang=True))
    client = TestClient(create_app(fast_settings, pipeline=pipeline),
                        headers={"Authorization": f"Bearer {make_key('admin')}"})
    with client:
        sub = client.post("/v1/alerts/subscriptions", json={
            "community": "acme", "events": ["queue_item"], "min_priority": 0,
            "url": receiver.url}).json()
        ping = client.post(f"/v1/alerts/subscriptions/{sub['id']}/test").json()
        receiver.wait_for(1)  # the worker is now waiting on the receiver (30 s timeout)
        now = datetime.now(UTC)
        start = time.perf_counter()
        r = client.post("/v1/messages", json={"messages": [
            {"community": "acme", "channel": "c", "author_id": f"u{i}", "external_id": f"x{i}",
             "text": f"you are all idiots {i}", "ts": format_ts(now - timedelta(minutes=i))}
            for i in range(20)]})
        elapsed = time.perf_counter() - start
        assert r.status_code == 200 and r.json()["created"] == 20
        assert elapsed < 2.0, f"ingest took {elapsed:.2f} s while a receiver hung"
        row = client.get(f"/v1/alerts/deliveries/{ping['id']}").json()
        assert row["status"] == "pending" and row["attempts"] == 0  # still in flight
        start = time.perf_counter()
    assert time.perf_counter() - start < 5  # shutting down does not wait 30 s either


def test_run_once_evaluates_and_delivers(store, receiver, fast_settings):
    sub, _ = subscribe(store, "acme", ["weekly_report"], receiver.url, target="discord")
    last_week = datetime.now(UTC) - timedelta(days=7)
    store.insert_messages([labelled(f"w{i}", format_ts(last_week.replace(hour=0) + timedelta(
        days=-last_week.weekday(), hours=10 + i))) for i in range(5)])
    assert run_once(store, fast_settings) == {"queued": 1, "delivered": 1}
    assert run_once(store, fast_settings) == {"queued": 0}
    (got,) = receiver.wait_for(1)
    assert got.json()["embeds"][0]["url"].startswith(
        "https://pulse.example.org/dashboard/acme/report?week=")
