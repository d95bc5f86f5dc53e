"""Delivery: one signed POST per attempt, retried with exponential backoff, every attempt
written to the delivery log.

Each request carries
  X-Pulse-Event       the event type (queue_item, topic_spiking, sentiment_drop, ...)
  X-Pulse-Event-Id    the event's id: delivery is at least once, receivers dedupe on it
  X-Pulse-Timestamp   unix seconds when this attempt was signed
  X-Pulse-Signature   sha256=<hex HMAC-SHA256 of "{timestamp}.{body}" keyed with the secret>
A receiver recomputes the HMAC over the raw body and rejects a timestamp older than five
minutes (``verify`` below does both): a replayed request carries its old timestamp, and a
new timestamp would not match the signature.

Retried: network errors, timeouts, 408, 425, 429 and 5xx, after ``backoff_s`` doubled per
attempt (or the receiver's longer Retry-After), up to ``max_attempts``. Not retried: 3xx
and other 4xx — the url or the request is wrong and sending it again will not help.
A retry is a row with a later ``next_attempt_at``, not a sleeping thread: it survives a
restart and never holds up other deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from service import __version__
from service.alerts.subscriptions import redact_url
from service.store import Store, format_ts

log = logging.getLogger("pulse.alerts")

SIGNATURE_TOLERANCE_S = 300
MAX_DELAY_S = 3600
LEASE_MARGIN_S = 30
RESPONSE_SNIPPET = 200
USER_AGENT = f"CommunityPulse-Webhook/{__version__}"
RETRY_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class DeliveryConfig:
    timeout_s: float = 10.0
    max_attempts: int = 6
    backoff_s: float = 1.0

    @classmethod
    def from_settings(cls, settings) -> DeliveryConfig:
        return cls(settings.alerts_timeout_s, settings.alerts_max_attempts,
                   settings.alerts_backoff_s)


@dataclass(frozen=True)
class Attempt:
    outcome: str  # delivered | retry | failed
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    ms: float = 0.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, body: bytes, timestamp: str | None, signature: str | None,
           now: float | None = None, tolerance_s: float = SIGNATURE_TOLERANCE_S) -> bool:
    """The receiver's check: a recent timestamp and a signature that matches it."""
    try:
        ts = int(timestamp or "")
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature or "")


def request_headers(event: str, event_id: str, secret: str, body: bytes,
                    timestamp: int) -> dict[str, str]:
    return {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
            "X-Pulse-Event": event, "X-Pulse-Event-Id": event_id,
            "X-Pulse-Timestamp": str(timestamp),
            "X-Pulse-Signature": sign(secret, timestamp, body)}


def send(client: httpx.Client, url: str, secret: str, event: str, event_id: str,
         body: bytes) -> Attempt:
    """One POST, signed now; never raises."""
    timestamp = int(time.time())
    start = time.perf_counter()
    try:
        with client.stream("POST", url, content=body,
                           headers=request_headers(event, event_id, secret, body, timestamp)) as r:
            snippet = _snippet(r) if not 200 <= r.status_code < 300 else ""
    except httpx.HTTPError as exc:  # connect/read/write timeouts, refused, reset, protocol
        return Attempt("retry", error=_error(exc, url), ms=_ms(start))
    except (httpx.InvalidURL, ValueError) as exc:
        return Attempt("failed", error=_error(exc, url), ms=_ms(start))
    code = r.status_code
    if 200 <= code < 300:
        return Attempt("delivered", code, ms=_ms(start))
    retry = code in RETRY_STATUSES or code >= 500
    error = f"HTTP {code}" + (f": {snippet}" if snippet else "")
    return Attempt("retry" if retry else "failed", code, error,
                   parse_retry_after(r.headers.get("retry-after")) if retry else None, _ms(start))


def next_delay(attempts: int, config: DeliveryConfig, retry_after: float | None = None) -> float:
    """Seconds before attempt ``attempts + 1``: backoff_s · 2^(attempts-1), or the
    receiver's Retry-After when longer; at most an hour."""
    delay = config.backoff_s * 2 ** (attempts - 1)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_DELAY_S)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def deliver_due(store: Store, client: httpx.Client, config: DeliveryConfig, metrics=None,
                limit: int = 100, stop: Callable[[], bool] | None = None) -> dict[str, int]:
    """Attempt every delivery due now (oldest first); returns counts per outcome."""
    counts: Counter[str] = Counter()
    for row in store.due_deliveries(format_ts(datetime.now(UTC)), limit):
        if stop is not None and stop():
            break
        outcome = deliver_one(store, client, config, row, metrics)
        if outcome is not None:
            counts[outcome] += 1
    return dict(counts)


def deliver_one(store: Store, client: httpx.Client, config: DeliveryConfig, row: dict,
                metrics=None) -> str | None:
    """One attempt of a due delivery; None when another worker took it first."""
    now = datetime.now(UTC)
    if not row["active"]:  # disabled between queueing and now
        store.record_attempt(row["id"], status="cancelled", status_code=None,
                             error="subscription disabled", next_attempt_at=None,
                             entry={"at": format_ts(now), "error": "subscription disabled"},
                             now=format_ts(now))
        _count(metrics, row["target"], "cancelled")
        return "cancelled"
    # connect, write, read and pool each get the timeout: the lease outlasts all four.
    lease = now + timedelta(seconds=4 * config.timeout_s + LEASE_MARGIN_S)
    if not store.claim_delivery(row["id"], row["next_attempt_at"], format_ts(lease),
                                format_ts(now)):
        return None
    attempt = send(client, row["url"], row["secret"], row["event"], row["event_id"],
                   row["body"].encode("utf-8"))
    n, done = row["attempts"] + 1, datetime.now(UTC)
    if attempt.outcome == "delivered":
        status, next_at = "delivered", None
    elif attempt.outcome == "retry" and n < config.max_attempts:
        delay = next_delay(n, config, attempt.retry_after)
        status, next_at = "pending", format_ts(done + timedelta(seconds=delay))
    else:
        status, next_at = "failed", None
    entry = {"attempt": n, "at": format_ts(done), "status_code": attempt.status_code,
             "error": attempt.error, "ms": attempt.ms}
    store.record_attempt(row["id"], status=status, status_code=attempt.status_code,
                         error=attempt.error, next_attempt_at=next_at, entry=entry,
                         now=format_ts(done))
    outcome = "retry" if status == "pending" else status
    _count(metrics, row["target"], outcome)
    log.info("alert delivery %s (%s, subscription %s) attempt %s: %s%s", row["id"],
             row["event"], row["subscription_id"], n, outcome,
             f" (HTTP {attempt.status_code})" if attempt.status_code else "")
    return outcome


def dump(payload: dict) -> str:
    """The exact body that is stored, signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _count(metrics, target: str, outcome: str) -> None:
    if metrics is not None:
        metrics.alert_deliveries.labels(target, outcome).inc()


def _snippet(response: httpx.Response) -> str:
    """The start of an error response (Slack says e.g. 'invalid_payload'), read no further."""
    data = b""
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= RESPONSE_SNIPPET:
                break
    except httpx.HTTPError:
        pass
    return " ".join(data[:RESPONSE_SNIPPET].decode("utf-8", "replace").split())


def _error(exc: Exception, url: str) -> str:
    """The error without the url (its path or query may be a credential)."""
    text = f"{type(exc).__name__}: {exc}".replace(url, redact_url(url))
    return text[:300]


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
