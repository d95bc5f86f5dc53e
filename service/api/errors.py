"""Every client error is a 4xx JSON body that says what is wrong and where.

Shape: {"error": code, "message": one readable line, "detail": [{"loc": [...], "msg": ...}]}.
"""

from __future__ import annotations

import logging
import sqlite3

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.store import StoreError


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where: e.g. [\"body\", \"messages\", 3, \"text\"] "
                                 "or [\"query\", \"since\"]; [] for the request as a whole.")
    msg: str
    type: str | None = Field(None, description="The validator's error type (request "
                             "validation errors only).")


class ErrorBody(BaseModel):
    """The body of every error answer (4xx and 503)."""

    error: str = Field(description="A stable code: invalid_input, unauthorized, forbidden, "
                       "rate_limited, body_too_large, timeout, storage_unavailable, http_<status>.")
    message: str = Field(description="One readable line summing up `detail`.")
    detail: list[ErrorItem]


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.",
                                "schema": {"type": "integer", "minimum": 1}}}
_ERRORS = {
    400: "The body could not be read (not UTF-8 JSON, or a malformed multipart body).",
    401: "No valid API key (send `Authorization: Bearer <key>` or `X-API-Key`).",
    403: "The key's role or communities do not allow this.",
    404: "No such object, or it belongs to a community this key does not see.",
    409: "Conflicts with the object's current state; the message says why.",
    413: "Body, batch or upload over its limit (PULSE_MAX_BODY_BYTES, PULSE_MAX_BATCH, "
         "PULSE_MAX_IMPORT_BYTES).",
    415: "Wrong content type.",
    422: "Invalid input; `detail` names each invalid field.",
    429: "Over this key's rate limit (PULSE_RATE_LIMIT_RPS / PULSE_RATE_LIMIT_BURST).",
    503: "At capacity, a model call timed out or storage is unavailable; nothing was "
         "stored, retry after the delay.",
}
_HEADERS = {401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
            429: _RETRY_AFTER, 503: _RETRY_AFTER}


def responses(*codes: int) -> dict[int | str, dict]:
    """OpenAPI declarations of these error answers, all with the ErrorBody shape."""
    return {code: {"model": ErrorBody, "description": _ERRORS[code]}
            | ({"headers": _HEADERS[code]} if code in _HEADERS else {}) for code in codes}


# Every route behind an API key may answer these (auth, rate limit, request validation,
# back-pressure and storage errors); routes add their own (404, 409, 413...).
API_ERRORS = responses(401, 403, 422, 429, 503)
# Routes that read a JSON body may also find it unreadable or too large.
BODY_ERRORS = responses(400, 413)


class InputError(Exception):
    """Raised by routes for input that parses but breaks a rule (limits, unknown labels)."""

    def __init__(self, detail: list[dict], status: int = 422) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


def check_limits(texts: list[str], locs: list[list], batch_loc: list, settings) -> None:
    """Batch size and text length against the configured limits (413 / 422 naming the item)."""
    if len(texts) > settings.max_batch:
        raise InputError([{"loc": batch_loc, "msg": f"batch has {len(texts)} items; "
                           f"the limit is {settings.max_batch}"}], status=413)
    errors = [{"loc": loc, "msg": f"text has {len(text)} characters; the limit is "
               f"{settings.max_text_chars}"}
              for text, loc in zip(texts, locs, strict=True) if len(text) > settings.max_text_chars]
    if errors:
        raise InputError(errors)


def check_cursor(cursor: str | None) -> None:
    from service.store import decode_cursor

    if cursor is not None:
        try:
            decode_cursor(cursor)
        except ValueError:
            raise InputError([{"loc": ["query", "cursor"], "msg": "invalid cursor"}]) from None


def _where(loc) -> str:
    parts = [p for p in loc if p != "body"]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or ("body" if list(loc) == ["body"] else "")


def _summary(detail: list[dict]) -> str:
    shown = "; ".join(f"{where}: {d['msg']}" if (where := _where(d["loc"])) else d["msg"]
                      for d in detail[:5])
    more = f" (and {len(detail) - 5} more)" if len(detail) > 5 else ""
    return shown + more


def error_body(code: str, detail: list[dict]) -> dict:
    return {"error": code, "message": _summary(detail), "detail": detail}


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = []
        for e in exc.errors():
            msg = e.get("msg", "invalid")
            if e.get("type") == "json_invalid":
                msg = f"body is not valid JSON: {e.get('ctx', {}).get('error', msg)}"
            detail.append({"loc": list(e.get("loc", [])), "msg": msg, "type": e.get("type")})
        return JSONResponse(error_body("invalid_input", detail), status_code=422)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(error_body("invalid_input", exc.detail), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        msg = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in msg:
            msg = "body could not be read: send UTF-8 encoded JSON"
        detail = [{"loc": ["body"] if exc.status_code == 400 else [], "msg": msg}]
        return JSONResponse(error_body(f"http_{exc.status_code}", detail),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not the client's fault: say so in JSON; the traceback goes to the log.
        logging.getLogger("pulse").exception("unhandled error on %s", request.url.path)
        detail = [{"loc": [], "msg": "internal error; retrying is safe: a message already "
                   "stored is recognised by its (community, external_id)"}]
        return JSONResponse(error_body("internal_error", detail), status_code=500)

    @app.exception_handler(TimeoutError)
    async def _timeout(request: Request, exc: TimeoutError) -> JSONResponse:
        # A model call waited past PULSE_STAGE_TIMEOUT_S: nothing was stored; retry later.
        detail = [{"loc": [], "msg": "the models are too busy to answer in time; nothing was "
                   "stored, retry after the delay"}]
        return JSONResponse(error_body("timeout", detail), status_code=503,
                            headers={"Retry-After": "2"})

    @app.exception_handler(sqlite3.Error)
    async def _sqlite(request: Request, exc: sqlite3.Error) -> JSONResponse:
        # A read (or a new connection) failed: the database is unavailable, not the client
        # wrong; writes already come as StoreError.
        detail = [{"loc": [], "msg": f"storage unavailable: {exc}"}]
        return JSONResponse(error_body("storage_unavailable", detail), status_code=503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        # Nothing was written (the transaction rolled back); the client may retry.
        detail = [{"loc": [], "msg": f"storage unavailable, nothing was stored: {exc}"}]
        return JSONResponse(error_body("storage_unavailable", detail), status_code=503,
                            headers={"Retry-After": "5"})
