"""Delivery against a real HTTP receiver on loopback: signatures, retries, the log."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from service.alerts.deliver import (
    DeliveryConfig,
    deliver_due,
    next_delay,
    parse_retry_after,
    sign,
    verify,
)
from service.alerts.subscriptions import subscribe
from service.alerts.worker import new_client, queue_ping
from service.store import Store, format_ts
from tests.service.alerts.conftest import SECRET, Receiver, Reply, wait_until

FAST = DeliveryConfig(timeout_s=2.0, max_attempts=4, backoff_s=0.05)


def ping(store: Store, url: str, target: str = "webhook") -> tuple[dict, int]:
    sub, _ = subscribe(store, "acme", ["topic_spiking"], url, target=target, secret=SECRET)
    return sub, queue_ping(store, sub, "http://pulse.example")


def drain(store: Store, config: DeliveryConfig = FAST, timeout: float = 10.0) -> dict:
    """Deliver until nothing is due within ``timeout`` (retries come due after their
    backoff; a leased or Retry-After row further off is left alone)."""
    counts: dict[str, int] = {}
    deadline = time.monotonic() + timeout

    def soon() -> bool:
        due = store.next_due()
        return due is not None and due <= format_ts(datetime.now(UTC) + timedelta(seconds=timeout))

    with new_client(config) as client:
        while soon() and time.monotonic() < deadline:
            for k, v in deliver_due(store, client, config).items():
                counts[k] = counts.get(k, 0) + v
            time.sleep(0.01)
    return counts


def test_sign_and_verify():
    body, ts = b'{"event":"test"}', int(time.time())
    signature = sign(SECRET, ts, body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify(SECRET, body, str(ts), signature)
    assert not verify("another-secret-of-16", body, str(ts), signature)
    assert not verify(SECRET, body + b" ", str(ts), signature)
    assert not verify(SECRET, body, str(ts + 1), signature)  # a timestamp is signed too
    assert not verify(SECRET, body, str(ts), signature, now=ts + 301)  # replayed later
    assert verify(SECRET, body, str(ts), signature, now=ts + 299)
    assert not verify(SECRET, body, None, signature) and not verify(SECRET, body, "x", signature)


def test_a_delivery_is_signed_and_verifies_at_the_receiver(store, receiver):
    sub, delivery_id = ping(store, receiver.url)
    assert drain(store) == {"delivered": 1}
    (got,) = receiver.wait_for(1)
    h = got.headers
    assert got.path == "/hook/token-part"
    assert h["content-type"].startswith("application/json")
    assert h["x-pulse-event"] == "test" and h["x-pulse-event-id"].startswith("test:")
    assert got.json()["event_id"] == h["x-pulse-event-id"]
    assert abs(int(h["x-pulse-timestamp"]) - time.time()) < 60
    assert verify(SECRET, got.body, h["x-pulse-timestamp"], h["x-pulse-signature"])
    # A replay of the same request later is detectable: its timestamp is too old.
    assert not verify(SECRET, got.body, h["x-pulse-timestamp"], h["x-pulse-signature"],
                      now=int(h["x-pulse-timestamp"]) + 600)
    row = store.delivery(delivery_id)
    assert row["status"] == "delivered" and row["attempts"] == 1 and row["status_code"] == 200
    assert row["delivered_at"] and row["next_attempt_at"] is None
    assert row["log"][0]["status_code"] == 200


def test_server_errors_are_retried_with_backoff_then_delivered(store, receiver):
    receiver.reply(Reply(500), Reply(503))
    _, delivery_id = ping(store, receiver.url)
    assert drain(store) == {"retry": 2, "delivered": 1}
    got = receiver.wait_for(3)
    assert len({r.headers["x-pulse-event-id"] for r in got}) == 1
    assert len({r.body for r in got}) == 1  # the same body each time, signed afresh
    for r in got:
        assert verify(SECRET, r.body, r.headers["x-pulse-timestamp"], r.headers["x-pulse-signature"])
    gaps = [b.at - a.at for a, b in zip(got, got[1:], strict=False)]
    assert gaps[0] >= 0.05 * 0.9 and gaps[1] >= 0.1 * 0.9  # 0.05 s, then doubled
    row = store.delivery(delivery_id)
    assert row["status"] == "delivered" and row["attempts"] == 3
    assert [a["status_code"] for a in row["log"]] == [500, 503, 200]
    assert row["log"][0]["error"] == "HTTP 500: ok"


def test_client_errors_are_not_retried(store, receiver):
    receiver.reply(Reply(400, body=b"invalid_payload"))
    _, delivery_id = ping(store, receiver.url)
    assert drain(store) == {"failed": 1}
    assert drain(store) == {}
    assert len(receiver.requests) == 1
    row = store.delivery(delivery_id)
    assert row["status"] == "failed" and row["attempts"] == 1 and row["status_code"] == 400
    assert row["error"] == "HTTP 400: invalid_payload" and row["next_attempt_at"] is None


def test_gives_up_after_max_attempts(store, receiver):
    receiver.reply(*[Reply(502)] * 10)
    _, delivery_id = ping(store, receiver.url)
    assert drain(store, DeliveryConfig(2.0, max_attempts=3, backoff_s=0.01)) == {
        "retry": 2, "failed": 1}
    assert len(receiver.requests) == 3
    assert store.delivery(delivery_id)["status"] == "failed"


def test_retry_after_of_a_429_is_honoured(store, receiver):
    receiver.reply(Reply(429, headers={"Retry-After": "30"}))
    _, delivery_id = ping(store, receiver.url)
    before = datetime.now(UTC)
    with new_client(FAST) as client:
        assert deliver_due(store, client, FAST) == {"retry": 1}
        assert deliver_due(store, client, FAST) == {}  # not due for 30 s, backoff or not
    due = datetime.fromisoformat(store.delivery(delivery_id)["next_attempt_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=29) <= due - before <= timedelta(seconds=32)


def test_backoff_and_retry_after_rules():
    config = DeliveryConfig(backoff_s=1.0)
    assert [next_delay(n, config) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert next_delay(1, config, retry_after=10) == 10 and next_delay(4, config, 2) == 8
    assert next_delay(30, config) == 3600 and next_delay(1, config, 10**6) == 3600
    assert parse_retry_after("120") == 120 and parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 85 <= parse_retry_after(later) <= 91


def test_network_errors_are_retried_and_the_log_hides_the_url(store):
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens there now: connection refused
    _, delivery_id = ping(store, url)
    with new_client(FAST) as client:
        assert deliver_due(store, client, FAST) == {"retry": 1}
    row = store.delivery(delivery_id)
    assert row["status"] == "pending" and row["attempts"] == 1 and row["status_code"] is None
    assert row["error"].startswith("ConnectError") and "token-part" not in row["error"]


def test_a_hanging_receiver_times_out_and_is_retried(store, receiver):
    receiver.reply(Reply(hang=True))
    _, delivery_id = ping(store, receiver.url)
    config = DeliveryConfig(timeout_s=0.3, max_attempts=3, backoff_s=0.01)
    start = time.monotonic()
    with new_client(config) as client:
        assert deliver_due(store, client, config) == {"retry": 1}
    assert time.monotonic() - start < 3
    assert store.delivery(delivery_id)["error"].startswith("ReadTimeout")
    assert drain(store, config) == {"delivered": 1}  # the next attempt is answered


def test_pending_deliveries_survive_a_restart(tmp_path):
    path = tmp_path / "restart.db"
    first = Store(path)
    down = Receiver()
    port, url = down.port, down.url
    down.close()
    _, delivery_id = ping(first, url)
    with new_client(FAST) as client:
        assert deliver_due(first, client, FAST) == {"retry": 1}
    first.close()
    # "Restart": a new store on the same file; the receiver is back on the same port.
    up = Receiver(port=port)
    try:
        second = Store(path)
        assert second.delivery(delivery_id)["status"] == "pending"
        assert drain(second) == {"delivered": 1}
        assert len(up.wait_for(1)) == 1 and second.delivery(delivery_id)["attempts"] == 2
    finally:
        up.close()


def test_a_delivery_is_claimed_by_one_worker_only(store, receiver):
    _, delivery_id = ping(store, receiver.url)
    (row,) = store.due_deliveries("9999")
    lease = "2999-01-01T00:00:00.000000Z"
    assert store.claim_delivery(delivery_id, row["next_attempt_at"], lease, lease)
    assert not store.claim_delivery(delivery_id, row["next_attempt_at"], lease, lease)
    assert store.delivery(delivery_id)["next_attempt_at"] == lease
    assert drain(store) == {} and receiver.requests == []  # leased: not due for anyone


def test_disabled_subscriptions_get_nothing(store, receiver):
    sub, delivery_id = ping(store, receiver.url)
    store.disable_subscription(sub["id"], "2026-11-25T00:00:00.000000Z")
    assert drain(store) == {}
    assert store.delivery(delivery_id)["status"] == "cancelled"
    late = queue_ping(store, store.subscription(sub["id"]), "http://pulse.example")
    assert drain(store) == {"cancelled": 1}  # queued just before the disable landed
    assert store.delivery(late)["status"] == "cancelled"
    assert receiver.requests == []


@pytest.mark.parametrize("target", ["slack", "discord"])
def test_slack_and_discord_bodies_reach_the_receiver(store, receiver, target):
    ping(store, receiver.url, target=target)
    assert drain(store) == {"delivered": 1}
    body = wait_until(lambda: receiver.requests)[0].json()
    assert set(body) >= ({"text", "blocks"} if target == "slack" else {"content", "embeds"})


def test_the_readme_receiver_check_accepts_ours_and_rejects_replays(store, receiver):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    snippet = re.search(r"```python\n(import hashlib, hmac, time\n.*?)```", readme, re.S)[1]
    namespace: dict = {}
    exec(snippet, namespace)  # the documented receiver code, as a reader would paste it
    is_genuine = namespace["is_genuine"]
    ping(store, receiver.url)
    drain(store)
    (got,) = receiver.wait_for(1)
    headers = {"X-Pulse-Timestamp": got.headers["x-pulse-timestamp"],
               "X-Pulse-Signature": got.headers["x-pulse-signature"]}
    assert is_genuine(SECRET, got.body, headers)
    assert not is_genuine(SECRET, got.body + b" ", headers)
    assert not is_genuine("another-secret-of-16", got.body, headers)
    old = int(time.time()) - 400
    assert not is_genuine(SECRET, got.body, {"X-Pulse-Timestamp": str(old),
                                             "X-Pulse-Signature": sign(SECRET, old, got.body)})
