"""Backup, restore and export of the database or of one community (what `pulse` calls).

- ``backup``: a consistent online copy while the service runs, written beside ``out`` and
  renamed into place when complete (an interrupted backup never leaves a half file under the
  final name). Whole database: SQLite's backup API page by page inside one snapshot. One
  community: a new database file with only that community's rows of every table.
- ``restore``: a whole backup into an empty database (``force`` to replace a non-empty one),
  or one community merged into the current database in one transaction (``replace`` to
  swap a community that already has rows).
- ``export``: a community's messages (with predictions; embeddings on request), topics and
  their lineage, queue items, moderator actions and feedback as JSONL or CSV.

Backup files hold messages, moderators' notes and (whole backups) hashed API keys and alert
secrets: they are written with mode 600.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from service.sql.backup import BackupError, Snapshot, finish_backup_file
from service.store import MIGRATIONS, Store, format_ts

Progress = Callable[[int], object]

__all__ = ["BackupError", "RestoreRefused", "backup", "restore", "export", "inspect"]


class RestoreRefused(BackupError):
    """The target already holds data and the caller did not say to replace it."""


# Export files: name -> (table, columns left out, columns holding JSON).
EXPORTS = {
    "messages": ("messages", ("embedding",),
                 ("metadata", "sentiment_probs", "intent_probs", "flag_scores", "flags", "models")),
    "topics": ("topics", ("centroid",), ("keywords", "representatives")),
    "topic_events": ("topic_events", (), ("related",)),
    "queue_items": ("queue_items", (), ("factors",)),
    "moderator_actions": ("queue_actions", (), ("changes",)),
    "feedback": ("feedback", (), ("value", "previous")),
}


def _now() -> str:
    return format_ts(datetime.now(UTC))


def _call(progress: Progress | None, n: int) -> None:
    if progress is not None and n:
        progress(n)


# -- backup --------------------------------------------------------------------------------
def backup(store: Store, out: Path, community: str | None = None,
           progress: Progress | None = None, total: Callable[[int], object] | None = None) -> dict:
    """Write a consistent backup of the database (or one community) to ``out``.

    ``total(n)`` is told the amount of work (pages or rows) before it starts, for a progress
    bar; ``progress(k)`` after each step. Returns what was written (counts per table).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{part}{suffix}").unlink(missing_ok=True)
    with store.snapshot() as snap:
        info = {"kind": "community" if community else "database", "community": community,
                "created_at": _now(), "source": str(store.path), "schema_version": snap.version}
        if community is None:
            _call(total, snap.page_count())
            snap.backup_to(part, progress)
            counts = snap.counts()
        else:
            if community not in snap.communities():
                raise BackupError(f"community {community!r} has no data in {store.path}")
            counts = snap.counts(community)
            _call(total, sum(counts.values()))
            copy = Store(part)
            try:
                counts = copy.load_community(snap, community, progress=progress)
            finally:
                copy.close()
    info["counts"] = counts
    check = finish_backup_file(part, info)
    if check != "ok":
        raise BackupError(f"the written backup failed its integrity check: {check}")
    os.chmod(part, 0o600)
    with open(part, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(part, out)
    return info | {"file": str(out), "bytes": out.stat().st_size}


def inspect(path: Path) -> dict:
    """What a backup file holds, after checking it is a readable Community Pulse database."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"no such file: {path}")
    with Snapshot(path, readonly=True) as snap:
        check = snap.quick_check()
        if check != "ok":
            raise BackupError(f"{path} is damaged: {check}")
        if "messages" not in snap.tables() or snap.version < 1:
            raise BackupError(f"{path} is not a Community Pulse database")
        if snap.version > len(MIGRATIONS):
            raise BackupError(f"{path} was written by a newer version (schema {snap.version}, "
                              f"this one knows {len(MIGRATIONS)}); upgrade first")
        return snap.info() | {"schema_version": snap.version, "communities": snap.communities()}


# -- restore -------------------------------------------------------------------------------
def restore(db_path: Path, source: Path, community: str | None = None, *, force: bool = False,
            replace: bool = False, progress: Progress | None = None,
            total: Callable[[int], object] | None = None) -> dict:
    """Restore a backup file into the database at ``db_path``.

    Without ``community`` the whole file becomes the database: refused when the database
    holds any row unless ``force`` (stop the service first: its caches would not know).
    With ``community`` that community's rows are merged in one transaction: refused when it
    already has rows here unless ``replace``; restoring the same file again with ``replace``
    gives the same rows.
    """
    held = inspect(source)
    store = Store(db_path)
    try:
        if community is None:
            present = {t: n for t, n in store.table_counts().items() if n}
            if present and not force:
                raise RestoreRefused(
                    f"{db_path} already holds data ({_describe(present)}); restore into an empty "
                    "database, or pass --force to replace all of it")
            with Snapshot(source, readonly=True) as snap:
                _call(total, snap.page_count())
                store.restore_pages(snap, progress)
            return held | {"restored": "database", "counts": store.table_counts()}
        if community not in held["communities"]:
            raise BackupError(f"{source} holds no data for community {community!r} "
                              f"(it holds: {', '.join(held['communities']) or 'nothing'})")
        present = {t: n for t, n in store.community_counts(community).items() if n}
        if present and not replace:
            raise RestoreRefused(
                f"community {community!r} already has data in {db_path} ({_describe(present)}); "
                "pass --replace to swap it for the backup's")
        with Snapshot(source, readonly=True) as snap:
            _call(total, sum(snap.counts(community).values()))
            counts = store.load_community(snap, community, replace=replace, progress=progress)
        return held | {"restored": community, "replaced": bool(present), "counts": counts}
    finally:
        store.close()


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{t}: {n}" for t, n in counts.items())


# -- export --------------------------------------------------------------------------------
def export(store: Store, community: str, out_dir: Path, fmt: str = "jsonl",
           embeddings: bool = False, progress: Progress | None = None,
           total: Callable[[int], object] | None = None) -> dict:
    """Write a community's data to ``out_dir`` as one file per kind plus ``manifest.json``.

    All files come from one snapshot, so they agree with each other. JSON columns are nested
    objects in JSONL and JSON text in CSV; embeddings (``embeddings=True``) are float lists.
    """
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format {fmt!r}; use jsonl or csv")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with store.snapshot() as snap:
        if community not in snap.communities():
            raise BackupError(f"community {community!r} has no data in {store.path}")
        present = set(snap.tables())
        kinds = {name: spec for name, spec in EXPORTS.items() if spec[0] in present}
        _call(total, sum(snap.count(spec[0], community) for spec in kinds.values()))
        files, counts = {}, {}
        for name, (table, left_out, json_columns) in kinds.items():
            keep = [c for c in snap.columns(table)
                    if c not in left_out or (embeddings and c == "embedding")]
            path = out_dir / f"{name}.{fmt}"
            counts[name] = _write(path, fmt, keep, json_columns,
                                  snap.rows(table, community, keep), progress)
            files[name] = path.name
        manifest = {"community": community, "exported_at": _now(), "format": fmt,
                    "embeddings": embeddings, "schema_version": snap.version,
                    "source": str(store.path), "files": files, "counts": counts}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
    return manifest


def _write(path: Path, fmt: str, columns: list[str], json_columns: tuple, chunks,
           progress: Progress | None) -> int:
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh) if fmt == "csv" else None
        if writer is not None:
            writer.writerow(columns)
        for chunk in chunks:
            for row in chunk:
                record = {c: _value(c, v, json_columns) for c, v in zip(columns, row, strict=True)}
                if writer is None:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                else:
                    writer.writerow([_cell(v) for v in record.values()])
            n += len(chunk)
            _call(progress, len(chunk))
    return n


def _value(column: str, value, json_columns: tuple):
    if value is None:
        return None
    if column == "embedding":
        return [round(float(x), 6) for x in np.frombuffer(value, dtype=np.float32)]
    if column in json_columns:
        return json.loads(value)
    return value


def _cell(value):
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return "" if value is None else value
