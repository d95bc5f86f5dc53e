from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth.keys import create_key
from service.pipeline import Pipeline
from service.settings import Settings
from service.store import Store
from tests.fakes import fake_classifier

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def settings(tmp_path) -> Settings:
    # Rate limits have their own test; elsewhere tests poll freely.
    return Settings(db_path=tmp_path / "pulse.db", max_batch=50, max_text_chars=500,
                    max_body_bytes=200_000, rate_limit_rps=10_000, rate_limit_burst=10_000)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "pulse.db")


@pytest.fixture
def pipeline(store) -> Pipeline:
    return Pipeline(fake_classifier(), store)


@pytest.fixture
def make_key(store):
    """make_key(role, *communities) -> a real API key stored in the test database."""
    def make(role: str = "admin", *communities: str, name: str | None = None) -> str:
        return create_key(store, name or f"{role}-tester", role, list(communities) or ["*"])[0]
    return make


@pytest.fixture
def client(settings, pipeline, make_key):
    """The app with an admin key sent on every request (auth has its own tests)."""
    with TestClient(create_app(settings, pipeline=pipeline),
                    headers={"Authorization": f"Bearer {make_key('admin', name='tester')}"}) as c:
        yield c


def message(i: int = 1, **over) -> dict:
    body = {"community": "acme", "channel": "general", "author_id": f"u{i % 3}",
            "external_id": f"m{i}", "text": f"message number {i}: the app crashes on login",
            "ts": f"2026-11-{1 + i % 20:02d}T10:00:00Z"}
    return body | over
