"""The store's SQL for alerts: subscriptions and the delivery log.

A mixin of ``Store``. A delivery is one row per (subscription, event id) — the unique
constraint is what makes an event alert at most once per subscription, whoever evaluates
it (the service, a second worker process, ``pulse alerts run``). Pending rows are the
retry queue: they survive restarts and are picked up again when due.

The subscription's secret is stored as given: HMAC signing needs it in clear (a hash
could only verify, not sign). Only ``due_deliveries`` reads it back, for signing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

MAX_LOG = 20  # attempts kept per delivery

_SUB_COLUMNS = ("id, community, name, events, target, url, min_priority, sentiment_below,"
                " active, created_at, disabled_at")
_DELIVERY_COLUMNS = ("d.id, d.subscription_id, d.community, d.event, d.event_id, d.status,"
                     " d.attempts, d.status_code, d.error, d.log, d.created_at, d.next_attempt_at,"
                     " d.delivered_at, d.updated_at, d.body, s.target")


def _subscription(row) -> dict:
    names = [c.strip() for c in _SUB_COLUMNS.split(",")]
    out = dict(zip(names, row, strict=True))
    out["events"] = json.loads(out["events"])
    out["active"] = bool(out["active"])
    return out


def _delivery(row) -> dict:
    names = [c.strip()[2:] for c in _DELIVERY_COLUMNS.split(",")]
    out = dict(zip(names, row, strict=True))
    out["log"] = json.loads(out["log"])
    out["payload"] = json.loads(out.pop("body"))
    return out


class AlertSQL:
    # -- subscriptions -------------------------------------------------------
    def create_subscription(self, *, community: str, name: str, events: Sequence[str],
                            target: str, url: str, secret: str, min_priority: float | None,
                            sentiment_below: float | None, now: str) -> dict:
        with self._write_lock, self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO alert_subscriptions (community, name, events, target, url, secret,"
                " min_priority, sentiment_below, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (community, name, json.dumps(list(events)), target, url, secret, min_priority,
                 sentiment_below, now))
            new_id = cur.lastrowid
        return self.subscription(new_id)

    def subscription(self, subscription_id: int) -> dict | None:
        row = self._db().execute(f"SELECT {_SUB_COLUMNS} FROM alert_subscriptions WHERE id = ?",
                                 [subscription_id]).fetchone()
        return _subscription(row) if row else None

    def subscriptions(self, community: str | None = None, active_only: bool = True) -> list[dict]:
        where, params = [], []
        if community is not None:
            where.append("community = ?")
            params.append(community)
        if active_only:
            where.append("active = 1")
        sql = f"SELECT {_SUB_COLUMNS} FROM alert_subscriptions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_subscription(r) for r in self._db().execute(sql + " ORDER BY id", params)]

    def disable_subscription(self, subscription_id: int, now: str) -> dict | None:
        """Mark inactive (nothing is deleted) and cancel its pending deliveries."""
        with self._write_lock, self._transaction() as conn:
            conn.execute("UPDATE alert_subscriptions SET active = 0, disabled_at = ?"
                         " WHERE id = ? AND active = 1", (now, subscription_id))
            conn.execute("UPDATE alert_deliveries SET status = 'cancelled', next_attempt_at = NULL,"
                         " error = 'subscription disabled', updated_at = ?"
                         " WHERE subscription_id = ? AND status = 'pending'",
                         (now, subscription_id))
        return self.subscription(subscription_id)

    def alert_communities(self) -> list[str]:
        """Communities with at least one active subscription."""
        rows = self._db().execute("SELECT DISTINCT community FROM alert_subscriptions"
                                  " WHERE active = 1 ORDER BY community").fetchall()
        return [r[0] for r in rows]

    # -- events --------------------------------------------------------------
    def alerted_queue_items(self, community: str, min_priority: float, since: str) -> list[dict]:
        """Open or acknowledged queue items created after ``since`` with a priority of at
        least ``min_priority``."""
        rows = self._db().execute(
            "SELECT id, kind, ref_id, title, status, priority, factors, created_at"
            " FROM queue_items WHERE community = ? AND status IN ('open', 'acknowledged')"
            " AND priority >= ? AND created_at > ? ORDER BY id",
            [community, min_priority, since]).fetchall()
        return [{"id": r[0], "kind": r[1], "ref_id": r[2], "title": r[3], "status": r[4],
                 "priority": r[5], "factors": json.loads(r[6]), "created_at": r[7]} for r in rows]

    def known_events(self, subscription_id: int, event_ids: Sequence[str]) -> set[str]:
        """Those of ``event_ids`` already queued (in any state) for the subscription."""
        ids, found = list(event_ids), set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._db().execute(
                f"SELECT event_id FROM alert_deliveries WHERE subscription_id = ?"
                f" AND event_id IN ({marks})", [subscription_id, *chunk]))
        return found

    # -- deliveries ----------------------------------------------------------
    def queue_deliveries(self, rows: Sequence[dict], now: str) -> list[int]:
        """Insert pending deliveries (subscription_id, community, event, event_id, body),
        due now; an event already queued for a subscription is skipped. Returns new ids."""
        made = []
        with self._write_lock, self._transaction() as conn:
            for r in rows:
                cur = conn.execute(
                    "INSERT INTO alert_deliveries (subscription_id, community, event, event_id,"
                    " body, created_at, next_attempt_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (subscription_id, event_id) DO NOTHING",
                    (r["subscription_id"], r["community"], r["event"], r["event_id"], r["body"],
                     now, now, now))
                if cur.rowcount == 1:
                    made.append(cur.lastrowid)
        return made

    def due_deliveries(self, now: str, limit: int = 100) -> list[dict]:
        """Pending deliveries due at ``now``, oldest first, with what sending needs:
        the subscription's url, secret, target and whether it is still active."""
        rows = self._db().execute(
            "SELECT d.id, d.subscription_id, d.event, d.event_id, d.body, d.attempts,"
            " d.next_attempt_at, s.url, s.secret, s.target, s.active"
            " FROM alert_deliveries d JOIN alert_subscriptions s ON s.id = d.subscription_id"
            " WHERE d.status = 'pending' AND d.next_attempt_at <= ?"
            " ORDER BY d.next_attempt_at, d.id LIMIT ?", [now, limit]).fetchall()
        names = ("id", "subscription_id", "event", "event_id", "body", "attempts",
                 "next_attempt_at", "url", "secret", "target", "active")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def next_due(self) -> str | None:
        return self._db().execute("SELECT min(next_attempt_at) FROM alert_deliveries"
                                  " WHERE status = 'pending'").fetchone()[0]

    def claim_delivery(self, delivery_id: int, seen_next: str, lease_until: str, now: str) -> bool:
        """Take a due delivery for one attempt (compare-and-set on its next attempt time, so
        two workers never send the same row at once). Until ``lease_until`` nobody else
        picks it; a worker that dies mid-attempt leaves it due again after that."""
        with self._write_lock, self._transaction() as conn:
            cur = conn.execute(
                "UPDATE alert_deliveries SET next_attempt_at = ?, updated_at = ? WHERE id = ?"
                " AND status = 'pending' AND next_attempt_at = ?",
                (lease_until, now, delivery_id, seen_next))
            return cur.rowcount == 1

    def record_attempt(self, delivery_id: int, *, status: str, status_code: int | None,
                       error: str | None, next_attempt_at: str | None, entry: dict,
                       now: str) -> None:
        """One attempt's outcome: ``status`` pending (retry at ``next_attempt_at``),
        delivered, failed or cancelled."""
        with self._write_lock, self._transaction() as conn:
            row = conn.execute("SELECT log FROM alert_deliveries WHERE id = ?",
                               [delivery_id]).fetchone()
            log = (json.loads(row[0]) if row else []) + [entry]
            conn.execute(
                "UPDATE alert_deliveries SET status = ?, attempts = attempts + ?, status_code = ?,"
                " error = ?, next_attempt_at = ?, log = ?, updated_at = ?,"
                " delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END"
                " WHERE id = ?",
                (status, 0 if status == "cancelled" else 1, status_code, error, next_attempt_at,
                 json.dumps(log[-MAX_LOG:]), now, status, now, delivery_id))

    def deliveries(self, community: str | None = None, status: str | None = None,
                   subscription_id: int | None = None, event: str | None = None,
                   before_id: int | None = None, limit: int = 50) -> list[dict]:
        """The delivery log, newest first."""
        where, params = [], []
        for column, value in (("d.community", community), ("d.status", status),
                              ("d.subscription_id", subscription_id), ("d.event", event)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if before_id is not None:
            where.append("d.id < ?")
            params.append(before_id)
        sql = (f"SELECT {_DELIVERY_COLUMNS} FROM alert_deliveries d"
               " JOIN alert_subscriptions s ON s.id = d.subscription_id")
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db().execute(sql + " ORDER BY d.id DESC LIMIT ?", [*params, limit])
        return [_delivery(r) for r in rows.fetchall()]

    def delivery(self, delivery_id: int) -> dict | None:
        row = self._db().execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM alert_deliveries d"
            " JOIN alert_subscriptions s ON s.id = d.subscription_id WHERE d.id = ?",
            [delivery_id]).fetchone()
        return _delivery(row) if row else None
