"""The store's SQL for the moderators' queue: candidates, items, the audit trail, feedback.

A mixin of ``Store`` (it uses the store's per-thread connection, write lock and
transactions); no other module writes these tables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

ISSUE_INTENTS = ("bug_report", "complaint", "question")


class Conflict(ValueError):
    """The row changed since the caller read it (a concurrent action, or undo out of order)."""


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_ITEM_COLUMNS = ("id, community, kind, ref_id, title, status, assignee, priority, factors,"
                 " created_at, updated_at, scored_at")
_ACTION_COLUMNS = "id, community, item_id, message_id, actor, action, changes, note, at, undoes, undone_by"


def _item(row) -> dict:
    names = [c.strip() for c in _ITEM_COLUMNS.split(",")]
    out = dict(zip(names, row, strict=True))
    out["factors"] = json.loads(out["factors"])
    return out


def _action(row) -> dict:
    names = [c.strip() for c in _ACTION_COLUMNS.split(",")]
    out = dict(zip(names, row, strict=True))
    out["changes"] = json.loads(out["changes"])
    return out


class QueueSQL:
    # -- candidates ----------------------------------------------------------
    def flagged_messages(self, community: str, since: str, until: str,
                         severe_intents: Sequence[str]) -> list[dict]:
        """Messages in [since, until) with a moderation flag or a severe intent."""
        marks = ",".join("?" * len(severe_intents))
        rows = self._db().execute(
            "SELECT id, author_id, ts, text, intent, intent_probs, sentiment_probs, flags,"
            " flag_scores FROM messages WHERE community = ? AND ts >= ? AND ts < ?"
            f" AND (flags != '[]' OR intent IN ({marks})) ORDER BY id",
            [community, since, until, *severe_intents]).fetchall()
        return [{"id": r[0], "author_id": r[1], "ts": r[2], "text": r[3], "intent": r[4],
                 "intent_probs": json.loads(r[5]), "sentiment_probs": json.loads(r[6]),
                 "flags": json.loads(r[7]), "flag_scores": json.loads(r[8])} for r in rows]

    def unanswered_questions(self, community: str, since: str, asked_before: str) -> list[dict]:
        """Questions asked in [since, asked_before) that nobody else has answered.

        An answer is a later message by another member that replies to the question or,
        when the question sits in a thread, any later message by another member there.
        """
        rows = self._db().execute(
            "SELECT q.id, q.author_id, q.ts, q.text, q.topic_id, q.intent_probs,"
            " q.sentiment_probs FROM messages q WHERE q.community = ? AND q.intent = 'question'"
            " AND q.ts >= ? AND q.ts < ? AND " + _NO_ANSWER + " ORDER BY q.id",
            [community, since, asked_before]).fetchall()
        return [{"id": r[0], "author_id": r[1], "ts": r[2], "text": r[3], "topic_id": r[4],
                 "intent_probs": json.loads(r[5]), "sentiment_probs": json.loads(r[6])}
                for r in rows]

    def answered(self, message_ids: Sequence[int]) -> set[int]:
        """Those of ``message_ids`` that now have an answer."""
        ids = list(message_ids)
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = self._db().execute(
            f"SELECT q.id FROM messages q WHERE q.id IN ({marks}) AND NOT ({_NO_ANSWER})",
            ids).fetchall()
        return {r[0] for r in rows}

    def topic_activity(self, community: str, since: str, until: str, split: str) -> dict[int, dict]:
        """Per active topic, messages in [since, until): counts by intent and sentiment,
        distinct members, messages before and after ``split``, mean issue-intent confidence."""
        rows = self._db().execute(
            "SELECT m.topic_id, t.label, m.intent, m.sentiment, count(*), sum(m.ts >= ?),"
            " sum(json_extract(m.intent_probs, '$.' || m.intent))"
            " FROM messages m JOIN topics t ON t.id = m.topic_id AND t.status = 'active'"
            " WHERE m.community = ? AND m.ts >= ? AND m.ts < ?"
            " GROUP BY m.topic_id, m.intent, m.sentiment",
            [split, community, since, until]).fetchall()
        out: dict[int, dict] = {}
        for topic_id, label, intent, sentiment, n, recent, conf in rows:
            t = out.setdefault(topic_id, {"id": topic_id, "label": label, "n": 0, "recent": 0,
                                          "intents": {}, "sentiments": {}, "conf_sum": 0.0})
            t["n"] += n
            t["recent"] += recent
            t["intents"][intent] = t["intents"].get(intent, 0) + n
            t["sentiments"][sentiment] = t["sentiments"].get(sentiment, 0) + n
            if intent in ISSUE_INTENTS:
                t["conf_sum"] += conf or 0.0
        members = self._db().execute(
            "SELECT topic_id, count(DISTINCT author_id) FROM messages WHERE community = ?"
            " AND ts >= ? AND ts < ? AND topic_id IS NOT NULL GROUP BY topic_id",
            [community, since, until]).fetchall()
        for topic_id, n in members:
            if topic_id in out:
                out[topic_id]["members"] = n
        return out

    def topic_statuses(self, topic_ids: Sequence[int]) -> dict[int, str]:
        ids = list(topic_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return dict(self._db().execute(
            f"SELECT id, status FROM topics WHERE id IN ({marks})", ids).fetchall())

    # -- items ---------------------------------------------------------------
    def upsert_queue_items(self, community: str, items: Sequence[dict], now: str,
                           create: bool = True) -> int:
        """Insert new items (status open) or rescore existing ones; status is never touched.

        Returns how many items were created.
        """
        created = 0
        with self._write_lock, self._transaction() as conn:
            for it in items:
                args = (it["title"], it["priority"], _dump(it["factors"]), now)
                cur = conn.execute(
                    "UPDATE queue_items SET title = ?, priority = ?, factors = ?, scored_at = ?"
                    " WHERE community = ? AND kind = ? AND ref_id = ?",
                    (*args, community, it["kind"], it["ref_id"]))
                if cur.rowcount == 0 and create:
                    conn.execute(
                        "INSERT INTO queue_items (community, kind, ref_id, title, priority,"
                        " factors, scored_at, created_at, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (community, it["kind"], it["ref_id"], *args, now, now))
                    created += 1
        return created

    def queue_refs(self, community: str, kind: str, statuses: Sequence[str]) -> dict[int, dict]:
        """ref id -> item for a community's items of one kind in the given statuses."""
        marks = ",".join("?" * len(statuses))
        rows = self._db().execute(
            f"SELECT {_ITEM_COLUMNS} FROM queue_items WHERE community = ? AND kind = ?"
            f" AND status IN ({marks})", [community, kind, *statuses]).fetchall()
        return {r[3]: _item(r) for r in rows}

    def queue_items(self, community: str, statuses: Sequence[str], kind: str | None = None,
                    assignee: str | None = None, limit: int = 50, offset: int = 0,
                    order: str = "priority") -> tuple[list[dict], int]:
        """A page of items and the total. ``order``: priority (highest first, ties: oldest
        item first), newest or oldest (by creation)."""
        marks = ",".join("?" * len(statuses))
        where, params = [f"community = ? AND status IN ({marks})"], [community, *statuses]
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if assignee is not None:
            where.append("assignee = ?")
            params.append(assignee)
        clause = " AND ".join(where)
        total = self._db().execute(f"SELECT count(*) FROM queue_items WHERE {clause}",
                                   params).fetchone()[0]
        rows = self._db().execute(
            f"SELECT {_ITEM_COLUMNS} FROM queue_items WHERE {clause}"
            f" ORDER BY {_ORDERS[order]} LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
        return [_item(r) for r in rows], total

    def queue_item(self, item_id: int) -> dict | None:
        row = self._db().execute(f"SELECT {_ITEM_COLUMNS} FROM queue_items WHERE id = ?",
                                 [item_id]).fetchone()
        return _item(row) if row else None

    # -- actions and feedback ------------------------------------------------
    def record_action(self, *, community: str, actor: str, action: str, changes: dict,
                      item_id: int | None = None, message_id: int | None = None,
                      note: str | None = None, expect: dict | None = None,
                      feedback: dict | None = None, undoes: int | None = None,
                      now: str) -> int:
        """One moderator action in one transaction: check, change the item, log, feedback.

        ``changes``: {item column: [before, after]} applied to the item (status, assignee);
        ``expect`` must match the item's current values or nothing is written (Conflict).
        ``feedback``: {field, value, previous} stored as active feedback on ``message_id``.
        ``undoes``: the action this one reverses; it is marked undone and its feedback
        deactivated. Nothing is ever deleted.
        """
        with self._write_lock, self._transaction() as conn:
            if item_id is not None and expect:
                cols = ", ".join(expect)
                row = conn.execute(f"SELECT {cols} FROM queue_items WHERE id = ?",
                                   [item_id]).fetchone()
                if row is None or list(row) != list(expect.values()):
                    raise Conflict("the item changed since it was read; reload and try again")
            if undoes is not None:
                done = conn.execute("SELECT undone_by FROM queue_actions WHERE id = ?",
                                    [undoes]).fetchone()
                if done is None or done[0] is not None:
                    raise Conflict(f"action {undoes} is already undone")
            cur = conn.execute(
                "INSERT INTO queue_actions (community, item_id, message_id, actor, action,"
                " changes, note, at, undoes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (community, item_id, message_id, actor, action, _dump(changes), note, now, undoes))
            action_id = cur.lastrowid
            item_changes = {k: v[1] for k, v in changes.items() if k in ("status", "assignee")}
            if item_id is not None and item_changes:
                sets = ", ".join(f"{k} = ?" for k in item_changes)
                conn.execute(f"UPDATE queue_items SET {sets}, updated_at = ? WHERE id = ?",
                             [*item_changes.values(), now, item_id])
            if feedback is not None:
                conn.execute(
                    "INSERT INTO feedback (community, message_id, field, value, previous,"
                    " action_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (community, message_id, feedback["field"], _dump(feedback["value"]),
                     _dump(feedback["previous"]), action_id, now))
            if undoes is not None:
                conn.execute("UPDATE queue_actions SET undone_by = ? WHERE id = ?",
                             [action_id, undoes])
                conn.execute("UPDATE feedback SET active = 0 WHERE action_id = ?", [undoes])
        return action_id

    def queue_action(self, action_id: int) -> dict | None:
        row = self._db().execute(f"SELECT {_ACTION_COLUMNS} FROM queue_actions WHERE id = ?",
                                 [action_id]).fetchone()
        return _action(row) if row else None

    def queue_actions(self, item_id: int | None = None,
                      message_id: int | None = None) -> list[dict]:
        """The audit trail of an item or a message, oldest first."""
        column, value = ("item_id", item_id) if item_id is not None else ("message_id", message_id)
        rows = self._db().execute(
            f"SELECT {_ACTION_COLUMNS} FROM queue_actions WHERE {column} = ? ORDER BY id",
            [value]).fetchall()
        return [_action(r) for r in rows]

    def message_feedback(self, message_id: int) -> dict[str, object]:
        """The moderators' current labels of a message: {field: value} (latest active)."""
        rows = self._db().execute(
            "SELECT field, value FROM feedback WHERE message_id = ? AND active = 1 ORDER BY id",
            [message_id]).fetchall()
        return {field: json.loads(value) for field, value in rows}

    def feedback(self, community: str, active_only: bool = True, after_id: int = 0,
                 limit: int = 1000) -> list[dict]:
        """Relabels of a community with the message text, for review and retraining."""
        rows = self._db().execute(
            "SELECT f.id, f.message_id, m.text, m.lang, f.field, f.value, f.previous,"
            " f.action_id, a.actor, f.active, f.at FROM feedback f"
            " JOIN messages m ON m.id = f.message_id JOIN queue_actions a ON a.id = f.action_id"
            " WHERE f.community = ? AND f.id > ? AND (f.active = 1 OR ? = 0) ORDER BY f.id LIMIT ?",
            [community, after_id, int(active_only), limit]).fetchall()
        return [{"id": r[0], "message_id": r[1], "text": r[2], "lang": r[3], "field": r[4],
                 "value": json.loads(r[5]), "previous": json.loads(r[6]), "action_id": r[7],
                 "actor": r[8], "active": bool(r[9]), "at": r[10]} for r in rows]

    # -- per-community settings ----------------------------------------------
    def queue_settings(self, community: str) -> dict | None:
        row = self._db().execute("SELECT queue FROM community_settings WHERE community = ?",
                                 [community]).fetchone()
        return json.loads(row[0]) if row else None

    def set_queue_settings(self, community: str, value: dict, now: str) -> None:
        with self._write_lock, self._transaction() as conn:
            conn.execute(
                "INSERT INTO community_settings (community, queue, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (community) DO UPDATE SET queue = excluded.queue,"
                " updated_at = excluded.updated_at", (community, _dump(value), now))


_ORDERS = {"priority": "priority DESC, id", "newest": "id DESC", "oldest": "id"}

_NO_ANSWER = (  # two lookups, each on its own index (an OR would scan by time)
    "NOT EXISTS (SELECT 1 FROM messages r INDEXED BY messages_reply WHERE r.community = q.community"
    " AND r.reply_to = q.external_id AND r.author_id != q.author_id AND r.ts >= q.ts)"
    " AND NOT (q.thread_id IS NOT NULL AND EXISTS (SELECT 1 FROM messages r INDEXED BY messages_thread"
    " WHERE r.community = q.community AND r.thread_id = q.thread_id AND r.ts >= q.ts"
    " AND r.author_id != q.author_id))"
)
