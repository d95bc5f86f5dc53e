"""Import messages from JSONL, CSV, Discord, Telegram or Slack exports: streaming,
resumable, idempotent.

Records are validated one by one (a bad record is reported with its position and skipped),
ingested in batches, and each batch commits together with the file's checkpoint. A crash
or kill loses nothing committed; re-running the same file resumes after the last committed
batch, and the (community, external_id) key keeps a repeated record from being stored twice.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
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
    resumed_from: int = 0
    already_done: bool = False
    errors: list[str] = field(default_factory=list)  # first few, "record N: reason"


def fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


FORMATS = ("jsonl", "csv", "discord", "telegram", "slack")
EXPORTS = ("discord", "telegram", "slack")


def detect_format(path: Path, fmt: str | None) -> str:
    suffix = path.suffix.lower()
    fmt = fmt or {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(suffix)
    if fmt is None and suffix in (".json", ".zip"):
        fmt = formats.sniff(path)
    if fmt not in FORMATS:
        raise ValueError(f"cannot tell the format of {path.name}: use --format "
                         f"{' | '.join(FORMATS)}")
    return fmt


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
              "slack": formats.slack}[fmt]
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
) -> ImportReport:
    """Import ``path``. ``defaults`` (e.g. community) fills what a JSONL/CSV record lacks
    and replaces what an export says (its guild, chat or file name). ``mapping`` (message
    field -> column) reads CSV/JSONL files with other column names."""
    fmt = detect_format(path, fmt)
    store = pipeline.store
    state = store.start_import(str(path), fingerprint(path))
    report = ImportReport(str(path), resumed_from=state["position"],
                          already_done=bool(state["done"]))
    if state["done"]:
        return report
    batch: list[MessageIn] = []
    position, rejected = state["position"], state["rejected"]

    def flush() -> None:
        results = pipeline.ingest(batch, Checkpoint(state["id"], position, rejected))
        made = sum(1 for r in results if r.status == "created")
        report.created += made
        report.duplicates += len(results) - made
        batch.clear()

    for number, record in read_records(path, fmt):
        if number <= state["position"]:
            continue
        report.total += 1
        position = number
        if isinstance(record, formats.Skip):
            report.skipped += 1
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
    store.finish_import(state["id"])
    return report
