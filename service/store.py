"""All SQL lives here. One SQLite file (WAL), one writer at a time, schema migrations.

Each thread gets its own connection (sqlite3 objects must not cross threads); writes are
serialised by a lock so a batch is one transaction: all of it lands or none of it does.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sqlite_utils

from service.sql.alerts import AlertSQL
from service.sql.auth import AuthSQL
from service.sql.backup import BackupSQL
from service.sql.custom import CustomSQL
from service.sql.queue import QueueSQL
from service.sql.redaction import RedactionSQL
from service.sql.trends import TrendSQL

MIGRATIONS = [
    # 1: messages with predictions and embedding; import checkpoints.
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        community TEXT NOT NULL,
        channel TEXT NOT NULL,
        author_id TEXT NOT NULL,
        external_id TEXT NOT NULL,
        text TEXT NOT NULL,
        ts TEXT NOT NULL,
        reply_to TEXT,
        thread_id TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        received_at TEXT NOT NULL,
        lang TEXT NOT NULL,
        sentiment TEXT NOT NULL,
        sentiment_probs TEXT NOT NULL,
        intent TEXT NOT NULL,
        intent_probs TEXT NOT NULL,
        flag_scores TEXT NOT NULL,
        flags TEXT NOT NULL,
        models TEXT NOT NULL,
        embedder TEXT NOT NULL,
        embedding BLOB NOT NULL,
        UNIQUE (community, external_id)
    );
    CREATE INDEX messages_community_ts ON messages (community, ts, id);
    CREATE INDEX messages_channel_ts ON messages (community, channel, ts, id);
    CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        fingerprint TEXT NOT NULL UNIQUE,
        position INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        done INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 2: topics, recluster runs and lineage; a message's current topic.
    """
    ALTER TABLE messages ADD COLUMN topic_id INTEGER;
    CREATE INDEX messages_topic ON messages (community, topic_id, ts);
    CREATE TABLE topic_runs (
        id INTEGER PRIMARY KEY,
        community TEXT NOT NULL,
        status TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        n_messages INTEGER,
        n_topics INTEGER,
        unassigned INTEGER,
        params TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        error TEXT
    );
    CREATE TABLE topics (
        id INTEGER PRIMARY KEY,
        community TEXT NOT NULL,
        status TEXT NOT NULL,
        label TEXT NOT NULL,
        keywords TEXT NOT NULL,
        representatives TEXT NOT NULL,
        centroid BLOB NOT NULL,
        threshold REAL NOT NULL,
        size INTEGER NOT NULL,
        created_run INTEGER NOT NULL,
        updated_run INTEGER NOT NULL
    );
    CREATE INDEX topics_community ON topics (community, status);
    CREATE TABLE topic_events (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES topic_runs (id),
        topic_id INTEGER NOT NULL,
        event TEXT NOT NULL,
        related TEXT NOT NULL,
        size_before INTEGER,
        size_after INTEGER
    );
    CREATE INDEX topic_events_topic ON topic_events (topic_id, run_id);
    """,
    # 3: the moderators' queue, its audit trail, relabel feedback, per-community settings.
    """
    CREATE INDEX messages_reply ON messages (community, reply_to);
    CREATE INDEX messages_thread ON messages (community, thread_id, ts);
    CREATE INDEX messages_intent ON messages (community, intent, ts);
    CREATE TABLE queue_items (
        id INTEGER PRIMARY KEY,
        community TEXT NOT NULL,
        kind TEXT NOT NULL,
        ref_id INTEGER NOT NULL,
        title TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',
        assignee TEXT,
        priority REAL NOT NULL,
        factors TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        scored_at TEXT NOT NULL,
        UNIQUE (community, kind, ref_id)
    );
    CREATE INDEX queue_items_rank ON queue_items (community, status, priority DESC, id);
    CREATE TABLE queue_actions (
        id INTEGER PRIMARY KEY,
        community TEXT NOT NULL,
        item_id INTEGER REFERENCES queue_items (id),
        message_id INTEGER REFERENCES messages (id),
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        changes TEXT NOT NULL,
        note TEXT,
        at TEXT NOT NULL,
        undoes INTEGER REFERENCES queue_actions (id),
        undone_by INTEGER REFERENCES queue_actions (id)
    );
    CREATE INDEX queue_actions_item ON queue_actions (item_id, id);
    CREATE INDEX queue_actions_message ON queue_actions (message_id, id);
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        community TEXT NOT NULL,
        message_id INTEGER NOT NULL REFERENCES messages (id),
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        previous TEXT NOT NULL,
        action_id INTEGER NOT NULL REFERENCES queue_actions (id),
        active INTEGER NOT NULL DEFAULT 1,
        at TEXT NOT NULL
    );
    CREATE INDEX feedback_message ON feedback (message_id, field, active);
    CREATE INDEX feedback_community ON feedback (community, active, id);
    CREATE TABLE community_settings (
        community TEXT PRIMARY KEY,
        queue TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 4: API keys (hashed) with role and community scope; dashboard sessions.
    """
    CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL UNIQUE,
        key_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        communities TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        key_id INTEGER NOT NULL REFERENCES api_keys (id),
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    """,
    # 5: alert subscriptions (the HMAC secret in clear: signing needs it) and the delivery
    # log, one row per (subscription, event id): an event alerts a subscription once.
    """
    CREATE TABLE alert_subscriptions (
        id INTEGER PRIMARY KEY,
        community TEXT NOT NULL,
        name TEXT NOT NULL,
        events TEXT NOT NULL,
        target TEXT NOT NULL,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        min_priority REAL,
        sentiment_below REAL,
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        disabled_at TEXT
    );
    CREATE INDEX alert_subscriptions_community ON alert_subscriptions (community, active);
    CREATE TABLE alert_deliveries (
        id INTEGER PRIMARY KEY,
        subscription_id INTEGER NOT NULL REFERENCES alert_subscriptions (id),
        community TEXT NOT NULL,
        event TEXT NOT NULL,
        event_id TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        status_code INTEGER,
        error TEXT,
        log TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        next_attempt_at TEXT,
        delivered_at TEXT,
        updated_at TEXT NOT NULL,
        UNIQUE (subscription_id, event_id)
    );
    CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
    CREATE INDEX alert_deliveries_community ON alert_deliveries (community, id);
    """,
    # 6: per-community PII redaction: a JSON list of kinds, NULL = off.
    """
    ALTER TABLE community_settings ADD COLUMN redaction TEXT;
    """,
    # 7: custom intent heads, every retrain a new version (one active per community), and
    # each message's custom intent as the version active at its ingest predicted it.
    """
    CREATE TABLE custom_heads (
        id INTEGER PRIMARY KEY,
        community TEXT NOT NULL,
        version INTEGER NOT NULL,
        kind TEXT NOT NULL,
        labels TEXT NOT NULL,
        embedder TEXT NOT NULL,
        config TEXT NOT NULL,
        weights BLOB NOT NULL,
        examples TEXT NOT NULL,
        metrics TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 0,
        UNIQUE (community, version)
    );
    CREATE UNIQUE INDEX custom_heads_active ON custom_heads (community) WHERE active = 1;
    ALTER TABLE messages ADD COLUMN custom_intent TEXT;
    ALTER TABLE messages ADD COLUMN custom_intent_prob REAL;
    ALTER TABLE messages ADD COLUMN custom_intent_version INTEGER;
    """,
]

