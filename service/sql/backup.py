"""The store's SQL for backups, restores and exports (a mixin of ``Store``, plus ``Snapshot``).

Every read here runs in one read transaction on a connection of its own (``Snapshot``). In
WAL mode that is a snapshot: the service goes on writing while the copy sees the database
as it was at its first read, so a backup or an export is consistent. It matters for
SQLite's online backup API too: copied in steps, it restarts whenever another connection
commits between two steps, and under steady ingest it never finishes (measured here: a
40 MB file with a writer committing every 10 ms was still restarting after 120 s; inside a
snapshot the same copy took 0.45 s without a restart).

A community's rows are those of every table with a ``community`` column, plus
``topic_events`` through their run. ``imports`` (file checkpoints), ``api_keys`` and
``sessions`` belong to no community: they travel only in whole-database backups. A table
that fits neither rule, or a foreign key this module does not know, stops the copy
(``BackupError``): a new migration cannot silently leave data out of a backup.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

GLOBAL_TABLES = ("imports", "api_keys", "sessions")
VIA_PARENT = {"topic_events": ("run_id", "topic_runs")}  # table: (column, parent table)
INFO_TABLE = "backup_info"  # only in backup files: what the file holds

# Columns holding ids of other rows: a community restored beside other communities may need
# its ids moved (ids are per table, not per community). "[t]" is a JSON list of t's ids.
REFS = {
    "messages": {"topic_id": "topics"},
    "topics": {"created_run": "topic_runs", "updated_run": "topic_runs",
               "representatives": "[messages]"},
    "topic_events": {"run_id": "topic_runs", "topic_id": "topics", "related": "[topics]"},
    "queue_items": {"ref_id": "kind"},  # see ITEM_REFS
    "queue_actions": {"item_id": "queue_items", "message_id": "messages",
                      "undoes": "queue_actions", "undone_by": "queue_actions"},
    "feedback": {"message_id": "messages", "action_id": "queue_actions"},
    "alert_deliveries": {"subscription_id": "alert_subscriptions"},
}
ITEM_REFS = {"flagged": "messages", "unanswered": "messages", "recurring": "topics"}

Progress = Callable[[int], object]


class BackupError(RuntimeError):
    """A backup, restore or export that cannot be done as asked (the message says why)."""


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY rowid")]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _has_id(conn: sqlite3.Connection, table: str) -> bool:
    """True when ``id`` is the table's INTEGER PRIMARY KEY (the rowid)."""
    return any(r[1] == "id" and r[5] == 1 and r[2].upper() == "INTEGER"
               for r in conn.execute(f'PRAGMA table_info("{table}")'))


def community_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables holding a community's rows, in creation order; unknown tables refuse."""
    out = []
    for table in _tables(conn):
        if table in GLOBAL_TABLES or table == INFO_TABLE:
            continue
        if table not in VIA_PARENT and "community" not in _columns(conn, table):
            raise BackupError(f"table {table} has no community column and no rule in "
                              "service/sql/backup.py: add one before backing up")
        out.append(table)
    for table in out:
        declared = {r[3] for r in conn.execute(f'PRAGMA foreign_key_list("{table}")')}
        unknown = declared - set(REFS.get(table, {}))
        if unknown:
            raise BackupError(f"{table}.{', '.join(sorted(unknown))} refers to other rows but "
                              "has no entry in REFS of service/sql/backup.py")
    return out


def _where(table: str) -> str:
    if table in VIA_PARENT:
        column, parent = VIA_PARENT[table]
        return f"{column} IN (SELECT id FROM {parent} WHERE community = ?)"
    return "community = ?"


