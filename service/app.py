"""create_app(settings): models and the store are built once in the lifespan and injected.

Tests pass a ready ``pipeline`` (fake embedder, temp database); the service builds the
real one from settings.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from service import __version__
from service.alerts.worker import AlertWorker
from service.api import alerts, classify, health, imports, intents, messages, queue, redaction, topics, trends
from service.api.deps import AnyRole
from service.api.errors import API_ERRORS, error_body, install
from service.api.limits import Gate
from service.auth.middleware import AuthMiddleware, RateLimit
from service.jobs import Jobs
from service.observability import Metrics, RequestObserver
from service.pipeline import Pipeline
from service.queue.refresh import Refresher
from service.settings import Settings
from service.web import router as web


def build_pipeline(settings: Settings) -> Pipeline:
    """Load the embedder and heads once and open the store."""
    from service.models_setup import load_classifier
    from service.store import Store

    return Pipeline(load_classifier(settings), Store(settings.db_path),
                    batching=settings.classify_batching, max_batch=settings.embed_batch,
                    max_wait_ms=settings.classify_batch_wait_ms,
                    timeout_s=settings.stage_timeout_s)


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    settings = settings or Settings()

    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pipeline = pipeline or build_pipeline(settings)
        app.state.jobs = Jobs(app.state.pipeline.store, metrics)
        metrics.set_models(app.state.pipeline.classifier.versions)
        metrics.queue_depth.set_function(app.state.pipeline.queue_depth)
        app.state.alerts = None
        if settings.alerts_enabled:  # a background thread: ingest never waits on a receiver
            app.state.alerts = AlertWorker(app.state.pipeline.store, settings, metrics)
            app.state.alerts.start()
        yield
        if app.state.alerts is not None:
            app.state.alerts.stop()
        app.state.jobs.shutdown()
        app.state.pipeline.close()

    app = FastAPI(
        title="Community Pulse",
        version=__version__,
        description="Reads community messages (Chinese, English, mixed): sentiment, intent, "
        "moderation flags, stored for moderators and operators.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.refresher = Refresher(settings.queue_refresh_s)
    app.state.gates = {"ingest": Gate("ingest", settings.max_inflight_ingest),
                       "classify": Gate("classify", settings.max_inflight_classify)}
    app.state.metrics = metrics
    install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       uploads={"/v1/imports": (settings.max_import_bytes,
                                                "PULSE_MAX_IMPORT_BYTES")})
    app.add_middleware(RateLimit, rate=settings.rate_limit_rps, burst=settings.rate_limit_burst)
    app.add_middleware(AuthMiddleware)  # before the rate limit and before any body is read
    app.add_middleware(RequestObserver, metrics=metrics)
    for module in (health, classify, messages, topics, queue, trends, imports, alerts,
                   redaction, intents):
        # Every route but /healthz needs a key: declare the errors any of them may answer.
        app.include_router(module.router, responses=None if module is health else API_ERRORS)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def root(principal: AnyRole):
        return RedirectResponse("/dashboard", status_code=307)

    return app


class BodyLimit:
    """Refuse bodies over the limit with 413 before they are read into memory.

    JSON bodies get ``max_bytes``; file uploads (paths in ``uploads``, streamed to disk by
    their route) get their own, larger limit.
    """

    def __init__(self, app, max_bytes: int,
                 uploads: dict[str, tuple[int, str]] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = uploads or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, setting = self.uploads.get(scope.get("path", "").rstrip("/"),
                                          (self.max_bytes, "PULSE_MAX_BODY_BYTES"))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._reject(scope, receive, send, limit, setting)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send, limit, setting)

    async def _reject(self, scope, receive, send, limit: int, setting: str):
        detail = [{"loc": ["body"], "msg": f"request body over the limit of {limit} bytes "
                   f"({setting})"}]
        await JSONResponse(error_body("body_too_large", detail), status_code=413)(scope, receive, send)


class _TooLarge(Exception):
    pass
