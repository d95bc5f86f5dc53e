from datetime import UTC, datetime, timedelta

import pytest

from service.store import Store, format_ts
from service.trends import proportion_z, response_stats, sentiment_index, spike_test, trends
from tests.fakes import labelled
from tests.service.queue.conftest import make_topic

UNTIL = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday


def at(days_before: float) -> str:
    return format_ts(UNTIL - timedelta(days=days_before))


@pytest.fixture
def store(tmp_path) -> Store:
    """Topic 'billing' is quiet for weeks then spikes negative; 'dark mode' is new."""
    store = Store(tmp_path / "t.db")
    billing, dark = make_topic(store, label="billing"), make_topic(store, label="dark mode")
    rows = [labelled(f"base{w}", at(8 + 7 * w), topic_id=billing, author=f"old{w}",
                     sentiment="positive") for w in range(4)]
    rows += [labelled(f"spike{i}", at(0.5 + i * 0.4), topic_id=billing, author=f"a{i % 5}",
                      intent="complaint", sentiment="negative") for i in range(12)]
    rows += [labelled(f"dark{i}", at(1 + i * 0.5), topic_id=dark, author="fan",
                      intent="feature_request", sentiment="positive") for i in range(6)]
    rows += [labelled("q1", at(2), intent="question", author="asker"),
             labelled("a1", format_ts(UNTIL - timedelta(days=2) + timedelta(minutes=30)),
                      reply_to="q1", author="helper"),
             labelled("q2", at(1), intent="question", author="asker")]
    store.insert_messages(rows)
    return store


def test_kpis_over_the_period(store):
    t = trends(store, "acme", UNTIL - timedelta(days=7), UNTIL)
    totals = t["totals"]
    assert totals["messages"] == 12 + 6 + 3
    assert totals["active_members"] == 5 + 1 + 2
    assert totals["new_members"] == 5 + 1 + 2  # none of them posted before
    assert totals["questions"] == 2 and totals["answered"] == 1
    assert totals["response_rate"] == 0.5 and totals["median_response_minutes"] == 30.0
    assert totals["sentiment_index"] == round((6 - 12) / 21, 4)
    assert totals["intent_mix"]["complaint"] == 12
    assert sum(r["messages"] for r in t["series"]) == 21
    assert sum(r["new_members"] for r in t["series"]) == 8


def test_spiking_emerging_and_turned_negative(store):
    t = trends(store, "acme", UNTIL - timedelta(days=28), UNTIL)
    kinds = {s["label"]: s["kind"] for s in t["spiking"]}
    assert kinds == {"billing": "spiking", "dark mode": "emerging"}
    (neg,) = t["turned_negative"]
    assert neg["label"] == "billing" and neg["negative_share"] == 1.0
    assert neg["negative_share_before"] == 0.0
    top = {x["label"]: x for x in t["top_topics"]}
    assert top["billing"]["messages"] == 12 and top["billing"]["previous_week"] == 1
    assert "Poisson" in t["rules"]["spiking"]


def test_weekly_buckets_start_on_monday(store):
    t = trends(store, "acme", UNTIL - timedelta(days=28), UNTIL, bucket="week")
    starts = [r["start"] for r in t["series"]]
    assert all(datetime.fromisoformat(s).weekday() == 0 for s in starts)
    assert t["series"][-1]["start"] == "2026-11-16"


def test_channel_scope_and_empty_community(store):
    assert trends(store, "acme", UNTIL - timedelta(days=7), UNTIL, channel="other")[
        "totals"]["messages"] == 0
    empty = trends(store, "nobody", UNTIL - timedelta(days=7), UNTIL)
    assert len(empty["series"]) == 7 and {r["messages"] for r in empty["series"]} == {0}
    assert empty["totals"]["sentiment_index"] is None


def test_statistics():
    assert sentiment_index({"positive": 3, "negative": 1, "neutral": 4}) == 0.25
    assert spike_test(6, 1.0)["spiking"] and not spike_test(5, 1.0)["spiking"]  # p .0006/.0037
    assert not spike_test(4, 0.0)["spiking"]  # too few
    assert not spike_test(12, 8.0)["spiking"]
    assert spike_test(6, 0.0)["emerging"]
    assert proportion_z(9, 10, 1, 10) > 3 and proportion_z(0, 0, 1, 2) == 0.0
    assert response_stats([]) == {"questions": 0, "answered": 0, "response_rate": None,
                                  "median_response_minutes": None}
