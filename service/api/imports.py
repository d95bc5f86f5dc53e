"""Imports over HTTP: upload an export file (multipart), then poll the background job.

The upload is streamed to a file beside the database (never held in memory), capped at
``max_import_bytes`` and hashed on the way; the job runs the same ``import_file`` as
``pulse import``, so formats, skips, rejections, checkpoints and idempotency are the same.
"""

from __future__ import annotations

import csv
import hashlib
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool

from service.api.deps import Ingester
from service.api.errors import BODY_ERRORS, InputError, responses
from service.api.schemas import Id
from service.importer import FORMATS, ImportBusy, ImportJobs, check_file, parse_mapping

router = APIRouter(prefix="/v1", tags=["imports"])

FIELDS = {"format", "community", "channel", "map"}  # besides "file"
MAX_FIELD_BYTES = 4096
STALE_UPLOAD_S = 24 * 3600  # leftovers of a service killed mid-upload are removed after this


class ImportOut(BaseModel):
    id: int = Field(description="The import's id: the same file content always has the same id.")
    source: str = Field(description="File name of the first upload (or path given to the CLI).")
    format: str | None
    status: Literal["queued", "running", "done", "failed", "stopped", "interrupted"] = Field(
        description="`interrupted`: not finished and not running (the service restarted); "
        "`stopped`: the service shut down mid-way. Send the same file again to resume.")
    done: bool
    position: int = Field(description="Records read so far (committed with their batch).")
    created: int
    duplicates: int = Field(description="Records whose (community, external_id) was stored.")
    rejected: int = Field(description="Malformed or invalid records (see `errors`).")
    skipped: int | None = Field(description="System, deleted and attachment-only records skipped "
                                "by this service's run of the import (null if it ran elsewhere).")
    skip_reasons: dict[str, int]
    errors: list[str] = Field(description="The first rejected records, as 'record N: reason'.")
    error: str | None = Field(description="Why the job failed, if it did.")
    started_at: str
    updated_at: str
    poll: str = Field(description="Where to follow this import.")


UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "The export: JSONL, CSV, DiscordChatExporter JSON, Telegram "
                 "result.json, Slack export zip or Discourse posts JSON."},
        "format": {"type": "string", "enum": list(FORMATS),
                   "description": "Default: from the file name and content."},
        "community": {"type": "string", "description": "Required for Discourse; replaces an "
                      "export's own community, fills JSONL/CSV records that lack one."},
        "channel": {"type": "string"},
        "map": {"type": "array", "items": {"type": "string"},
                "description": "FIELD=COLUMN for CSV/JSONL, repeatable."},
    }}}}}}


ALREADY_DONE = {200: {"model": ImportOut, "description": "This file's content was already "
                      "imported completely: that import, nothing runs."}}


@router.post("/imports", response_model=ImportOut, status_code=202, openapi_extra=UPLOAD_BODY,
             responses=ALREADY_DONE | BODY_ERRORS | responses(409, 415))
async def upload_import(request: Request, response: Response, principal: Ingester):
    """Upload an export file and import it in the background (202, then poll `poll`).

    A file already imported completely is recognised by its content: 200 with that import,
    nothing runs. One import runs at a time (409 while one is queued or running).
    """
    if principal.scoped is not None:  # an export may hold any community
        raise HTTPException(403, "imports need a key for all communities ('*'); this key is "
                            f"for {', '.join(principal.scoped)}")
    imports = import_jobs(request.app)
    try:
        imports.check_idle()  # before reading a large body for nothing
    except ImportBusy as exc:
        raise HTTPException(409, str(exc)) from None
    settings = request.app.state.settings
    upload = await receive_upload(request, settings.db_path.parent / "imports",
                                  settings.max_import_bytes)
    try:
        job, import_id = await run_in_threadpool(_start, imports, upload)
    except ImportBusy as exc:
        upload.path.unlink(missing_ok=True)
        raise HTTPException(409, str(exc)) from None
    except BaseException:
        upload.path.unlink(missing_ok=True)
        raise
    if job is None:
        response.status_code = 200
    response.headers["Location"] = f"/v1/imports/{import_id}"
    return _out(imports, import_id)


@router.get("/imports/{import_id}", response_model=ImportOut, responses=responses(404))
def get_import(import_id: Id, request: Request, principal: Ingester):
    """Progress of an import: records read, created, duplicates, rejected, skipped (with
    reasons), the first errors with their record numbers, and the job's status."""
    return _out(import_jobs(request.app), import_id)


def _out(imports: ImportJobs, import_id: int) -> ImportOut:
    status = imports.status(import_id)
    if status is None:
        raise HTTPException(404, f"no import with id {import_id}")
    return ImportOut(**status, poll=f"/v1/imports/{import_id}")


def _start(imports: ImportJobs, upload: Upload):
    fields = upload.fields
    fmt = fields.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise InputError([{"loc": ["body", "format"],
                           "msg": f"unknown format {fmt!r}: one of {', '.join(FORMATS)}"}])
    try:
        mapping = dict(parse_mapping(item) for item in fields.get("map", []))
    except ValueError as exc:
        raise InputError([{"loc": ["body", "map"], "msg": _form_words(exc)}]) from None
    defaults = {k: fields[k] for k in ("community", "channel") if fields.get(k)}
    try:
        fmt = check_file(upload.path, fmt, defaults)
    except ValueError as exc:
        msg = _form_words(exc).replace(upload.path.name, upload.filename)
        raise InputError([{"loc": ["body", "file"], "msg": msg}]) from None
    except csv.Error as exc:  # the CSV reader gave up on the first record
        raise InputError([{"loc": ["body", "file"], "msg": f"{upload.filename} is not a "
                           f"readable CSV file: {exc}"}]) from None
    return imports.start(upload.path, fmt, upload.digest, upload.filename, defaults,
                         mapping or None)


