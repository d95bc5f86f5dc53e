"""Community health over a period: volume, members, sentiment index, intent mix, question
response, top topics with week-over-week change, emerging/spiking topics, and topics that
turned negative. Everything is computed from stored messages at read time.

Rules (stated in every answer under ``rules``):
- Spiking: a topic's messages in the last 7 days against a Poisson with the topic's own
  weekly mean over the 4 weeks before (floored at 1): P(X ≥ observed) < 0.001 and at
  least 5 messages. "emerging" when the topic had no messages in those 4 weeks.
- Turned negative: in the last 7 days at least 5 messages, a negative share ≥ 0.4 and at
  least 0.2 above the 4 weeks before, and a two-proportion z ≥ 2.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from scipy.stats import poisson

from service.store import Store, format_ts

SPIKE_P = 0.001
SPIKE_MIN = 5
BASELINE_WEEKS = 4
NEGATIVE_MIN = 5
NEGATIVE_SHARE = 0.4
NEGATIVE_SHIFT = 0.2
NEGATIVE_Z = 2.0

RULES = {
    "spiking": f"last 7 days vs a Poisson with the topic's weekly mean over the {BASELINE_WEEKS} "
               f"weeks before (floored at 1): p < {SPIKE_P} and ≥ {SPIKE_MIN} messages; "
               "'emerging' when the topic had no messages before",
    "turned_negative": f"last 7 days: ≥ {NEGATIVE_MIN} messages, negative share ≥ "
                       f"{NEGATIVE_SHARE} and ≥ {NEGATIVE_SHIFT} above the {BASELINE_WEEKS} "
                       f"weeks before, two-proportion z ≥ {NEGATIVE_Z}",
    "sentiment_index": "share of positive minus share of negative messages (all messages "
                       "count, neutral and uncertain included), from -1 to 1",
    "answered": "a later message by another member that replies to the question or, in a "
                "thread, any later message by another member there",
}


def sentiment_index(counts: dict[str, int]) -> float | None:
    total = sum(counts.values())
    if not total:
        return None
    return round((counts.get("positive", 0) - counts.get("negative", 0)) / total, 4)


def spike_test(observed: int, weekly_baseline: float) -> dict:
    expected = max(weekly_baseline, 1.0)
    p = float(poisson.sf(observed - 1, expected)) if observed > 0 else 1.0
    return {"observed": observed, "expected": round(weekly_baseline, 2), "p_value": p,
            "spiking": observed >= SPIKE_MIN and p < SPIKE_P,
            "emerging": observed >= SPIKE_MIN and p < SPIKE_P and weekly_baseline == 0}


def proportion_z(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-proportion z of k1/n1 over k2/n2 (pooled); 0 when undefined."""
    if not n1 or not n2:
        return 0.0
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return (k1 / n1 - k2 / n2) / se if se else 0.0


def response_stats(pairs: list[tuple[str, str | None]]) -> dict:
    waits = [(_parse(a) - _parse(q)).total_seconds() / 60 for q, a in pairs if a is not None]
    return {"questions": len(pairs), "answered": len(waits),
            "response_rate": round(len(waits) / len(pairs), 4) if pairs else None,
            "median_response_minutes": round(statistics.median(waits), 1) if waits else None}


def trends(store: Store, community: str, since: datetime, until: datetime,
           channel: str | None = None, bucket: str = "day", top: int = 10,
           with_topics: bool = True) -> dict:
    """The operator's view of a period (``bucket``: day or week)."""
    lo, hi = format_ts(since), format_ts(until)
    series = _complete(store.activity(community, channel, lo, hi, bucket), since, until, bucket)
    new_by_bucket: dict[str, int] = defaultdict(int)
    firsts = store.first_messages(community, channel, lo, hi)
    for ts in firsts:
        new_by_bucket[_bucket_of(ts, bucket)] += 1
    answers = store.question_answers(community, channel, lo, hi)
    answers_by_bucket: dict[str, list] = defaultdict(list)
    for pair in answers:
        answers_by_bucket[_bucket_of(pair[0], bucket)].append(pair)
    for row in series:
        row["new_members"] = new_by_bucket.get(row["start"], 0)
        row["sentiment_index"] = sentiment_index(row["sentiment"])
        row |= response_stats(answers_by_bucket.get(row["start"], []))
    sentiment_total = defaultdict(int)
    for row in series:
        for k, v in row["sentiment"].items():
            sentiment_total[k] += v
    totals = {"messages": sum(r["messages"] for r in series),
              "active_members": store.distinct_members(community, channel, lo, hi),
              "new_members": len(firsts), "sentiment": dict(sentiment_total),
              "sentiment_index": sentiment_index(sentiment_total),
              "intent_mix": store.intent_mix(community, channel, lo, hi)} | response_stats(answers)
    out = {"community": community, "channel": channel, "since": lo, "until": hi,
           "bucket": bucket, "series": series, "totals": totals, "rules": RULES}
    return out | (topic_changes(store, community, until, channel, top) if with_topics else {})


