"""Finding events from stored state: each type, its deterministic id, no repeats."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from service.alerts.events import evaluate
from service.alerts.subscriptions import SubscriptionError, public, redact_url, subscribe
from service.alerts.worker import queue_events
from service.store import Store, format_ts
from tests.fakes import labelled
from tests.service.queue.conftest import make_topic

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday of 2026-W47
URL = "http://127.0.0.1:9/hook"


def at(when: datetime) -> str:
    return format_ts(when)


def abusive(external_id: str, when: datetime):
    return labelled(external_id, at(when), intent="abuse", flags=("abuse",),
                    sentiment="negative", negative=0.9, author="troll")


def test_queue_items_alert_once_and_only_when_new(store):
    store.insert_messages([abusive("old", NOW - timedelta(hours=2))])
    low, _ = subscribe(store, "acme", ["queue_item"], URL, min_priority=0, now=NOW)
    high, _ = subscribe(store, "acme", ["queue_item"], URL, min_priority=99.9, now=NOW)
    assert low["min_priority"] == 0 and low["sentiment_below"] is None
    assert evaluate(store, "acme", NOW + timedelta(minutes=1)) == []  # existed before
    store.insert_messages([abusive("new", NOW + timedelta(minutes=2))])
    found = evaluate(store, "acme", NOW + timedelta(minutes=5))
    assert [sub["id"] for sub, _ in found] == [low["id"]]  # below the other's threshold
    event = found[0][1]
    item = store.queue_item(int(event.id.split(":")[1]))
    assert event.id == f"queue_item:{item['id']}" and item["kind"] == "flagged"
    assert event.path == f"/dashboard/acme/queue/{item['id']}"
    assert event.data["priority"] == item["priority"] < 99.9
    assert "Why: severity" in event.text
    assert queue_events(store, "acme", NOW + timedelta(minutes=5), "http://x") == 1
    assert queue_events(store, "acme", NOW + timedelta(minutes=6), "http://x") == 0


@pytest.fixture
def spiking(store) -> tuple[Store, int, int]:
    """'billing' is quiet for weeks then spikes; 'dark mode' is new (as in test_trends)."""
    until = datetime(2026, 11, 23, tzinfo=UTC)
    billing, dark = make_topic(store, label="billing"), make_topic(store, label="dark mode")
    rows = [labelled(f"base{w}", at(until - timedelta(days=8 + 7 * w)), topic_id=billing)
            for w in range(4)]
    rows += [labelled(f"spike{i}", at(until - timedelta(days=0.5 + i * 0.4)), topic_id=billing,
                      intent="complaint", sentiment="negative") for i in range(12)]
    rows += [labelled(f"dark{i}", at(until - timedelta(days=1 + i * 0.5)), topic_id=dark,
                      text=f"please add a dark mode {i // 2}") for i in range(6)]
    ids = [mid for mid, _ in store.insert_messages(rows)]
    run = store.start_run("acme", at(until - timedelta(days=30)), at(until), {})
    store.apply_recluster(run, "acme", [{  # representatives: two messages with one text first
        "id": dark, "label": "dark mode", "keywords": ["dark", "mode"],
        "representatives": ids[-6:], "centroid": np.ones(4), "threshold": 0.5, "size": 6}],
        [], [], {}, {"n_messages": 6, "n_topics": 1, "unassigned": 0})
    return store, billing, dark


def test_spiking_and_emerging_topics_alert_once_per_week(spiking):
    store, billing, dark = spiking
    now = datetime(2026, 11, 23, tzinfo=UTC)
    sub, _ = subscribe(store, "acme", ["topic_spiking"], URL, now=now - timedelta(days=30))
    found = {e.id: e for _, e in evaluate(store, "acme", now)}
    assert set(found) == {f"topic_spiking:{billing}:2026-W48", f"topic_spiking:{dark}:2026-W48"}
    emerging = found[f"topic_spiking:{dark}:2026-W48"]
    assert emerging.data["kind"] == "emerging" and emerging.data["messages_7d"] == 6
    assert emerging.title == "Topic emerging in acme: dark mode"
    assert emerging.path == f"/dashboard/acme/topics/{dark}"
    assert found[f"topic_spiking:{billing}:2026-W48"].data["kind"] == "spiking"
    assert emerging.data["quotes"] == ["please add a dark mode 0", "please add a dark mode 1"]
    assert queue_events(store, "acme", now, "http://x") == 2
    assert evaluate(store, "acme", now + timedelta(hours=5)) == []  # same week: nothing new


def daily(store: Store, first: date, days: int, sentiment: str, per_day: int = 4) -> None:
    store.insert_messages([
        labelled(f"{sentiment}-{first + timedelta(days=d)}-{i}",
                 f"{first + timedelta(days=d)}T10:00:00.000000Z", sentiment=sentiment,
                 author=f"m{i}") for d in range(days) for i in range(per_day)])


def test_a_sentiment_drop_alerts_once_per_drop(store):
    today = NOW.date()
    daily(store, today - timedelta(days=20), 15, "positive")  # up to today - 6
    daily(store, today - timedelta(days=5), 6, "negative")  # today - 5 .. today
    sub, _ = subscribe(store, "acme", ["sentiment_drop"], URL, sentiment_below=-0.2, now=NOW)
    ((_, event),) = evaluate(store, "acme", NOW)
    # 7 days ending today: 24 negative, 4 positive; ending yesterday: 20 and 8 (both below
    # -0.2); ending the day before: 16 and 12 (-0.14), so the drop began yesterday.
    start = today - timedelta(days=1)
    assert event.id == f"sentiment_drop:acme:{start}"
    assert event.data["sentiment_index"] == round((4 - 24) / 28, 4)
    assert event.data["below_since"] == start.isoformat() and event.data["messages_7d"] == 28
    assert event.path == "/dashboard/acme/trends"
    queue_events(store, "acme", NOW, "http://x")
    assert evaluate(store, "acme", NOW + timedelta(days=1)) == []  # the same drop


def test_no_sentiment_alert_above_the_threshold_or_on_too_few_messages(store):
    today = NOW.date()
    daily(store, today - timedelta(days=6), 7, "positive")
    daily(store, today - timedelta(days=2), 1, "negative", per_day=2)
    subscribe(store, "acme", ["sentiment_drop"], URL, now=NOW)
    assert evaluate(store, "acme", NOW) == []  # index (28 - 2) / 30: no drop
    store.insert_messages([labelled("n1", at(NOW - timedelta(hours=1)), community="tiny",
                                    sentiment="negative")])
    subscribe(store, "tiny", ["sentiment_drop"], URL, sentiment_below=0.5, now=NOW)
    assert evaluate(store, "tiny", NOW) == []  # 1 message is no index to alert on


def test_the_weekly_report_alerts_once_per_week(store):
    store.insert_messages([labelled(f"w{i}", f"2026-11-{10 + i % 5:02d}T09:00:00.000000Z",
                                    author=f"m{i % 3}", intent="question" if i % 2 else "chitchat")
                           for i in range(10)])
    sub, _ = subscribe(store, "acme", ["weekly_report"], URL, now=NOW)
    ((_, event),) = evaluate(store, "acme", NOW)
    assert event.id == "weekly_report:acme:2026-W46"
    assert event.path == "/dashboard/acme/report?week=2026-W46"
    assert "Messages: 10 (+10)" in event.text and event.data["week"] == "2026-W46"
    queue_events(store, "acme", NOW, "http://x")
    assert evaluate(store, "acme", NOW + timedelta(days=2)) == []  # same week
    subscribe(store, "quiet", ["weekly_report"], URL, now=NOW)
    assert evaluate(store, "quiet", NOW) == []  # nothing to report


def test_disabled_subscriptions_are_not_evaluated(spiking):
    store, *_ = spiking
    sub, _ = subscribe(store, "acme", ["topic_spiking"], URL)
    store.disable_subscription(sub["id"], format_ts(NOW))
    assert evaluate(store, "acme", datetime(2026, 11, 23, tzinfo=UTC)) == []
    assert store.alert_communities() == []


@pytest.mark.parametrize("kwargs, message", [
    ({"events": []}, "events must be among"),
    ({"events": ["nope"]}, "unknown: nope"),
    ({"target": "email"}, "target must be one of"),
    ({"url": "ftp://example.com/x"}, "http:// or https://"),
    ({"url": "not a url"}, "http:// or https://"),
    ({"secret": "short"}, "at least 16"),
    ({"min_priority": 101}, "between 0 and 100"),
])
def test_bad_subscriptions_are_refused(store, kwargs, message):
    args = {"events": ["queue_item"], "url": URL, "target": "webhook"} | kwargs
    with pytest.raises(SubscriptionError, match=message):
        subscribe(store, "acme", args.pop("events"), args.pop("url"), **args)


def test_a_secret_is_generated_and_kept_out_of_listings(store):
    sub, secret = subscribe(store, "acme", ["weekly_report"], "https://hooks.slack.com/services/T0/B0/xyz",
                            target="slack")
    assert secret.startswith("whsec_") and len(secret) > 40
    assert "secret" not in sub and "secret" not in store.subscriptions("acme")[0]
    assert public(sub)["url"] == "https://hooks.slack.com/…"
    assert redact_url("https://user:pw@ntfy.sh:8443/my-secret-topic?x=1") == "https://ntfy.sh:8443/…"
    assert redact_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000"