def _form_words(exc: Exception) -> str:
    """The importer speaks of CLI options; here they are form fields."""
    return re.sub(r"--(format|community|map)\b", r"the '\1' field", str(exc))


_LOCK = threading.Lock()


def import_jobs(app) -> ImportJobs:
    """The app's import jobs, made on first use (on the app's pipeline and job worker)."""
    with _LOCK:
        imports = getattr(app.state, "imports", None)
        if imports is None:
            settings = app.state.settings
            imports = app.state.imports = ImportJobs(
                app.state.pipeline, app.state.jobs, app.state.metrics,
                batch_size=settings.embed_batch, max_text_chars=settings.max_text_chars)
        return imports


# -- streaming multipart upload -------------------------------------------------------------
@dataclass
class Upload:
    path: Path
    filename: str
    digest: str  # sha256 of the file, as importer.fingerprint
    size: int
    fields: dict = field(default_factory=dict)  # form fields: str, or list[str] for "map"


async def receive_upload(request: Request, folder: Path, max_bytes: int) -> Upload:
    """Stream the request's multipart body: the ``file`` part goes to a file in ``folder``
    (hashed and size-capped as it arrives), the other fields are kept (small)."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise InputError([{"loc": ["header", "content-type"], "msg": "send multipart/form-data "
                           "with the export in a field named 'file'"}], status=415)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + 1024 * 1024:
        raise _too_large(max_bytes)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale(folder)
    form = _Form(folder, max_bytes)
    parser = MultipartParser(params[b"boundary"], form.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if form.pending:
                chunks, form.pending = form.pending, []
                await run_in_threadpool(form.save, chunks)
        parser.finalize()
        return form.result()
    except MultipartParseError as exc:
        form.discard()
        raise InputError([{"loc": ["body"], "msg": f"malformed multipart body: {exc}"}],
                         status=400) from None
    except BaseException:
        form.discard()
        raise
    finally:
        form.close()


def _too_large(max_bytes: int) -> InputError:
    return InputError([{"loc": ["body", "file"], "msg": f"file over the import limit of "
                        f"{max_bytes} bytes (PULSE_MAX_IMPORT_BYTES)"}], status=413)


def _remove_stale(folder: Path) -> None:
    for old in folder.glob("upload-*"):
        try:
            if time.time() - old.stat().st_mtime > STALE_UPLOAD_S:
                old.unlink()
        except OSError:
            pass


class _Form:
    """python-multipart callbacks: file data is queued for ``save`` (run off the event loop),
    fields are buffered (a few KB at most)."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder, self.max_bytes = folder, max_bytes
        self.fields: dict = {}
        self.pending: list[bytes] = []
        self.file = None
        self.filename: str | None = None
        self.size = 0
        self.complete = False
        self._sha = hashlib.sha256()
        self._header = [b"", b""]
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._value: bytearray | None = None  # the field being read (None: the file part)

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done, "on_part_data": self._data,
                "on_part_end": self._end, "on_end": self._finish}

    def _begin(self) -> None:
        self._headers, self._header = {}, [b"", b""]

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header[0] += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._header[1] += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header[0].lower()] = self._header[1]
        self._header = [b"", b""]

    def _headers_done(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in params:
            if name != "file" or self.file is not None:
                raise InputError([{"loc": ["body", name], "msg": "send one file, in the field "
                                   "'file'"}])
            self.filename = Path(params[b"filename"].decode("utf-8", "replace")).name or "upload"
            suffix = Path(self.filename).suffix.lower()
            self.file = tempfile.NamedTemporaryFile(  # closed in close()
                dir=self.folder, prefix="upload-", delete=False,
                suffix=suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else "")
            self._name, self._value = "file", None
        elif name not in FIELDS:
            raise InputError([{"loc": ["body", name], "msg": f"unknown field {name!r}: send "
                               f"'file' and optionally {', '.join(sorted(FIELDS))}"}])
        elif name != "map" and name in self.fields:
            raise InputError([{"loc": ["body", name], "msg": f"{name!r} given twice"}])
        else:
            self._name, self._value = name, bytearray()

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._value is None:
            self.size += end - start
            if self.size > self.max_bytes:
                raise _too_large(self.max_bytes)
            self.pending.append(bytes(data[start:end]))
        else:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD_BYTES:
                raise InputError([{"loc": ["body", self._name],
                                   "msg": f"field over {MAX_FIELD_BYTES} bytes"}])

    def _end(self) -> None:
        if self._value is not None:
            try:
                value = self._value.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError([{"loc": ["body", self._name], "msg": "not UTF-8 text"}]) from None
            if self._name == "map":
                self.fields.setdefault("map", []).append(value)
            else:
                self.fields[self._name] = value
        self._name = self._value = None

    def _finish(self) -> None:
        self.complete = True

    def save(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self._sha.update(chunk)
            self.file.write(chunk)

    def result(self) -> Upload:
        if not self.complete:
            raise InputError([{"loc": ["body"], "msg": "multipart body ended early"}], status=400)
        if self.file is None:
            raise InputError([{"loc": ["body", "file"], "msg": "field required: the export "
                               "file, as a file part named 'file'"}])
        if self.size == 0:
            self.discard()
            raise InputError([{"loc": ["body", "file"], "msg": "the file is empty"}])
        self.file.flush()
        return Upload(Path(self.file.name), self.filename or "upload", self._sha.hexdigest(),
                      self.size, self.fields)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
            Path(self.file.name).unlink(missing_ok=True)
