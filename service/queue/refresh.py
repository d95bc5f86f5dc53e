"""Build the queue from stored signals: flagged messages, recurring issues, unanswered
questions. Refreshing is idempotent: an item is created once per (kind, message or topic)
and only its score changes afterwards; the moderators' status is never overwritten.

The service closes an item by itself in two cases only, both logged as actions by
``pulse`` and both skipped once a person has acted on the item: a queued question got an
answer, or a recurring topic was merged away or ended by a recluster.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from service.queue.priority import (
    FLAG_SEVERITY,
    INTENT_SEVERITY,
    QueueConfig,
    poisson_z,
    prioritise,
)
from service.store import Store, format_ts

SEVERE_INTENTS = ("abuse", "spam_ad")
OPEN = ("open", "acknowledged")
SYSTEM_ACTOR = "pulse"


def load_config(store: Store, community: str) -> QueueConfig:
    stored = store.queue_settings(community)
    return QueueConfig(**stored) if stored else QueueConfig()


def refresh(store: Store, community: str, now: datetime,
            config: QueueConfig | None = None) -> dict:
    """Score every candidate of the window ending at ``now``; returns counts."""
    config = config or load_config(store, community)
    since = format_ts(now - timedelta(days=config.window_days))
    until = format_ts(now + timedelta(days=1))  # tolerate clocks a little ahead
    weights = config.weights
    items = [_flagged_item(m, weights)
             for m in store.flagged_messages(community, since, until, SEVERE_INTENTS)]
    asked_before = now - timedelta(hours=config.unanswered_after_hours)
    questions = store.unanswered_questions(community, since, format_ts(asked_before))
    items += [_question_item(q, now, weights) for q in questions]
    unanswered_per_topic: dict[int, int] = {}
    for q in questions:
        if q["topic_id"] is not None:
            unanswered_per_topic[q["topic_id"]] = unanswered_per_topic.get(q["topic_id"], 0) + 1
    split = format_ts(now - timedelta(days=7))
    activity = store.topic_activity(community, since, until, split)
    existing = store.queue_refs(community, "recurring", OPEN)
    recurring = [_topic_item(t, unanswered_per_topic.get(t["id"], 0), config)
                 for t in activity.values()]
    created = store.upsert_queue_items(
        community, [it for it in recurring if it.pop("qualifies") or it["ref_id"] in existing]
        + items, format_ts(now))
    closed = _close_stale(store, community, now)
    return {"created": created, "scored": len(items) + len(recurring), "closed": closed}


def _flagged_item(m: dict, weights: dict) -> dict:
    severities = [FLAG_SEVERITY.get(f, 0.5) for f in m["flags"]]
    severities.append(INTENT_SEVERITY.get(m["intent"], 0.0))
    confidences = [m["flag_scores"].get(f, 0.0) for f in m["flags"]]
    if m["intent"] in SEVERE_INTENTS:
        confidences.append(m["intent_probs"].get(m["intent"], 0.0))
    raw = {"severity": max(severities), "negativity": m["sentiment_probs"].get("negative", 0.0),
           "members": 1, "confidence": max(confidences)}
    priority, factors = prioritise(raw, weights)
    return {"kind": "flagged", "ref_id": m["id"], "title": _title(m["text"]),
            "priority": priority, "factors": factors}


def _question_item(q: dict, now: datetime, weights: dict) -> dict:
    asked = datetime.fromisoformat(q["ts"].replace("Z", "+00:00"))
    raw = {"severity": INTENT_SEVERITY["question"],
           "negativity": q["sentiment_probs"].get("negative", 0.0), "members": 1,
           "unanswered": (now - asked).total_seconds() / 3600,
           "confidence": q["intent_probs"].get("question", 0.0)}
    priority, factors = prioritise(raw, weights)
    return {"kind": "unanswered", "ref_id": q["id"], "title": _title(q["text"]),
            "priority": priority, "factors": factors}


def _topic_item(t: dict, unanswered: int, config: QueueConfig) -> dict:
    n, intents = t["n"], t["intents"]
    issues = intents.get("bug_report", 0) + intents.get("complaint", 0)
    issue_count = issues + intents.get("question", 0)
    window_weeks_before = max((config.window_days - 7) / 7, 1.0)
    raw = {"severity": sum(INTENT_SEVERITY.get(i, 0.0) * c for i, c in intents.items()) / n,
           "negativity": t["sentiments"].get("negative", 0) / n,
           "volume": n, "members": t.get("members", 0),
           "growth": max(0.0, poisson_z(t["recent"], (n - t["recent"]) / window_weeks_before)),
           "unanswered": unanswered,
           "confidence": t["conf_sum"] / issue_count if issue_count else 0.0}
    priority, factors = prioritise(raw, config.weights, kind="recurring")
    qualifies = (n >= config.recurring_min_messages
                 and (issues + unanswered) / n >= config.recurring_issue_share)
    return {"kind": "recurring", "ref_id": t["id"], "title": f"Recurring: {t['label']}",
            "priority": priority, "factors": factors, "qualifies": qualifies}


def _close_stale(store: Store, community: str, now: datetime) -> int:
    """Resolve answered questions and dismiss items of topics that ended (untouched items)."""
    closed = 0
    questions = store.queue_refs(community, "unanswered", ("open",))
    answered = store.answered(list(questions))
    topics = store.queue_refs(community, "recurring", ("open",))
    statuses = store.topic_statuses(list(topics))
    stale = [(questions[r], "resolve", "the question got an answer") for r in sorted(answered)]
    stale += [(item, "dismiss", f"the topic is {statuses.get(ref, 'gone')} after a recluster")
              for ref, item in sorted(topics.items()) if statuses.get(ref) != "active"]
    for item, action, why in stale:
        if any(a["actor"] != SYSTEM_ACTOR for a in store.queue_actions(item_id=item["id"])):
            continue
        status = {"resolve": "resolved", "dismiss": "dismissed"}[action]
        store.record_action(community=community, actor=SYSTEM_ACTOR, action=action,
                            item_id=item["id"], changes={"status": ["open", status]}, note=why,
                            expect={"status": "open"}, now=format_ts(now))
        closed += 1
    return closed


def _title(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Refresher:
    """Rescore a community's queue at most every ``max_age_s`` seconds (per process).

    Reading the queue triggers a refresh; on a large community a refresh costs seconds
    (eval/reports/operators.md), so a burst of page loads shares one. ``force`` skips the
    wait (after a moderator asks for it, or in tests).
    """

    def __init__(self, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, store: Store, community: str, now: datetime,
                 force: bool = False) -> dict | None:
        with self._lock:
            last = self._last.get(community)
            if not force and last is not None and time.monotonic() - last < self.max_age_s:
                return None
            self._last[community] = time.monotonic()
        return refresh(store, community, now)

    def invalidate(self, community: str) -> None:
        """The next read rescores (settings changed, a recluster ended)."""
        with self._lock:
            self._last.pop(community, None)
