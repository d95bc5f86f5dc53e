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
    channel: str | None = None
    since: str | None = None  # inclusive, ISO UTC
    until: str | None = None  # exclusive, ISO UTC
    sentiment: str | None = None
    intent: str | None = None
    flag: str | None = None
    lang: str | None = None


def utc_now() -> str:
    return format_ts(datetime.now(UTC))


def format_ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Store:
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
                    " embedding) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT (community, external_id) DO NOTHING",
                    (
                        m.community, m.channel, m.author_id, m.external_id, m.text, m.ts,
                        m.reply_to, m.thread_id, _dump(m.metadata), received, m.lang,
                        m.sentiment, _dump(m.sentiment_probs), m.intent, _dump(m.intent_probs),
                        _dump(m.flag_scores), _dump(m.flags), _dump(m.models), m.embedder,
                        np.asarray(m.embedding, dtype=np.float32).tobytes(),
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

    def finish_import(self, import_id: int) -> None:
        with self._write_lock, self._transaction() as conn:
            conn.execute(
                "UPDATE imports SET done = 1, updated_at = ? WHERE id = ?", (utc_now(), import_id)
            )

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
                self.conn.execute("ROLLBACK")
                raise StoreError(f"write failed: {commit_error}") from commit_error
        self.conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"write failed: {exc}") from exc


_PUBLIC_COLUMNS = (
    "id, community, channel, author_id, external_id, text, ts, reply_to, thread_id, metadata,"
    " received_at, lang, sentiment, sentiment_probs, intent, intent_probs, flag_scores, flags,"
    " models"
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
    for column in ("community", "channel", "sentiment", "intent", "lang"):
        value = getattr(f, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
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

