"""Import messages from JSONL, CSV, Discord, Telegram, Slack or Discourse exports:
streaming, resumable, idempotent.

Records are validated one by one (a bad record is reported with its position and skipped),
ingested in batches, and each batch commits together with the file's checkpoint. A crash
or kill loses nothing committed; re-running the same file resumes after the last committed
batch, and the (community, external_id) key keeps a repeated record from being stored twice.

``ImportJobs`` runs the same ``import_file`` for files uploaded to the API, in the background.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from service import formats
from service.pipeline import Pipeline
from service.schemas import MessageIn
from service.store import Checkpoint

FIELDS = ("community", "channel", "author_id", "external_id", "text", "ts", "reply_to",
          "thread_id", "metadata")


@dataclass
class ImportReport:
    source: str
    total: int = 0  # records read in this run (after the resume point)
    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0  # system messages, attachments only
    skip_reasons: dict[str, int] = field(default_factory=dict)  # reason -> records
    resumed_from: int = 0
    already_done: bool = False
    stopped: bool = False  # asked to stop before the end; running it again resumes
    errors: list[str] = field(default_factory=list)  # first few, "record N: reason"
    communities: set[str] = field(default_factory=set)  # where new messages went


def fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


FORMATS = ("jsonl", "csv", "discord", "telegram", "slack", "discourse")
EXPORTS = ("discord", "telegram", "slack", "discourse")
# Discourse's API JSON does not name its site, and post ids of two forums collide
NEEDS_COMMUNITY = ("discourse",)


def detect_format(path: Path, fmt: str | None) -> str:
    suffix = path.suffix.lower()
    fmt = fmt or {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(suffix)
    if fmt is None and suffix in (".json", ".zip"):
        fmt = formats.sniff(path)
    if fmt not in FORMATS:
        raise ValueError(f"cannot tell the format of {path.name}: use --format "
                         f"{' | '.join(FORMATS)}")
    return fmt


def check_options(fmt: str, defaults: dict | None) -> None:
    if fmt in NEEDS_COMMUNITY and not (defaults or {}).get("community"):
        raise ValueError(f"a {fmt} export does not say which community it is from: "
                         "give --community")


def check_file(path: Path, fmt: str | None, defaults: dict | None = None) -> str:
    """The file's format, or ValueError if it cannot be imported at all (unknown format,
    or the format's reader fails on the first record): the API refuses such an upload
    at once instead of starting a job that imports nothing."""
    import ijson

    fmt = detect_format(path, fmt)
    check_options(fmt, defaults)
    if fmt == "discourse":  # its reader indexes every post before the first: only the shape
        try:
            formats.discourse_prefix(path)
        except ijson.JSONError as exc:
            raise ValueError(f"{path.name} is not a discourse export: {exc}") from None
        return fmt
    try:
        first = next(read_records(path, fmt), None)
    except csv.Error as exc:  # the CSV reader gave up on the first record
        raise ValueError(f"{path.name} is not a readable CSV file: {exc}") from None
    if fmt in EXPORTS and first is not None and first[0] == 1 \
            and isinstance(first[1], str) and "not valid JSON" in first[1]:
        raise ValueError(f"{path.name} is not a {fmt} export: {first[1]}")
    return fmt


def parse_mapping(item: str) -> tuple[str, str]:
    """``FIELD=COLUMN`` (``--map`` or the API's ``map`` field) as (field, column)."""
    field_name, sep, column = item.partition("=")
    if not sep or not column or field_name not in MessageIn.model_fields:
        raise ValueError(f"--map {item!r}: use FIELD=COLUMN with FIELD one of "
                         f"{', '.join(MessageIn.model_fields)}")
    return field_name, column


def read_records(path: Path, fmt: str) -> Iterator[tuple[int, dict | str | formats.Skip]]:
    """(record number from 1, dict) or (number, error text) for records that do not parse,
    or (number, Skip) for records that are not member text messages.

    Lines are decoded one at a time, so one bad byte spoils one record, not the file.
    """
    if fmt in EXPORTS:
        yield from _export_records(path, fmt)
        return
    with path.open("rb") as raw:
        # undecodable bytes become lone surrogates, caught per record below
        lines = (line.decode("utf-8", errors="surrogateescape") for line in raw)
        if fmt == "csv":
            for number, row in enumerate(csv.DictReader(lines), start=1):
                yield number, _csv_row(row)
            return
        for number, line in enumerate(lines, start=1):
            if _SURROGATE.search(line):
                yield number, "not UTF-8 text"
            elif not line.strip():
                yield number, "empty line"
            else:
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, f"invalid JSON: {exc.msg} at column {exc.colno}"
                    continue
                yield number, value if isinstance(value, dict) else "not a JSON object"


def _export_records(path: Path, fmt: str):
    import ijson

    reader = {"discord": formats.discord, "telegram": formats.telegram,
              "slack": formats.slack, "discourse": formats.discourse}[fmt]
    number = 0
    try:
        for number, record in reader(path):
            yield number, record
    except (ijson.JSONError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        # a broken export: what was read stays imported; the report says where it broke
        yield number + 1, f"export is not valid JSON from here on: {exc}"


_SURROGATE = re.compile(r"[\udc80-\udcff]")


def _csv_row(row: dict) -> dict | str:
    if None in row:
        return "more cells than header columns"
    if any(_SURROGATE.search(v) for v in row.values() if isinstance(v, str)):
        return "not UTF-8 text"
    out = {k: v for k, v in row.items() if v not in ("", None)}
    if "metadata" in out:
        try:
            out["metadata"] = json.loads(out["metadata"])
        except json.JSONDecodeError:
            return "metadata column is not JSON"
    return out


def import_file(
    pipeline: Pipeline,
    path: Path,
    fmt: str | None = None,
    defaults: dict | None = None,
    batch_size: int = 256,
    max_text_chars: int | None = None,
    progress: Callable[[int], None] | None = None,
    mapping: dict[str, str] | None = None,
    *,
    report: ImportReport | None = None,
    stop: Callable[[], bool] | None = None,
    source: str | None = None,
    digest: str | None = None,
) -> ImportReport:
    """Import ``path``. ``defaults`` (e.g. community) fills what a JSONL/CSV record lacks
    and replaces what an export says (its guild, chat or file name). ``mapping`` (message
    field -> column) reads CSV/JSONL files with other column names.

    For background jobs: ``report`` is filled in place (readable while the import runs),
    ``stop`` is asked between records (the import then commits what it has and returns,
    resumable), ``source`` names the file and ``digest`` is its ``fingerprint`` if known.
    """
    fmt = detect_format(path, fmt)
    check_options(fmt, defaults)
    store = pipeline.store
    state = store.start_import(source or str(path), digest or fingerprint(path))
    report = report or ImportReport(source or str(path))
    report.resumed_from, report.already_done = state["position"], bool(state["done"])
    if state["done"]:
        return report
    batch: list[MessageIn] = []
    position, rejected = state["position"], state["rejected"]

    def flush() -> None:
        results = pipeline.ingest(batch, Checkpoint(state["id"], position, rejected))
        made = sum(1 for r in results if r.status == "created")
        report.communities.update(r.community for r in results if r.status == "created")
        report.created += made
        report.duplicates += len(results) - made
        batch.clear()

    for number, record in read_records(path, fmt):
        if number <= state["position"]:
            continue
        if stop is not None and stop():
            report.stopped = True
            break
        report.total += 1
        position = number
        if isinstance(record, formats.Skip):
            report.skipped += 1
            report.skip_reasons[record.reason] = report.skip_reasons.get(record.reason, 0) + 1
            continue
        problem = record if isinstance(record, str) else None
        if problem is None:
            try:
                if mapping:
                    record = formats.map_columns(record, mapping)
                merged = ({**record, **(defaults or {})} if fmt in EXPORTS
                          else {**(defaults or {}), **record})  # exports: options override
                batch.append(MessageIn.model_validate(
                    merged, context={"max_text_chars": max_text_chars}))
            except ValidationError as exc:
                problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}"
                                    for e in exc.errors())
        if problem is not None:
            report.rejected += 1
            rejected += 1
            if len(report.errors) < 20:
                report.errors.append(f"record {number}: {problem}")
        if len(batch) >= batch_size:
            flush()
        if progress:
            progress(1)
    # the last batch (possibly empty) also records the final position and rejected count
    flush()
    if not report.stopped:
        store.finish_import(state["id"])
    return report


