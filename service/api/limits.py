"""Back-pressure: a bounded number of ingest and classify requests in progress.

A request over the bound is answered 503 with Retry-After at once instead of queueing
without end (threads, memory and latency would grow for everyone). Model calls wait at
most ``stage_timeout_s`` for the batcher; a timeout is a 503 too and stores nothing, so
the client's retry is safe (ingest is idempotent).
"""

from __future__ import annotations

import threading

from fastapi import HTTPException, Request


class Gate:
    def __init__(self, name: str, limit: int) -> None:
        self.name, self.limit = name, limit
        self.inside = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self.inside >= self.limit:
                return False
            self.inside += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.inside -= 1


class Busy(HTTPException):
    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(503, detail, headers={"Retry-After": str(retry_after)})


def gated(name: str):
    """A dependency holding one place of the named gate for the request's duration."""

    def hold(request: Request):
        gate: Gate = request.app.state.gates[name]
        if not gate.enter():
            raise Busy(f"the service is at capacity ({gate.limit} {name} requests in "
                       "progress); retry after the delay")
        try:
            yield
        finally:
            gate.leave()

    return hold