_JSON_COLUMNS = ("metadata", "sentiment_probs", "intent_probs", "flag_scores", "flags", "models")


class StoreError(RuntimeError):
    """The database cannot be opened or written (read-only file, full disk, bad path)."""


@dataclass(frozen=True)
class NewMessage:
    """A validated message with its predictions and embedding, ready to store."""

    community: str
    channel: str
    author_id: str
    external_id: str
    text: str
    ts: str  # ISO-8601 UTC, "YYYY-MM-DDTHH:MM:SS.ffffffZ" (sorts as text)
    reply_to: str | None
    thread_id: str | None
    metadata: dict
    lang: str
    sentiment: str
    sentiment_probs: dict
    intent: str
    intent_probs: dict
    flag_scores: dict
    flags: list
    models: dict
    embedder: str
    embedding: np.ndarray
    topic_id: int | None = None
    custom_intent: str | None = None  # the community's own intent label (or "uncertain")
    custom_intent_prob: float | None = None
    custom_intent_version: int | None = None  # the custom head version that predicted it


@dataclass(frozen=True)
class Checkpoint:
    """An import's progress, committed in the same transaction as its batch."""

    import_id: int
    position: int  # last record number handled
    rejected: int  # records rejected so far (total)
    known: int = 0  # records of this batch found already stored before the insert