def topic_changes(store: Store, community: str, until: datetime, channel: str | None = None,
                  top: int = 10) -> dict:
    """Top topics of the last 7 days before ``until`` with week-over-week change, spiking or
    emerging topics, and topics that turned negative."""
    week_start = until - timedelta(days=7)
    prev_start = until - timedelta(days=14)
    base_start = week_start - timedelta(weeks=BASELINE_WEEKS)
    rows = store.topic_days(community, channel, format_ts(base_start), format_ts(until))
    stats: dict[int, dict] = {}
    week_lo, prev_lo = week_start.date().isoformat(), prev_start.date().isoformat()
    for r in rows:
        s = stats.setdefault(r["topic_id"], {"id": r["topic_id"], "label": r["label"],
                                             "status": r["status"], "week": 0, "previous": 0,
                                             "base": 0, "week_neg": 0, "base_neg": 0})
        if r["day"] >= week_lo:
            s["week"] += r["messages"]
            s["week_neg"] += r["negative"]
        else:
            s["base"] += r["messages"]
            s["base_neg"] += r["negative"]
            if r["day"] >= prev_lo:
                s["previous"] += r["messages"]
    ranked = sorted(stats.values(), key=lambda s: (-s["week"], s["id"]))
    top_topics = [{"id": s["id"], "label": s["label"], "messages": s["week"],
                   "previous_week": s["previous"], "change": s["week"] - s["previous"],
                   "change_pct": round(100 * (s["week"] - s["previous"]) / s["previous"], 1)
                   if s["previous"] else None} for s in ranked[:top] if s["week"]]
    spiking, negative = [], []
    for s in ranked:
        test = spike_test(s["week"], s["base"] / BASELINE_WEEKS)
        if test["spiking"]:
            spiking.append({"id": s["id"], "label": s["label"],
                            "kind": "emerging" if test["emerging"] else "spiking"} | test)
        z = proportion_z(s["week_neg"], s["week"], s["base_neg"], s["base"])
        share = s["week_neg"] / s["week"] if s["week"] else 0.0
        before = s["base_neg"] / s["base"] if s["base"] else None
        if (s["week"] >= NEGATIVE_MIN and share >= NEGATIVE_SHARE and before is not None
                and share - before >= NEGATIVE_SHIFT and z >= NEGATIVE_Z):
            negative.append({"id": s["id"], "label": s["label"], "messages": s["week"],
                             "negative_share": round(share, 4),
                             "negative_share_before": round(before, 4), "z": round(z, 2)})
    spiking.sort(key=lambda t: (t["p_value"], t["id"]))
    return {"top_topics": top_topics, "spiking": spiking, "turned_negative": negative}


def _complete(rows: list[dict], since: datetime, until: datetime, bucket: str) -> list[dict]:
    """Every bucket of the period, quiet ones as zero rows (charts need the gaps)."""
    found = {r["start"]: r for r in rows}
    day, last = since.astimezone(UTC).date(), (until.astimezone(UTC) - timedelta(microseconds=1)).date()
    step = timedelta(days=7 if bucket == "week" else 1)
    if bucket == "week":
        day -= timedelta(days=day.weekday())
    out = []
    while day <= last:
        key = day.isoformat()
        out.append(found.get(key) or {"start": key, "messages": 0, "active_members": 0,
                                      "sentiment": {"negative": 0, "neutral": 0,
                                                    "positive": 0, "uncertain": 0}})
        day += step
    return out


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _bucket_of(ts: str, bucket: str) -> str:
    day = _parse(ts).date()
    if bucket == "week":
        day -= timedelta(days=day.weekday())
    return day.isoformat()
