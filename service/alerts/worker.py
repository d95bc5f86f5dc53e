"""The alert worker: evaluates the subscriptions every ``alerts_interval_s`` and delivers
what is due, in one background thread of the service.

Nothing here runs inside a request and no store lock is held while a receiver is awaited,
so ingest never waits on the network. With ``pulse serve --workers N`` each process runs a
worker: events are queued once (unique per subscription and event id) and each delivery
attempt is claimed by one worker only.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import httpx

from service.alerts.deliver import USER_AGENT, DeliveryConfig, deliver_due, dump
from service.alerts.events import Event, evaluate, ping_event
from service.alerts.payloads import render
from service.store import Store, format_ts

log = logging.getLogger("pulse.alerts")


def queue_events(store: Store, community: str, now: datetime, public_url: str) -> int:
    """Find a community's new events and queue one delivery per subscription; returns how
    many were queued."""
    found = evaluate(store, community, now)
    return len(store.queue_deliveries([_row(sub, e, public_url) for sub, e in found],
                                      format_ts(now)))


def queue_ping(store: Store, sub: dict, public_url: str, now: datetime | None = None) -> int:
    """Queue a test alert to a subscription; returns the delivery id."""
    now = now or datetime.now(UTC)
    event = ping_event(sub["community"], now)
    (delivery_id,) = store.queue_deliveries([_row(sub, event, public_url)], format_ts(now))
    return delivery_id


def new_client(config: DeliveryConfig) -> httpx.Client:
    """Redirects are not followed: a webhook that moved is an error to fix, not to chase."""
    return httpx.Client(timeout=httpx.Timeout(config.timeout_s), follow_redirects=False,
                        headers={"User-Agent": USER_AGENT})


def run_once(store: Store, settings, client: httpx.Client | None = None, metrics=None,
             community: str | None = None, now: datetime | None = None) -> dict[str, int]:
    """One pass: evaluate (one community or all with subscriptions), then deliver what is
    due. Retries stay queued for a later pass. Returns counts."""
    now = now or datetime.now(UTC)
    config = DeliveryConfig.from_settings(settings)
    queued = 0
    for name in [community] if community else store.alert_communities():
        try:
            queued += queue_events(store, name, now, settings.public_url)
        except Exception:  # one community's failure must not silence the others
            log.exception("alert evaluation of %s failed", name)
    own = client is None
    client = client or new_client(config)
    try:
        return {"queued": queued} | deliver_due(store, client, config, metrics)
    finally:
        if own:
            client.close()


class AlertWorker:
    def __init__(self, store: Store, settings, metrics=None) -> None:
        self.store, self.settings, self.metrics = store, settings, metrics
        self.config = DeliveryConfig.from_settings(settings)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._evaluate = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pulse-alerts", daemon=True)
        self._thread.start()

    def wake(self, evaluate: bool = False) -> None:
        """Deliver what is due now (and evaluate the subscriptions now, if asked)."""
        if evaluate:
            self._evaluate.set()
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop after the current attempt. One stuck on a slow receiver is left to time out
        on its own: its row stays claimed and is retried after a restart."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        interval = self.settings.alerts_interval_s
        next_evaluation = 0.0
        with new_client(self.config) as client:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    if self._evaluate.is_set() or time.monotonic() >= next_evaluation:
                        self._evaluate.clear()
                        next_evaluation = time.monotonic() + interval
                        self._evaluate_all()
                    deliver_due(self.store, client, self.config, self.metrics,
                                stop=self._stop.is_set)
                    wait = self._seconds_to_next(next_evaluation)
                except Exception:
                    log.exception("alert worker pass failed")
                    wait = min(interval, 5.0)
                self._wake.wait(wait)
        self.store.close()  # this thread's connection

    def _evaluate_all(self) -> None:
        now = datetime.now(UTC)
        for community in self.store.alert_communities():
            if self._stop.is_set():
                return
            try:
                queue_events(self.store, community, now, self.settings.public_url)
            except Exception:
                log.exception("alert evaluation of %s failed", community)

    def _seconds_to_next(self, next_evaluation: float) -> float:
        wait = next_evaluation - time.monotonic()
        due = self.store.next_due()
        if due is not None:
            until_due = (datetime.fromisoformat(due.replace("Z", "+00:00"))
                         - datetime.now(UTC)).total_seconds()
            wait = min(wait, until_due)
        return max(wait, 0.01)


def _row(sub: dict, event: Event, public_url: str) -> dict:
    return {"subscription_id": sub["id"], "community": event.community, "event": event.type,
            "event_id": event.id,
            "body": dump(render(event, sub["target"], public_url, sub["id"]))}
