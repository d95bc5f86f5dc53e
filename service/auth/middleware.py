"""Every request but a few open paths needs a valid key (401) — checked before routing, so
nothing new can be left open by mistake; roles and communities are checked by the routes.
Then a per-key token bucket answers 429 with Retry-After.

Credentials: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; the dashboard's
session cookie is accepted for reads, and for writes only on the dashboard's own forms,
which carry a CSRF token (checked there). A cookie never authorises a JSON API write.
"""

from __future__ import annotations

import math
import threading
import time
from urllib.parse import quote

from starlette.responses import JSONResponse, RedirectResponse

from service.api.errors import error_body
from service.auth.keys import authenticate, session_principal

OPEN_PATHS = ("/healthz", "/dashboard/login", "/favicon.ico")
OPEN_PREFIXES = ("/static/",)
SESSION_COOKIE = "pulse_session"
SAFE = ("GET", "HEAD", "OPTIONS")


class AuthMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return await self.app(scope, receive, send)
        store = scope["app"].state.pipeline.store
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers") or []}
        principal, csrf = _from_headers(store, headers), None
        if principal is None and "authorization" not in headers and "x-api-key" not in headers:
            found = _from_cookie(store, headers.get("cookie", ""))
            if found is not None:
                principal, csrf = found
                if scope["method"] not in SAFE and not path.startswith("/dashboard/"):
                    return await _deny(scope, receive, send, 403, "forbidden",
                                       "API writes need an API key header; the dashboard "
                                       "session cookie only works on dashboard forms")
        if principal is None:
            if scope["method"] in SAFE and (path == "/" or path.startswith("/dashboard")):
                query = scope.get("query_string", b"").decode("latin-1")
                target = "/dashboard/login?next=" + quote(path + (f"?{query}" if query else ""),
                                                          safe="/")
                return await RedirectResponse(target, status_code=303)(scope, receive, send)
            return await _deny(scope, receive, send, 401, "unauthorized",
                               "a valid API key is required: send 'Authorization: Bearer "
                               "<key>' (keys come from `pulse keys create`)",
                               {"WWW-Authenticate": "Bearer"})
        scope.setdefault("state", {})
        scope["state"]["principal"] = principal
        scope["state"]["csrf"] = csrf
        return await self.app(scope, receive, send)


class RateLimit:
    """A token bucket per key: ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, app, rate: float, burst: int) -> None:
        self.app = app
        self.rate, self.burst = rate, burst
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: int, now: float | None = None) -> float:
        """0 if the request may go now, else seconds until a token is free."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / self.rate

    async def __call__(self, scope, receive, send):
        principal = (scope.get("state") or {}).get("principal") if scope["type"] == "http" else None
        if principal is not None:
            wait = self.take(principal.key_id)
            if wait > 0:
                return await _deny(scope, receive, send, 429, "rate_limited",
                                   f"over {self.rate:g} requests per second for this key "
                                   f"(bursts of {self.burst}); retry after the delay",
                                   {"Retry-After": str(max(1, math.ceil(wait)))})
        return await self.app(scope, receive, send)


def _from_headers(store, headers: dict[str, str]):
    value = headers.get("x-api-key")
    auth = headers.get("authorization", "")
    if value is None and auth.lower().startswith("bearer "):
        value = auth[7:].strip()
    return authenticate(store, value) if value else None


def _from_cookie(store, cookie_header: str):
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return session_principal(store, value)
    return None


async def _deny(scope, receive, send, status: int, code: str, msg: str,
                headers: dict | None = None):
    body = error_body(code, [{"loc": ["header"], "msg": msg}])
    await JSONResponse(body, status_code=status, headers=headers)(scope, receive, send)
