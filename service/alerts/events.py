"""Events worth an alert, found from what is stored at a moment ``now``.

Every event has a deterministic id, so evaluating again (every minute, after a restart,
in a second worker process) finds the same ids and the delivery log's unique
(subscription, event id) keeps each alert to one delivery per subscription:

- ``queue_item:{item id}`` — a queue item created after the subscription with a priority
  of at least the subscription's ``min_priority`` (the queue is refreshed first, as
  reading it in the dashboard would);
- ``topic_spiking:{topic id}:{ISO week}`` — a topic the trends call spiking or emerging
  (last 7 days against its own 4-week Poisson baseline): at most once per topic and week;
- ``sentiment_drop:{community}:{date}`` — the sentiment index of the 7 days ending today
  is below the subscription's ``sentiment_below`` (with at least ``SENTIMENT_MIN_MESSAGES``
  messages); the date is the first day of the current run of days below it, so one drop
  alerts once, and again only after the index has recovered;
- ``weekly_report:{community}:{ISO week}`` — the report of the last full week, once the
  week has messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from urllib.parse import quote

from service.queue.refresh import refresh
from service.reports.weekly import last_full_week, weekly_report
from service.store import Store, format_ts
from service.trends import sentiment_index, topic_changes

SENTIMENT_DAYS = 7
SENTIMENT_MIN_MESSAGES = 20
SENTIMENT_LOOKBACK_DAYS = 60  # how far back the start of a drop is looked for
QUOTES = 2


@dataclass(frozen=True)
class Event:
    type: str
    id: str
    community: str
    title: str  # one line
    text: str  # a few readable lines
    path: str  # where to look in the dashboard (joined to PULSE_PUBLIC_URL)
    occurred_at: str
    data: dict = field(default_factory=dict)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def dashboard(community: str, *parts: str) -> str:
    return "/dashboard/" + "/".join([quote(community, safe=""), *parts])


class Signals:
    """What the finders read, computed at most once per evaluation of a community."""

    def __init__(self, store: Store, community: str, now: datetime) -> None:
        self.store, self.community, self.now = store, community, now
        self.at = format_ts(now)

    @cached_property
    def queue(self) -> dict:
        return refresh(self.store, self.community, self.now)

    @cached_property
    def changes(self) -> dict:
        return topic_changes(self.store, self.community, self.now)

    @cached_property
    def daily(self) -> dict[date, dict]:
        """Sentiment counts per day (UTC) over the lookback, quiet days absent."""
        today = self.now.date()
        since = today - timedelta(days=SENTIMENT_LOOKBACK_DAYS + SENTIMENT_DAYS)
        rows = self.store.activity(self.community, None, since.isoformat(), self.at, "day")
        return {date.fromisoformat(r["start"]): r["sentiment"] for r in rows}

    def rolling_index(self, day: date) -> tuple[float | None, int]:
        """Sentiment index and message count of the 7 days ending on ``day``."""
        totals: dict[str, int] = {}
        for d in range(SENTIMENT_DAYS):
            for k, v in self.daily.get(day - timedelta(days=d), {}).items():
                totals[k] = totals.get(k, 0) + v
        return sentiment_index(totals), sum(totals.values())

    @cached_property
    def weekly(self) -> dict:
        return weekly_report(self.store, self.community, last_full_week(self.now), self.now)


def queue_items(s: Signals, sub: dict) -> Iterable[Event]:
    s.queue  # noqa: B018 — refresh once, so new items exist before they are looked up
    for item in s.store.alerted_queue_items(s.community, sub["min_priority"], sub["created_at"]):
        top = sorted(item["factors"], key=lambda f: -f["contribution"])[:3]
        why = ", ".join(f"{f['factor']} {f['contribution']:.0f}" for f in top)
        yield Event(
            "queue_item", f"queue_item:{item['id']}", s.community,
            title=f"New {item['kind']} item in {s.community} (priority {item['priority']:.0f})",
            text=f"{item['title']}\nWhy: {why}", path=dashboard(s.community, "queue", str(item["id"])),
            occurred_at=item["created_at"],
            data={"item_id": item["id"], "kind": item["kind"], "ref_id": item["ref_id"],
                  "title": item["title"], "status": item["status"],
                  "priority": item["priority"], "factors": item["factors"]})


def topic_spiking(s: Signals, sub: dict) -> Iterable[Event]:
    week = iso_week(s.now.date())
    for t in s.changes["spiking"]:
        topic = s.store.topic(t["id"]) or {"keywords": [], "representatives": []}
        texts = s.store.texts(topic["representatives"][:QUOTES * 4])
        quotes = list(dict.fromkeys(texts[m] for m in topic["representatives"] if m in texts))
        quotes = quotes[:QUOTES]  # distinct texts: members often repeat each other
        lines = [f"{t['observed']} messages in the last 7 days against a weekly mean of "
                 f"{t['expected']} before (Poisson p = {t['p_value']:.1g})."]
        if topic["keywords"]:
            lines.append("Keywords: " + ", ".join(topic["keywords"][:8]))
        lines += [f"> {_short(q)}" for q in quotes]
        yield Event(
            "topic_spiking", f"topic_spiking:{t['id']}:{week}", s.community,
            title=f"Topic {t['kind']} in {s.community}: {t['label']}", text="\n".join(lines),
            path=dashboard(s.community, "topics", str(t["id"])), occurred_at=s.at,
            data={"topic_id": t["id"], "label": t["label"], "kind": t["kind"],
                  "messages_7d": t["observed"], "weekly_mean_before": t["expected"],
                  "p_value": t["p_value"], "keywords": topic["keywords"], "quotes": quotes,
                  "week": week})


def sentiment_drop(s: Signals, sub: dict) -> Iterable[Event]:
    threshold, today = sub["sentiment_below"], s.now.date()

    def below(day: date) -> bool:
        index, n = s.rolling_index(day)
        return index is not None and n >= SENTIMENT_MIN_MESSAGES and index < threshold

    if not below(today):
        return
    start = today
    while (today - start).days < SENTIMENT_LOOKBACK_DAYS and below(start - timedelta(days=1)):
        start -= timedelta(days=1)
    index, n = s.rolling_index(today)
    before, _ = s.rolling_index(today - timedelta(days=SENTIMENT_DAYS))
    was = f", {before:+.2f} the 7 days before" if before is not None else ""
    yield Event(
        "sentiment_drop", f"sentiment_drop:{s.community}:{start.isoformat()}", s.community,
        title=f"Sentiment dropped in {s.community}: {index:+.2f} (below {threshold:+.2f})",
        text=f"Sentiment index of the last 7 days: {index:+.2f} over {n} messages{was}; "
             f"below {threshold:+.2f} since {start.isoformat()}.",
        path=dashboard(s.community, "trends"), occurred_at=s.at,
        data={"sentiment_index": index, "threshold": threshold, "messages_7d": n,
              "index_7d_before": before, "below_since": start.isoformat()})


def weekly_ready(s: Signals, sub: dict) -> Iterable[Event]:
    week = iso_week(last_full_week(s.now))
    event_id = f"weekly_report:{s.community}:{week}"
    if s.store.known_events(sub["id"], [event_id]):
        return  # already queued: do not build the report again
    report = s.weekly
    kpis = {k["key"]: k for k in report["kpis"]}
    if not kpis["messages"]["value"]:
        return
    lines = [_kpi_line(k) for k in report["kpis"]]
    if report["recurring_issues"]:
        lines.append("Top issues: " + "; ".join(
            f"{i['label']} ({i['issue_messages']})" for i in report["recurring_issues"][:3]))
    if report["spiking"]:
        lines.append("Spiking: " + "; ".join(f"{t['label']} ({t['kind']})"
                                              for t in report["spiking"][:3]))
    if report["turned_negative"]:
        lines.append("Turned negative: " + "; ".join(t["label"]
                                                      for t in report["turned_negative"][:3]))
    yield Event(
        "weekly_report", event_id, s.community,
        title=f"Weekly report of {s.community}, {week}", text="\n".join(lines),
        path=dashboard(s.community, "report") + f"?week={week}", occurred_at=s.at,
        data={"week": week, "since": report["since"], "until": report["until"],
              "kpis": report["kpis"],
              "recurring_issues": [{"id": i["id"], "label": i["label"],
                                    "issue_messages": i["issue_messages"]}
                                   for i in report["recurring_issues"]],
              "spiking": [{"id": t["id"], "label": t["label"], "kind": t["kind"]}
                          for t in report["spiking"]],
              "turned_negative": [{"id": t["id"], "label": t["label"]}
                                  for t in report["turned_negative"]]})


FINDERS: dict[str, Callable[[Signals, dict], Iterable[Event]]] = {
    "queue_item": queue_items, "topic_spiking": topic_spiking,
    "sentiment_drop": sentiment_drop, "weekly_report": weekly_ready,
}


def evaluate(store: Store, community: str, now: datetime,
             subscriptions: list[dict] | None = None) -> list[tuple[dict, Event]]:
    """New events for each active subscription of ``community`` (those not queued yet)."""
    subs = store.subscriptions(community) if subscriptions is None else subscriptions
    signals = Signals(store, community, now)
    out = []
    for sub in subs:
        found = {e.id: e for kind in sub["events"] for e in FINDERS[kind](signals, sub)}
        known = store.known_events(sub["id"], list(found))
        out += [(sub, e) for e in found.values() if e.id not in known]
    return out


def ping_event(community: str, now: datetime) -> Event:
    """A ping that checks a target works (new id each time)."""
    return Event("test", f"test:{uuid.uuid4().hex}", community,
                 title=f"Test alert from Community Pulse for {community}",
                 text="If you can read this, the subscription's target works.",
                 path=dashboard(community, "queue"), occurred_at=format_ts(now))


def _kpi_line(k: dict) -> str:
    value, change = k["value"], k["change"]
    if value is None:
        return f"{k['name']}: –"
    if k["key"] == "response_rate":
        shown = f"{value:.0%}"
        delta = f" ({change * 100:+.0f} pts)" if change is not None else ""
    elif isinstance(value, float):
        shown = f"{value:+.2f}" if k["key"] == "sentiment_index" else f"{value:g}"
        delta = f" ({change:+.2f})" if change is not None else ""
    else:
        shown, delta = f"{value:,}", f" ({change:+,})" if change is not None else ""
    return f"{k['name']}: {shown}{delta}"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