@dataclass(frozen=True)
class MessageFilter:
    community: str | None = None
    communities: tuple[str, ...] | None = None  # any of these (a key's scope)
    channel: str | None = None
    since: str | None = None  # inclusive, ISO UTC
    until: str | None = None  # exclusive, ISO UTC
    sentiment: str | None = None
    intent: str | None = None
    flag: str | None = None
    lang: str | None = None
    topic_id: int | None = None


def utc_now() -> str:
    return format_ts(datetime.now(UTC))


def format_ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Store(AlertSQL, AuthSQL, BackupSQL, CustomSQL, QueueSQL, RedactionSQL, TrendSQL):
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc

    # -- connections ---------------------------------------------------------
    def _db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across process kills
            conn.execute("PRAGMA foreign_keys=ON")
            db = self._local.db = sqlite_utils.Database(conn)
        return db

    def _migrate(self) -> None:
        conn = self._db().conn
        with self._write_lock:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
                conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    # -- messages ------------------------------------------------------------
    def known_ids(self, community: str, external_ids: Sequence[str]) -> dict[str, int]:
        """Map of external id -> stored id for those already stored in ``community``."""
        found: dict[str, int] = {}
        ids = list(external_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db().execute(
                f"SELECT external_id, id FROM messages WHERE community = ? "
                f"AND external_id IN ({marks})",
                [community, *chunk],
            )
            found.update(dict(rows.fetchall()))
        return found

    def insert_messages(
        self, messages: Sequence[NewMessage], checkpoint: Checkpoint | None = None
    ) -> list[tuple[int, bool]]:
        """Store new messages in one transaction; known (community, external_id) are skipped.

        Returns (id, created) per input row, in order.

        ``checkpoint`` is written in the same transaction, so an import's progress and its
        messages can never disagree after a crash.
        """
        received = utc_now()
        out: list[tuple[int, bool]] = []
        with self._write_lock, self._transaction() as conn:
            for m in messages:
                cur = conn.execute(
                    "INSERT INTO messages (community, channel, author_id, external_id,"
                    " text, ts, reply_to, thread_id, metadata, received_at, lang, sentiment,"
                    " sentiment_probs, intent, intent_probs, flag_scores, flags, models, embedder,"
                    " embedding, topic_id, custom_intent, custom_intent_prob, custom_intent_version)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT (community, external_id) DO NOTHING",
                    (
                        m.community, m.channel, m.author_id, m.external_id, m.text, m.ts,
                        m.reply_to, m.thread_id, _dump(m.metadata), received, m.lang,
                        m.sentiment, _dump(m.sentiment_probs), m.intent, _dump(m.intent_probs),
                        _dump(m.flag_scores), _dump(m.flags), _dump(m.models), m.embedder,
                        np.asarray(m.embedding, dtype=np.float32).tobytes(), m.topic_id,
                        m.custom_intent, m.custom_intent_prob, m.custom_intent_version,
                    ),
                )
                if cur.rowcount == 1:
                    out.append((cur.lastrowid, True))
                else:
                    row = conn.execute(
                        "SELECT id FROM messages WHERE community = ? AND external_id = ?",
                        (m.community, m.external_id),
                    ).fetchone()
                    out.append((row[0], False))
            if checkpoint is not None:
                made = sum(1 for _, new in out if new)
                conn.execute(
                    "UPDATE imports SET position = ?, rejected = ?, created = created + ?,"
                    " duplicates = duplicates + ?, updated_at = ? WHERE id = ?",
                    (checkpoint.position, checkpoint.rejected, made,
                     len(out) - made + checkpoint.known, received, checkpoint.import_id),
                )
        return out

    def get_message(self, message_id: int) -> dict | None:
        row = self._db().execute(
            f"SELECT {_PUBLIC_COLUMNS} FROM messages WHERE id = ?", [message_id]
        ).fetchone()
        return _row_dict(row) if row else None

    def list_messages(
        self, filters: MessageFilter, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[dict], str | None]:
        """Newest first; returns (page, cursor of the next page or None)."""
        where, params = _where(filters)
        if cursor:
            ts, last_id = decode_cursor(cursor)
            where.append("(ts < ? OR (ts = ? AND id < ?))")
            params += [ts, ts, last_id]
        sql = f"SELECT {_PUBLIC_COLUMNS} FROM messages"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts DESC, id DESC LIMIT ?"
        rows = [_row_dict(r) for r in self._db().execute(sql, [*params, limit + 1]).fetchall()]
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1]["ts"], rows[-1]["id"])
        return rows, next_cursor

    def count_messages(self, community: str | None = None) -> int:
        if community is None:
            return self._db().execute("SELECT count(*) FROM messages").fetchone()[0]
        return self._db().execute(
            "SELECT count(*) FROM messages WHERE community = ?", [community]
        ).fetchone()[0]

    def embeddings(self, community: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of a community's messages, for clustering and search."""
        rows = self._db().execute(
            "SELECT id, embedding FROM messages WHERE community = ? ORDER BY id", [community]
        ).fetchall()
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty((0, 0), dtype=np.float32)
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vectors = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        return ids, vectors

    # -- imports -------------------------------------------------------------
    def start_import(self, source: str, fingerprint: str) -> dict:
        """The checkpoint row of this file (by content fingerprint), created if new."""
        now = utc_now()
        with self._write_lock, self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO imports (source, fingerprint, started_at, updated_at)"
                " VALUES (?, ?, ?, ?)",
                (source, fingerprint, now, now),
            )
        return self.get_import(fingerprint)

    def get_import(self, fingerprint: str) -> dict:
        return next(self._db().query("SELECT * FROM imports WHERE fingerprint = ?", [fingerprint]))

    def import_by_id(self, import_id: int) -> dict | None:
        return next(self._db().query("SELECT * FROM imports WHERE id = ?", [import_id]), None)

    def finish_import(self, import_id: int) -> None:
        with self._write_lock, self._transaction() as conn:
            conn.execute(
                "UPDATE imports SET done = 1, updated_at = ? WHERE id = ?", (utc_now(), import_id)
            )

    # -- topics --------------------------------------------------------------
    def window(self, community: str, since: str, until: str) -> dict:
        """Messages of a community in [since, until): ids, texts, topics, languages, vectors."""
        rows = self._db().execute(
            "SELECT id, text, topic_id, lang, embedding FROM messages WHERE community = ?"
            " AND ts >= ? AND ts < ? ORDER BY id", [community, since, until]).fetchall()
        dim = len(rows[0][4]) // 4 if rows else 0
        return {
            "ids": np.array([r[0] for r in rows], dtype=np.int64),
            "texts": [r[1] for r in rows],
            "topic_ids": [r[2] for r in rows],
            "langs": np.array([r[3] for r in rows]),
            "vectors": (np.frombuffer(b"".join(r[4] for r in rows), dtype=np.float32)
                        .reshape(len(rows), dim) if rows else np.empty((0, 0), np.float32)),
        }

    def active_topics(self, community: str) -> list[dict]:
        rows = self._db().execute(
            "SELECT id, centroid, threshold, size, label FROM topics WHERE community = ?"
            " AND status = 'active' ORDER BY id", [community]).fetchall()
        return [{"id": r[0], "centroid": np.frombuffer(r[1], dtype=np.float32),
                 "threshold": r[2], "size": r[3], "label": r[4]} for r in rows]

    def latest_run_id(self, community: str) -> int:
        row = self._db().execute(
            "SELECT max(id) FROM topic_runs WHERE community = ? AND status = 'done'",
            [community]).fetchone()
        return row[0] or 0

    def start_run(self, community: str, since: str, until: str, params: dict) -> int:
        with self._write_lock, self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO topic_runs (community, status, window_start, window_end, params,"
                " started_at) VALUES (?, 'running', ?, ?, ?, ?)",
                (community, since, until, _dump(params), utc_now()))
            return cur.lastrowid

    def fail_run(self, run_id: int, error: str) -> None:
        with self._write_lock, self._transaction() as conn:
            conn.execute("UPDATE topic_runs SET status = 'failed', error = ?, finished_at = ?"
                         " WHERE id = ?", (error[:2000], utc_now(), run_id))

    def get_run(self, run_id: int) -> dict | None:
        rows = list(self._db().query("SELECT * FROM topic_runs WHERE id = ?", [run_id]))
        if not rows:
            return None
        return rows[0] | {"params": json.loads(rows[0]["params"])}

    def apply_recluster(self, run_id: int, community: str, topics: list[dict],
                        retired: list[tuple[int, str]], events: list[dict],
                        assignments: dict[int, int | None], stats: dict) -> dict[int, int]:
        """Write a recluster in one transaction; returns {new cluster index: topic id}.

        ``topics``: one dict per new cluster with ``id`` (None: create), label, keywords,
        representatives, centroid, threshold, size. ``assignments``: message id -> cluster
        index or None. ``retired``: (topic id, status) of old topics that ended.
        """
        ids: dict[int, int] = {}
        with self._write_lock, self._transaction() as conn:
            for index, t in enumerate(topics):
                values = (t["label"], _dump(t["keywords"]), _dump(t["representatives"]),
                          np.asarray(t["centroid"], np.float32).tobytes(), float(t["threshold"]),
                          int(t["size"]), run_id)
                if t["id"] is None:
                    cur = conn.execute(
                        "INSERT INTO topics (community, status, label, keywords, representatives,"
                        " centroid, threshold, size, created_run, updated_run)"
                        " VALUES (?, 'active', ?, ?, ?, ?, ?, ?, ?, ?)",
                        (community, *values, run_id))
                    ids[index] = cur.lastrowid
                else:
                    conn.execute(
                        "UPDATE topics SET status = 'active', label = ?, keywords = ?,"
                        " representatives = ?, centroid = ?, threshold = ?, size = ?,"
                        " updated_run = ? WHERE id = ?", (*values, t["id"]))
                    ids[index] = t["id"]
            for topic_id, status in retired:
                conn.execute("UPDATE topics SET status = ?, updated_run = ? WHERE id = ?",
                             (status, run_id, topic_id))
            for e in events:
                topic_id = e["topic_id"] if "topic_id" in e else ids[e["cluster"]]
                conn.execute(
                    "INSERT INTO topic_events (run_id, topic_id, event, related, size_before,"
                    " size_after) VALUES (?, ?, ?, ?, ?, ?)",
                    (run_id, topic_id, e["event"], _dump(e["related"]), e["size_before"],
                     e["size_after"]))
            conn.executemany("UPDATE messages SET topic_id = ? WHERE id = ?",
                             [(ids.get(c) if c is not None else None, mid)
                              for mid, c in assignments.items()])
            conn.execute(
                "UPDATE topic_runs SET status = 'done', finished_at = ?, n_messages = ?,"
                " n_topics = ?, unassigned = ? WHERE id = ?",
                (utc_now(), stats["n_messages"], stats["n_topics"], stats["unassigned"], run_id))
        return ids

    def topics(self, community: str, status: str | None = "active",
               topic_id: int | None = None) -> list[dict]:
        """Topics with their live statistics, computed from the messages (nothing cached)."""
        where, params = ["t.community = ?"], [community]
        if status is not None:
            where.append("t.status = ?")
            params.append(status)
        if topic_id is not None:
            where.append("t.id = ?")
            params.append(topic_id)
        sql = (
            "SELECT t.id, t.community, t.status, t.label, t.keywords, t.representatives,"
            " t.created_run,"
            " t.updated_run, count(m.id), count(DISTINCT m.author_id), min(m.ts), max(m.ts)"
            " FROM topics t LEFT JOIN messages m ON m.topic_id = t.id AND m.community = t.community"
            f" WHERE {' AND '.join(where)} GROUP BY t.id ORDER BY count(m.id) DESC, t.id")
        out = []
        for r in self._db().execute(sql, params).fetchall():
            out.append({"id": r[0], "community": r[1], "status": r[2], "label": r[3],
                        "keywords": json.loads(r[4]), "representatives": json.loads(r[5]),
                        "created_run": r[6], "updated_run": r[7], "size": r[8], "members": r[9],
                        "first_seen": r[10], "last_seen": r[11]})
        return out

    def topic(self, topic_id: int) -> dict | None:
        row = self._db().execute("SELECT community FROM topics WHERE id = ?", [topic_id]).fetchone()
        if row is None:
            return None
        return self.topics(row[0], status=None, topic_id=topic_id)[0]

    def embedding(self, message_id: int, community: str) -> np.ndarray | None:
        row = self._db().execute("SELECT embedding FROM messages WHERE id = ? AND community = ?",
                                 [message_id, community]).fetchone()
        return np.frombuffer(row[0], dtype=np.float32) if row else None

    def topic_breakdown(self, topic_id: int, column: str) -> dict[str, int]:
        """Counts per sentiment, intent or day (column: sentiment | intent | day)."""
        expr = {"sentiment": "sentiment", "intent": "intent", "day": "substr(ts, 1, 10)"}[column]
        rows = self._db().execute(
            f"SELECT {expr}, count(*) FROM messages WHERE topic_id = ? GROUP BY 1 ORDER BY 1",
            [topic_id]).fetchall()
        return dict(rows)

    def topic_events(self, topic_id: int) -> list[dict]:
        rows = self._db().execute(
            "SELECT e.run_id, r.finished_at, e.event, e.related, e.size_before, e.size_after"
            " FROM topic_events e JOIN topic_runs r ON r.id = e.run_id WHERE e.topic_id = ?"
            " ORDER BY e.run_id", [topic_id]).fetchall()
        return [{"run_id": r[0], "at": r[1], "event": r[2], "related": json.loads(r[3]),
                 "size_before": r[4], "size_after": r[5]} for r in rows]

    def latest_ts(self, community: str) -> str | None:
        return self._db().execute("SELECT max(ts) FROM messages WHERE community = ?",
                                  [community]).fetchone()[0]

    def texts(self, message_ids: Sequence[int]) -> dict[int, str]:
        ids = list(message_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return dict(self._db().execute(
            f"SELECT id, text FROM messages WHERE id IN ({marks})", ids).fetchall())

    # -- helpers -------------------------------------------------------------
    def _transaction(self):
        return _Transaction(self._db().conn)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (nothing half-written)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"database unavailable for writing: {exc}") from exc
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
                return
            except sqlite3.Error as commit_error:
                self._rollback()
                raise StoreError(f"write failed: {commit_error}") from commit_error
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"write failed: {exc}") from exc

    def _rollback(self) -> None:
        # On a full disk or an I/O error SQLite may have rolled back by itself; a second
        # ROLLBACK would fail and hide the real error ("database or disk is full").
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