class Snapshot:
    """A connection holding one read transaction: one consistent view of a database file.

    ``readonly`` opens the file read-only (backup files being restored or inspected).
    """

    def __init__(self, path: Path | str, readonly: bool = False) -> None:
        self.path = Path(path)
        uri = self.path.resolve().as_uri() + ("?mode=ro" if readonly else "")
        try:
            self.conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
            self.conn.execute("BEGIN")
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot
            self.version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise BackupError(f"cannot read {self.path} as a database: {exc}") from exc

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def tables(self) -> list[str]:
        return _tables(self.conn)

    def columns(self, table: str) -> list[str]:
        return _columns(self.conn, table)

    def community_tables(self) -> list[str]:
        return community_tables(self.conn)

    def quick_check(self) -> str:
        return "; ".join(r[0] for r in self.conn.execute("PRAGMA quick_check"))

    def info(self) -> dict:
        """What a backup file says it holds (empty for a live database)."""
        if INFO_TABLE not in self.tables():
            return {}
        return {k: json.loads(v) for k, v in self.conn.execute(f"SELECT key, value FROM {INFO_TABLE}")}

    def communities(self) -> list[str]:
        found: set[str] = set()
        for table in self.community_tables():
            if table not in VIA_PARENT:
                found.update(r[0] for r in self.conn.execute(f"SELECT DISTINCT community FROM {table}"))
        return sorted(found)

    def count(self, table: str, community: str | None = None) -> int:
        if community is None:
            return self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return self.conn.execute(f"SELECT count(*) FROM {table} WHERE {_where(table)}",
                                 [community]).fetchone()[0]

    def counts(self, community: str | None = None) -> dict[str, int]:
        tables = self.community_tables() if community else self.tables()
        return {t: self.count(t, community) for t in tables if t != INFO_TABLE}

    def id_range(self, table: str, community: str) -> tuple[int | None, int | None]:
        return self.conn.execute(f"SELECT min(id), max(id) FROM {table} WHERE {_where(table)}",
                                 [community]).fetchone()

    def rows(self, table: str, community: str, columns: list[str],
             batch: int = 2000) -> Iterator[list[tuple]]:
        """The community's rows of ``table`` in rowid order, ``batch`` at a time."""
        cur = self.conn.execute(
            f"SELECT {', '.join(columns)} FROM {table} WHERE {_where(table)} ORDER BY rowid",
            [community])
        while chunk := cur.fetchmany(batch):
            yield chunk

    def page_count(self) -> int:
        return self.conn.execute("PRAGMA page_count").fetchone()[0]

    def backup_to(self, path: Path, progress: Progress | None = None) -> None:
        target = sqlite3.connect(path)
        try:
            self.backup_into(target, progress)
        finally:
            target.close()

    def backup_into(self, target: sqlite3.Connection, progress: Progress | None = None,
                    pages: int = 1024) -> None:
        """Copy the whole snapshot page by page (SQLite's online backup) into ``target``."""
        done = 0

        def step(status, remaining, total):
            nonlocal done
            if progress is not None:
                progress(total - remaining - done)
            done = total - remaining

        self.conn.backup(target, pages=pages, progress=step)


