"""What an operator sees of a topic: its words, quotes, mix, trend, lineage, and whether
it is emerging. Everything is computed from stored messages at read time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from service.store import Store


def trend_flags(per_day: dict[str, int], today: date) -> dict:
    """Last 7 days against the topic's weekly mean over the 4 weeks before (the same
    Poisson rule as the trends view: service/trends.py)."""
    from service.trends import BASELINE_WEEKS, spike_test

    def count(start: int, end: int) -> int:
        days = {(today - timedelta(days=d)).isoformat() for d in range(start, end)}
        return sum(n for day, n in per_day.items() if day in days)

    last7 = count(0, 7)
    before = count(7, 7 + 7 * BASELINE_WEEKS) / BASELINE_WEEKS
    test = spike_test(last7, before)
    return {"last_7_days": last7, "weekly_mean_before": round(before, 2),
            "p_value": test["p_value"], "emerging": test["spiking"]}


def topic_view(store: Store, row: dict, today: date, detail: bool = False) -> dict:
    """``today``: the day trends are read from (the community's latest message day)."""
    per_day = store.topic_breakdown(row["id"], "day")
    view = row | {
        "sentiment_mix": store.topic_breakdown(row["id"], "sentiment"),
        "intent_mix": store.topic_breakdown(row["id"], "intent"),
        "trend": trend_flags(per_day, today),
        "lineage": store.topic_events(row["id"]),
    }
    texts = store.texts(row["representatives"])
    view["quotes"] = [{"id": mid, "text": texts[mid]} for mid in row["representatives"]
                      if mid in texts]
    if detail:
        view["per_day"] = per_day
    return view


def reference_day(store: Store, community: str) -> date:
    latest = store.latest_ts(community)
    return date.fromisoformat(latest[:10]) if latest else datetime.now(UTC).date()