_PUBLIC_COLUMNS = (
    "id, community, channel, author_id, external_id, text, ts, reply_to, thread_id, metadata,"
    " received_at, lang, sentiment, sentiment_probs, intent, intent_probs, flag_scores, flags,"
    " models, topic_id, custom_intent, custom_intent_prob, custom_intent_version"
)


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _row_dict(row: tuple) -> dict:
    names = [c.strip() for c in _PUBLIC_COLUMNS.split(",")]
    out = dict(zip(names, row, strict=True))
    for key in _JSON_COLUMNS:
        out[key] = json.loads(out[key])
    return out


def _where(f: MessageFilter) -> tuple[list[str], list]:
    clauses, params = [], []
    for column in ("community", "channel", "sentiment", "intent", "lang", "topic_id"):
        value = getattr(f, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if f.communities is not None:
        clauses.append(f"community IN ({','.join('?' * len(f.communities))})")
        params.extend(f.communities)
    if f.since is not None:
        clauses.append("ts >= ?")
        params.append(f.since)
    if f.until is not None:
        clauses.append("ts < ?")
        params.append(f.until)
    if f.flag is not None:
        clauses.append("EXISTS (SELECT 1 FROM json_each(messages.flags) WHERE value = ?)")
        params.append(f.flag)
    return clauses, params


def encode_cursor(ts: str, message_id: int) -> str:
    return base64.urlsafe_b64encode(f"{ts}|{message_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, int]:
    """Raises ValueError on a cursor this store did not make."""
    try:
        ts, message_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return ts, int(message_id)
    except Exception as exc:  # any malformed input is the caller's error
        raise ValueError("invalid cursor") from exc

