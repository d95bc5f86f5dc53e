"""Subscriptions: a community, the events wanted, and where to send them.

Nothing is deleted: disabling marks a subscription inactive and cancels what it still had
pending, so the delivery log keeps its history. The secret signs every request (HMAC);
it is returned once, at creation, and never logged.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from service.queue.refresh import refresh
from service.store import Store, format_ts

EVENTS = {
    "queue_item": "a new queue item (created after the subscription) with priority ≥ "
                  "min_priority",
    "topic_spiking": "a topic becomes spiking or emerging (the trends' Poisson rule); once per "
                     "topic and ISO week",
    "sentiment_drop": "the community's 7-day sentiment index falls below sentiment_below; once "
                      "per drop (it must recover before it alerts again)",
    "weekly_report": "the weekly report of the last full ISO week is ready; once per week",
}
TARGETS = {
    "webhook": "generic JSON, signed",
    "slack": "Slack incoming webhook ({text, blocks})",
    "discord": "Discord webhook ({content, embeds})",
}
DEFAULT_MIN_PRIORITY = 70.0
DEFAULT_SENTIMENT_BELOW = -0.2
MIN_SECRET_CHARS = 16


class SubscriptionError(ValueError):
    """A subscription that cannot be made (unknown event or target, bad url or secret)."""


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SubscriptionError("url must be an http:// or https:// address")
    return url.strip()


def redact_url(url: str) -> str:
    """Scheme and host only: Slack and Discord webhook urls carry their token in the path,
    others in the first segment (an ntfy topic), the query or the user info."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    rest = parts.path.strip("/") or parts.query
    return f"{parts.scheme}://{host}" + ("/…" if rest else "")


def subscribe(store: Store, community: str, events: Sequence[str], url: str,
              target: str = "webhook", name: str = "", secret: str | None = None,
              min_priority: float | None = None, sentiment_below: float | None = None,
              now: datetime | None = None) -> tuple[dict, str]:
    """Create a subscription; returns (the subscription, its secret — shown only now).

    With ``queue_item`` the community's queue is refreshed first, so items that already
    exist do not alert: only those that appear afterwards do.
    """
    events = list(dict.fromkeys(events))
    unknown = [e for e in events if e not in EVENTS]
    if not events or unknown:
        raise SubscriptionError(f"events must be among {', '.join(EVENTS)}"
                                + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    if target not in TARGETS:
        raise SubscriptionError(f"target must be one of {', '.join(TARGETS)}")
    if not community.strip():
        raise SubscriptionError("community is empty")
    if secret is not None and len(secret) < MIN_SECRET_CHARS:
        raise SubscriptionError(f"secret must have at least {MIN_SECRET_CHARS} characters")
    if min_priority is not None and not 0 <= min_priority <= 100:
        raise SubscriptionError("min_priority must be between 0 and 100")
    if sentiment_below is not None and not -1 <= sentiment_below <= 1:
        raise SubscriptionError("sentiment_below must be between -1 and 1")
    url = check_url(url)
    now = now or datetime.now(UTC)
    if "queue_item" in events:
        refresh(store, community, now)
    secret = secret or new_secret()
    sub = store.create_subscription(
        community=community, name=name.strip(), events=events, target=target, url=url,
        secret=secret,
        min_priority=(DEFAULT_MIN_PRIORITY if min_priority is None else min_priority)
        if "queue_item" in events else None,
        sentiment_below=(DEFAULT_SENTIMENT_BELOW if sentiment_below is None else sentiment_below)
        if "sentiment_drop" in events else None,
        now=format_ts(now))
    return sub, secret


def public(sub: dict) -> dict:
    """A subscription as shown after creation: url redacted, no secret."""
    return sub | {"url": redact_url(sub["url"])}
