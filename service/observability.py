"""Prometheus metrics and request ids with structured JSON logs.

Metrics live in a registry per app (tests build many apps). Logs carry the route, status,
duration and request id, never message text or credentials.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger("pulse.http")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("pulse_http_requests", "HTTP requests", ["route", "method", "status"],
                                registry=r)
        self.latency = Histogram("pulse_http_request_seconds", "HTTP request latency",
                                 ["route", "method"], registry=r,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5,
                                          5, 10))
        self.ingested = Counter("pulse_messages_ingested", "Messages stored (new only)",
                                registry=r)
        self.duplicates = Counter("pulse_messages_duplicate", "Messages already stored",
                                  registry=r)
        self.jobs = Histogram("pulse_job_seconds", "Background job durations", ["job", "outcome"],
                              registry=r, buckets=(.1, .5, 1, 5, 10, 30, 60, 120, 300, 600))
        self.queue_depth = Gauge("pulse_batcher_queue_depth",
                                 "Requests waiting for the model", registry=r)
        self.model = Gauge("pulse_model_info", "Loaded model versions (value 1)",
                           ["component", "version"], registry=r)
        self.alert_deliveries = Counter(
            "pulse_alert_deliveries", "Alert delivery attempts by target and outcome "
            "(delivered, retry, failed, cancelled)", ["target", "outcome"], registry=r)

    def set_models(self, versions: dict[str, str]) -> None:
        for component, version in versions.items():
            self.model.labels(component, version).set(1)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class RequestObserver:
    """ASGI middleware: request id in and out, per-route metrics, one JSON log line each."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = given if given and given.isprintable() else uuid.uuid4().hex
        status = {"code": 500}
        start = time.perf_counter()

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - start
            self.metrics.requests.labels(path, scope["method"], str(status["code"])).inc()
            self.metrics.latency.labels(path, scope["method"]).observe(elapsed)
            log.info("request", extra={"request_id": request_id, "route": path,
                                       "method": scope["method"], "status": status["code"],
                                       "ms": round(elapsed * 1000, 2)})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the structured extras."""

    FIELDS = ("request_id", "route", "method", "status", "ms")

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": self.formatTime(record), "level": record.levelname,
               "logger": record.name, "message": record.getMessage()}
        out |= {k: getattr(record, k) for k in self.FIELDS if hasattr(record, k)}
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("pulse")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