log = logging.getLogger("pulse.imports")


@dataclass
class ImportJob:
    """An import started over the API in this process."""

    id: int  # the file's checkpoint row: the same file content always has the same id
    source: str
    format: str
    report: ImportReport
    status: str = "queued"  # queued | running | done | failed | stopped
    error: str | None = None
    stop_requested: bool = False


class ImportBusy(RuntimeError):
    """An import is already queued or running in this process."""


class ImportJobs:
    """Imports of uploaded files, one at a time, on the service's background worker.

    The worker is the reclusters' (``service.jobs.Jobs``): an import and a recluster never
    compete for the two cores. Batches are small so live classify requests, which share the
    embedder's batcher, are not held up behind a long embedding call. Progress is read from
    the file's checkpoint row (committed per batch) and from the job's live report.
    """

    def __init__(self, pipeline: Pipeline, jobs, metrics=None, batch_size: int = 64,
                 max_text_chars: int | None = None) -> None:
        self.pipeline = pipeline
        self.jobs = jobs
        self.metrics = metrics
        self.batch_size = batch_size
        self.max_text_chars = max_text_chars
        self._lock = threading.Lock()
        self._jobs: dict[int, ImportJob] = {}
        self._active: int | None = None

    def check_idle(self) -> None:
        """ImportBusy if an import is queued or running (checked before an upload is read)."""
        with self._lock:
            if self._active is not None:
                raise ImportBusy(f"import {self._active} is still running: poll "
                                 f"/v1/imports/{self._active}, then send the next file")

    def start(self, path: Path, fmt: str, digest: str, source: str,
              defaults: dict | None = None, mapping: dict[str, str] | None = None,
              remove_after: bool = True) -> tuple[ImportJob | None, int]:
        """Queue the import of ``path`` (already checked with ``check_file``).

        Returns (job, import id); job is None when this file content was already imported
        completely, so nothing runs (and ``path`` is removed if ``remove_after``).
        """
        with self._lock:
            if self._active is not None:
                raise ImportBusy(f"import {self._active} is still running")
            state = self.pipeline.store.start_import(source, digest)
            if state["done"]:
                if remove_after:
                    path.unlink(missing_ok=True)
                return None, state["id"]
            job = ImportJob(state["id"], source, fmt, ImportReport(source))
            self._jobs[job.id] = job
            self._active = job.id
        try:  # jobs.py has no generic submit yet: the worker's executor is used directly
            self.jobs._pool.submit(self._run, job, path, defaults, mapping, digest, remove_after)
        except RuntimeError:  # the service is shutting down
            with self._lock:
                self._active = None
                del self._jobs[job.id]
            raise
        return job, job.id

    def _stopping(self, job: ImportJob) -> bool:
        # the app's shutdown stops the worker's executor (``Jobs.shutdown``): stop between
        # records rather than make shutdown wait for a long import; re-sending the file resumes
        return job.stop_requested or getattr(self.jobs._pool, "_shutdown", False)

    def stop(self) -> None:
        """Ask the running import to stop between records; sending the file again resumes."""
        with self._lock:
            job = self._jobs.get(self._active) if self._active is not None else None
        if job is not None:
            job.stop_requested = True

    def _run(self, job: ImportJob, path: Path, defaults, mapping, digest, remove_after) -> None:
        job.status, start = "running", time.perf_counter()
        try:
            import_file(self.pipeline, path, job.format, defaults, self.batch_size,
                        self.max_text_chars, mapping=mapping, report=job.report,
                        stop=lambda: self._stopping(job), source=job.source, digest=digest)
            job.status = "stopped" if job.report.stopped else "done"
        except Exception as exc:  # recorded on the job; the worker lives on
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("import %s failed", job.id)
        finally:
            if self.metrics is not None:
                self.metrics.jobs.labels("import", job.status).observe(time.perf_counter() - start)
                self.metrics.ingested.inc(job.report.created)
                self.metrics.duplicates.inc(job.report.duplicates)
            if remove_after:
                path.unlink(missing_ok=True)
            with self._lock:
                self._active = None

    def status(self, import_id: int) -> dict | None:
        """Progress of an import: the committed counters of its checkpoint row, with the
        live job's status, skips and errors when it ran in this process."""
        row = self.pipeline.store.import_by_id(import_id)
        if row is None:
            return None
        job = self._jobs.get(import_id)
        if job is None:  # imported by the CLI, or before the service restarted
            status = "done" if row["done"] else "interrupted"
        else:
            status = job.status
        report = job.report if job else None
        return {
            "id": row["id"], "source": row["source"], "format": job.format if job else None,
            "status": status, "done": bool(row["done"]), "position": row["position"],
            "created": row["created"], "duplicates": row["duplicates"],
            "rejected": row["rejected"],
            "skipped": report.skipped if report else None,
            "skip_reasons": dict(report.skip_reasons) if report else {},
            "errors": list(report.errors) if report else [],
            "error": job.error if job else None,
            "started_at": row["started_at"], "updated_at": row["updated_at"],
        }
