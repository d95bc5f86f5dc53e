"""What an operator sees of a topic: its words, quotes, mix, trend, lineage, and whether
it is emerging. Everything is computed from stored messages at read time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from service.store import Store

EMERGING_RATIO = 2.0  # last 7 days vs the weekly mean of the 3 weeks before
EMERGING_MIN = 5  # and at least this many messages in the last 7 days


def trend_flags(per_day: dict[str, int], today: date) -> dict:
    def count(start: int, end: int) -> int:
        days = {(today - timedelta(days=d)).isoformat() for d in range(start, end)}
        return sum(n for day, n in per_day.items() if day in days)

    last7, before = count(0, 7), count(7, 28) / 3
    return {"last_7_days": last7, "weekly_mean_before": round(before, 2),
            "emerging": last7 >= EMERGING_MIN and last7 >= EMERGING_RATIO * max(before, 1.0)}


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
