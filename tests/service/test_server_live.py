"""The real service over real HTTP: `pulse serve` in a subprocess with the default models."""

from __future__ import annotations

import pytest

from eval.speed import Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    service = Server(tmp_path_factory.mktemp("live") / "pulse.db")  # waits for /healthz
    with service.client() as client:
        yield client
    service.stop()


def test_ingest_list_classify_over_http(server):
    msgs = [{"community": "live", "channel": "help", "author_id": "a1", "external_id": "1",
             "text": "更新之后登录就闪退，有人遇到吗？", "ts": "2026-11-20T08:00:00+08:00"},
            {"community": "live", "channel": "help", "author_id": "a2", "external_id": "2",
             "text": "Please add dark mode to the mobile app", "ts": "2026-11-20T09:00:00Z"}]
    r = server.post("/v1/messages", json={"messages": msgs})
    assert r.status_code == 200 and r.json()["created"] == 2
    again = server.post("/v1/messages", json={"message": msgs[0]}).json()
    assert again["created"] == 0 and again["items"][0]["status"] == "duplicate"
    listed = server.get("/v1/messages", params={"community": "live"}).json()["items"]
    assert [m["external_id"] for m in listed] == ["2", "1"]
    assert listed[1]["ts"] == "2026-11-20T00:00:00.000000Z" and listed[1]["lang"] == "zh"
    assert listed[0]["intent"] == "feature_request"
    c = server.post("/v1/classify", json={"text": "you are an idiot"}).json()
    assert c["results"][0]["flags"]["abuse"]["flagged"]
    assert server.get("/healthz").json()["messages"] == 2


def test_bad_input_over_http_is_4xx(server):
    r = server.post("/v1/messages", content=b"\xff\xfe garbage",
                   headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500 and r.json()["message"]
    big = b'{"text": "' + b"x" * 10_000_000 + b'"}'
    r = server.post("/v1/classify", content=big,
                   headers={"content-type": "application/json"})
    assert r.status_code == 413
