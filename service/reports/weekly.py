"""The weekly report of a community: KPIs against the week before, intent mix, the top
recurring issues with quotes in their original language, emerging/spiking topics, topics
that turned negative, and the daily series behind the charts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from service.store import Store, format_ts
from service.trends import trends

ISSUE_INTENTS = ("bug_report", "complaint", "question")
KPIS = {
    "messages": "Messages",
    "active_members": "Active members",
    "new_members": "New members",
    "sentiment_index": "Sentiment index",
    "response_rate": "Questions answered",
    "median_response_minutes": "Median response time (min)",
}


def parse_week(text: str) -> date:
    """'2026-W47' → the Monday of that ISO week."""
    m = re.fullmatch(r"(\d{4})-W(\d{2})", text)
    if not m:
        raise ValueError("week must look like 2026-W47")
    try:
        return date.fromisocalendar(int(m[1]), int(m[2]), 1)
    except ValueError:
        raise ValueError(f"{text} is not a week of {m[1]}") from None


def last_full_week(now: datetime) -> date:
    today = now.astimezone(UTC).date()
    return today - timedelta(days=today.weekday() + 7)


def weekly_report(store: Store, community: str, monday: date | None = None,
                  now: datetime | None = None, issues: int = 5) -> dict:
    now = now or datetime.now(UTC)
    monday = monday or last_full_week(now)
    start = datetime.combine(monday, time(), UTC)
    end = start + timedelta(days=7)
    week = trends(store, community, start, end, bucket="day")
    before = trends(store, community, start - timedelta(days=7), start, with_topics=False)
    year, number, _ = monday.isocalendar()
    return {
        "community": community, "week": f"{year}-W{number:02d}",
        "since": format_ts(start), "until": format_ts(end), "generated_at": format_ts(now),
        "kpis": [_kpi(key, week["totals"], before["totals"]) for key in KPIS],
        "intent_mix": week["totals"]["intent_mix"],
        "series": [{"day": r["start"], "messages": r["messages"],
                    "active_members": r["active_members"],
                    "sentiment_index": r["sentiment_index"]} for r in week["series"]],
        "recurring_issues": recurring_issues(store, community, start, end, issues),
        "top_topics": week["top_topics"], "spiking": week["spiking"],
        "turned_negative": week["turned_negative"], "rules": week["rules"],
    }


def recurring_issues(store: Store, community: str, start: datetime, end: datetime,
                     limit: int) -> list[dict]:
    """Topics of the week ranked by their bug reports, complaints and questions."""
    lo, hi = format_ts(start), format_ts(end)
    ranked = []
    for topic_id, intents in store.topic_intents(community, lo, hi).items():
        issues = sum(intents.get(i, 0) for i in ISSUE_INTENTS)
        total = sum(intents.values())
        if issues:
            ranked.append((-issues, topic_id, issues, total, intents))
    out = []
    for _, topic_id, issues, total, intents in sorted(ranked)[:limit]:
        topic = store.topic(topic_id)
        out.append({"id": topic_id, "label": topic["label"], "keywords": topic["keywords"],
                    "issue_messages": issues, "messages": total,
                    "issue_share": round(issues / total, 4),
                    "intents": {i: intents[i] for i in ISSUE_INTENTS if i in intents},
                    "quotes": store.topic_quotes(topic_id, lo, hi, ISSUE_INTENTS)})
    return out


def _kpi(key: str, now: dict, before: dict) -> dict:
    value, previous = now.get(key), before.get(key)
    change = None
    if value is not None and previous is not None:
        change = round(value - previous, 4)
    return {"key": key, "name": KPIS[key], "value": value, "previous": previous,
            "change": change}