def finish_backup_file(path: Path, info: dict) -> str:
    """Make a written backup a single self-describing file; returns its quick_check."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")  # one file: no -wal/-shm beside it
        conn.execute(f"CREATE TABLE IF NOT EXISTS {INFO_TABLE} (key TEXT PRIMARY KEY,"
                     " value TEXT NOT NULL)")
        conn.executemany(f"INSERT OR REPLACE INTO {INFO_TABLE} (key, value) VALUES (?, ?)",
                         [(k, _dump(v)) for k, v in info.items()])
        return "; ".join(r[0] for r in conn.execute("PRAGMA quick_check"))
    finally:
        conn.close()


class BackupSQL:
    """Mixin of ``Store``: snapshots of this database, loading a community, whole restores."""

    def snapshot(self) -> Snapshot:
        return Snapshot(self.path)

    def table_counts(self) -> dict[str, int]:
        """Rows per table of this database (an empty database has none anywhere)."""
        db = self._db()
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in _tables(db.conn)}

    def community_counts(self, community: str) -> dict[str, int]:
        conn = self._db().conn
        return {t: conn.execute(f"SELECT count(*) FROM {t} WHERE {_where(t)}",
                                [community]).fetchone()[0] for t in community_tables(conn)}

    def load_community(self, source: Snapshot, community: str, replace: bool = False,
                       progress: Progress | None = None) -> dict[str, int]:
        """Copy one community's rows from ``source`` into this database in one transaction.

        With ``replace`` the community's present rows go first (in the same transaction).
        Ids that are free here are kept; a table whose incoming ids are taken (by another
        community) is moved above this database's largest id, with every reference to it.
        """
        tables = [t for t in source.community_tables() if t in _tables(self._db().conn)]
        copied: dict[str, int] = {}
        with self._write_lock, self._transaction() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")  # undone_by points forward
            if replace:
                self._delete_community(conn, community)
            offsets = self._offsets(conn, source, community, tables)
            for table in tables:
                mine = set(_columns(conn, table))
                columns = [c for c in source.columns(table) if c in mine]
                sql = (f"INSERT INTO {table} ({', '.join(columns)})"
                       f" VALUES ({', '.join('?' * len(columns))})")
                copied[table] = 0
                for chunk in source.rows(table, community, columns):
                    conn.executemany(sql, [_moved(table, columns, r, offsets) for r in chunk])
                    copied[table] += len(chunk)
                    if progress is not None:
                        progress(len(chunk))
            for table in tables:
                broken = conn.execute(f'PRAGMA foreign_key_check("{table}")').fetchall()
                if broken:
                    raise BackupError(f"{len(broken)} rows of {table} refer to rows the backup "
                                      f"does not hold (first: {broken[0]}); nothing was restored")
        return copied

    def _delete_community(self, conn: sqlite3.Connection, community: str) -> None:
        tables = community_tables(conn)
        for table in sorted(tables, key=lambda t: t not in VIA_PARENT):  # children first
            conn.execute(f"DELETE FROM {table} WHERE {_where(table)}", [community])

    @staticmethod
    def _offsets(conn: sqlite3.Connection, source: Snapshot, community: str,
                 tables: list[str]) -> dict[str, int]:
        out = {}
        for table in tables:
            if not _has_id(conn, table):
                continue
            low, high = source.id_range(table, community)
            taken = low is not None and conn.execute(
                f"SELECT 1 FROM {table} WHERE id BETWEEN ? AND ? LIMIT 1", [low, high]).fetchone()
            top = conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0
            out[table] = top - low + 1 if taken else 0
        return out

    def restore_pages(self, source: Snapshot, progress: Progress | None = None) -> None:
        """Replace this whole database with ``source`` (SQLite's backup API, under its locks)."""
        with self._write_lock:
            conn = self._db().conn
            source.backup_into(conn, progress)
            conn.execute(f"DROP TABLE IF EXISTS {INFO_TABLE}")
            conn.execute("PRAGMA journal_mode=WAL")
        self._migrate()  # a backup from an older version gets the newer migrations


def _moved(table: str, columns: list[str], row: tuple, offsets: dict[str, int]) -> tuple:
    refs = REFS.get(table, {})
    if not offsets or not any(offsets.values()):
        return row
    out = list(row)
    for i, column in enumerate(columns):
        value = out[i]
        if value is None:
            continue
        if column == "id":
            out[i] = value + offsets.get(table, 0)
            continue
        target = refs.get(column)
        if target is None:
            continue
        if target == "kind":
            kind = out[columns.index("kind")]
            if kind not in ITEM_REFS:
                raise BackupError(f"queue item kind {kind!r} has no rule in ITEM_REFS")
            out[i] = value + offsets.get(ITEM_REFS[kind], 0)
        elif target.startswith("["):
            shift = offsets.get(target[1:-1], 0)
            if shift:
                out[i] = _dump([v + shift for v in json.loads(value)])
        else:
            out[i] = value + offsets.get(target, 0)
    return tuple(out)
