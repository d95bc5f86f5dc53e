"""Who may do what, over the real app: 401 without a key, 403 for a wrong role, nothing of
another community, 429 over the rate, no secrets in logs."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from service.app import create_app
from service.store import format_ts
from tests.fakes import labelled

OPEN = {"/healthz", "/dashboard/login"}


@pytest.fixture
def app(settings, pipeline):
    with TestClient(create_app(settings, pipeline=pipeline)) as c:
        yield c


def test_every_route_declares_its_roles(app):
    for route in app.app.routes:
        if not isinstance(route, APIRoute) or route.path in OPEN:
            continue
        roles = [getattr(d.call, "roles", None) for d in route.dependant.dependencies]
        assert any(roles), f"{route.path} {route.methods} has no role check"


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/messages"), ("POST", "/v1/messages"), ("POST", "/v1/classify"),
    ("GET", "/v1/queue?community=acme"), ("GET", "/v1/trends?community=acme"),
    ("GET", "/metrics"), ("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/v1/topics/1"),
    ("POST", "/v1/imports"), ("PUT", "/v1/communities/acme/queue-settings"),
])
def test_no_key_is_401_with_a_reason(app, method, path):
    for headers in ({}, {"Authorization": "Bearer pk_0000_wrong"}, {"X-API-Key": "nope"}):
        r = app.request(method, path, headers=headers)
        assert r.status_code == 401, (path, headers)
        assert "API key" in r.json()["message"] and r.headers["www-authenticate"] == "Bearer"


def test_open_paths_and_dashboard_redirect(app):
    assert app.get("/healthz").status_code == 200
    assert app.get("/static/dashboard.css").status_code == 200
    r = app.get("/dashboard/acme/trends", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/dashboard/login")


ROLE_CASES = [  # (method, path, body, roles allowed besides admin)
    ("POST", "/v1/classify", {"text": "hi"}, {"bot", "ingest", "moderator", "operator"}),
    ("POST", "/v1/messages", {"message": {"community": "acme", "channel": "c", "author_id": "a",
                                          "external_id": "x1", "text": "hello",
                                          "ts": "2026-11-20T00:00:00Z"}}, {"ingest"}),
    ("GET", "/v1/messages?community=acme", None, {"moderator", "operator"}),
    ("GET", "/v1/topics?community=acme", None, {"moderator", "operator"}),
    ("GET", "/v1/queue?community=acme", None, {"moderator"}),
    ("GET", "/v1/feedback?community=acme", None, {"moderator"}),
    ("GET", "/v1/trends?community=acme", None, {"operator"}),
    ("GET", "/v1/reports/weekly?community=acme", None, {"operator"}),
    ("GET", "/metrics", None, {"operator"}),
    ("POST", "/v1/topics/recluster", {"community": "acme"}, set()),
    ("PUT", "/v1/communities/acme/queue-settings", {"weights": {"severity": 1.0}}, set()),
]


@pytest.mark.parametrize("method, path, body, allowed", ROLE_CASES)
def test_role_boundaries(app, make_key, method, path, body, allowed):
    for role in ("bot", "ingest", "moderator", "operator", "admin"):
        r = app.request(method, path, json=body, headers={"X-API-Key": make_key(role)})
        if role == "admin" or role in allowed:
            assert r.status_code not in (401, 403), (role, path, r.text)
        else:
            assert r.status_code == 403, (role, path, r.status_code)
            assert f"a {role} key may not do this" in r.json()["message"]


def test_a_key_for_one_community_sees_nothing_of_another(app, store, make_key):
    day = format_ts(datetime.now(UTC) - timedelta(days=2))  # inside the queue's window
    store.insert_messages([labelled("a1", day, community="acme"),
                           labelled("b1", day, community="beta",
                                    intent="spam_ad", flags=("spam",))])
    b_id = store.known_ids("beta", ["b1"])["b1"]
    acme = {"X-API-Key": make_key("moderator", "acme")}
    listed = app.get("/v1/messages", headers=acme).json()["items"]
    assert [m["community"] for m in listed] == ["acme"]
    assert app.get(f"/v1/messages/{b_id}", headers=acme).status_code == 404
    assert app.get("/v1/queue", params={"community": "beta"}, headers=acme).status_code == 403
    admin = {"X-API-Key": make_key("admin")}
    item = app.get("/v1/queue", params={"community": "beta"}, headers=admin).json()["items"][0]
    assert app.get(f"/v1/queue/{item['id']}", headers=acme).status_code == 404
    assert app.post(f"/v1/queue/{item['id']}/actions", json={"action": "acknowledge"},
                    headers=acme).status_code == 404
    assert app.post(f"/v1/messages/{b_id}/relabel", json={"field": "sentiment",
                    "value": "negative"}, headers=acme).status_code == 404
    ingest = {"X-API-Key": make_key("ingest", "acme")}
    r = app.post("/v1/messages", headers=ingest, json={"message": {
        "community": "beta", "channel": "c", "author_id": "a", "external_id": "x",
        "text": "hi", "ts": "2026-11-20T00:00:00Z"}})
    assert r.status_code == 403 and store.count_messages("beta") == 1
    r = app.post("/v1/imports", headers=ingest, files={"file": ("a.jsonl", b"{}")})
    assert r.status_code == 403 and "all communities" in r.json()["message"]
    assert app.get("/dashboard/beta/queue", headers=acme).status_code == 404


def test_rate_limit_answers_429_with_retry_after(settings, pipeline, make_key):
    tight = settings.model_copy(update={"rate_limit_rps": 0.5, "rate_limit_burst": 2})
    with TestClient(create_app(tight, pipeline=pipeline),
                    headers={"X-API-Key": make_key("bot")}) as c:
        codes = [c.post("/v1/classify", json={"text": "hi"}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = c.post("/v1/classify", json={"text": "hi"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        other = c.post("/v1/classify", json={"text": "hi"}, headers={"X-API-Key": make_key("bot")})
        assert other.status_code == 200  # per key


def test_keys_never_reach_the_logs(app, make_key, caplog):
    key = make_key("bot")
    with caplog.at_level(logging.DEBUG):
        app.post("/v1/classify", json={"text": "secret text"}, headers={"X-API-Key": key})
        app.get("/v1/messages", headers={"Authorization": f"Bearer {key}"})
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert key not in logged and key.split("_", 2)[2] not in logged
