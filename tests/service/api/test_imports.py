"""POST /v1/imports (multipart upload, background job) and GET /v1/imports/{id}."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.importer import fingerprint, import_file

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"
DISCOURSE = (FIXTURES / "discourse_posts.json").read_bytes()


def upload(client, content: bytes, name: str = "posts.json", **data):
    return client.post("/v1/imports", files={"file": (name, content, "application/json")},
                       data=data)


def wait(client, poll: str) -> dict:
    for _ in range(400):
        body = client.get(poll).json()
        if body["status"] not in ("queued", "running"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"import did not finish: {body}")


def jsonl(n: int, start: int = 0) -> bytes:
    return "".join(json.dumps({"channel": "c", "author_id": f"u{i % 3}", "external_id": f"e{i}",
                               "text": f"消息 {i}: the app crashes", "ts": "2026-11-01T10:00:00Z"},
                              ensure_ascii=False) + "\n" for i in range(start, n)).encode()


def uploads_left(settings) -> list[Path]:
    folder = settings.db_path.parent / "imports"
    return list(folder.iterdir()) if folder.exists() else []


def test_upload_runs_the_importer_in_the_background(client, store, settings):
    r = upload(client, DISCOURSE, community="acme-forum")
    assert r.status_code == 202, r.text
    assert r.headers["location"] == r.json()["poll"] == f"/v1/imports/{r.json()['id']}"
    done = wait(client, r.json()["poll"])
    assert done["status"] == "done" and done["done"] and done["format"] == "discourse"
    assert (done["created"], done["skipped"], done["rejected"], done["position"]) == (5, 6, 0, 11)
    assert done["skip_reasons"]["deleted post"] == 2 and done["source"] == "posts.json"
    assert store.count_messages("acme-forum") == 5
    listed = client.get("/v1/messages", params={"community": "acme-forum"}).json()["items"]
    assert {m["external_id"] for m in listed} == {"41001", "41002", "41004", "41005", "41010"}
    assert uploads_left(settings) == []  # the spooled upload is removed after the job


def test_same_file_again_is_recognised_and_not_imported_twice(client, store, settings):
    first = wait(client, upload(client, DISCOURSE, community="acme-forum").json()["poll"])
    again = upload(client, DISCOURSE, name="renamed.json", community="acme-forum")
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert again.json()["status"] == "done" and store.count_messages() == 5
    assert uploads_left(settings) == []


def test_jsonl_with_mapping_and_bad_records(client, store):
    lines = (b'{"post": "p1", "who": "u1", "body": "export button does nothing", '
             b'"at": "2026-11-03T10:00:00Z"}\n{not json\n'
             b'{"post": "p2", "who": "u2", "body": "", "at": "2026-11-03T10:00:00Z"}\n')
    r = client.post("/v1/imports", files={"file": ("forum.jsonl", lines, "text/plain")},
                    data={"community": "forum", "channel": "bugs",
                          "map": ["external_id=post", "author_id=who", "text=body", "ts=at"]})
    assert r.status_code == 202, r.text
    done = wait(client, r.json()["poll"])
    assert (done["created"], done["rejected"]) == (1, 2)
    assert done["errors"][0].startswith("record 2: invalid JSON")
    assert done["errors"][1].startswith("record 3: text")
    row = client.get("/v1/messages", params={"community": "forum"}).json()["items"][0]
    assert row["channel"] == "bugs" and row["external_id"] == "p1"


def test_bad_uploads_get_4xx_with_a_reason(client, store, settings):
    cases = {
        "no community for discourse": (dict(files={"file": ("p.json", DISCOURSE)}), 422,
                                       "'community' field"),
        "unknown format": (dict(files={"file": ("notes.txt", b"hello")}), 422, "notes.txt"),
        "bad format field": (dict(files={"file": ("a.jsonl", b"{}\n")}, data={"format": "xml"}),
                             422, "unknown format 'xml'"),
        "format that does not fit": (dict(files={"file": ("a.json", b"[1, 2")},
                                          data={"format": "discord"}), 422, "not a discord"),
        "bad mapping": (dict(files={"file": ("a.csv", b"a\n1\n")}, data={"map": "colour=a"}),
                        422, "FIELD=COLUMN"),
        "unknown field": (dict(files={"file": ("a.jsonl", b"{}\n")}, data={"colour": "red"}),
                          422, "unknown field 'colour'"),
        "no file": (dict(files={"community": (None, b"x")}), 422, "field required"),
        "form without a file part": (dict(data={"community": "x"}), 415, "multipart/form-data"),
        "file in another field": (dict(files={"upload": ("a.jsonl", b"{}\n")}), 422, "'file'"),
        "empty file": (dict(files={"file": ("a.jsonl", b"")}), 422, "empty"),
        "not multipart": (dict(json={"file": "x"}), 415, "multipart/form-data"),
    }
    for name, (kwargs, status, needle) in cases.items():
        r = client.post("/v1/imports", **kwargs)
        assert r.status_code == status, (name, r.text)
        body = r.json()
        assert set(body) == {"error", "message", "detail"} and needle in body["message"], (
            name, body["message"])
    assert store.count_messages() == 0 and uploads_left(settings) == []
    cut = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n{}'
    r = client.post("/v1/imports", content=cut,
                    headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 400 and "ended early" in r.json()["message"]
    assert client.get("/v1/imports/12345").status_code == 404


def test_upload_over_the_import_limit_is_refused_and_not_kept(settings, pipeline, store,
                                                              make_key):
    small = settings.model_copy(update={"max_import_bytes": 4096})
    with TestClient(create_app(small, pipeline=pipeline),
                    headers={"X-API-Key": make_key("ingest")}) as client:
        r = upload(client, DISCOURSE, community="acme-forum")
    assert r.status_code == 413 and "PULSE_MAX_IMPORT_BYTES" in r.json()["message"]
    assert uploads_left(settings) == [] and store.count_messages() == 0


def test_upload_larger_than_the_json_body_limit(client, settings):
    big = jsonl(3000)
    assert settings.max_body_bytes < len(big) < settings.max_import_bytes
    r = upload(client, big, name="big.jsonl", community="acme")
    assert r.status_code == 202, r.text


@pytest.fixture
def held(pipeline):
    """Ingest waits until the test releases it (an import that is still running)."""
    gate = threading.Event()
    real = pipeline.ingest

    def slow(batch, checkpoint=None):
        assert gate.wait(10)
        return real(batch, checkpoint)

    pipeline.ingest = slow
    yield gate
    gate.set()


def test_one_import_at_a_time(client, held, store):
    first = upload(client, jsonl(10), name="a.jsonl", community="acme")
    assert first.status_code == 202
    busy = upload(client, jsonl(20, 10), name="b.jsonl", community="acme")
    assert busy.status_code == 409 and f"import {first.json()['id']}" in busy.json()["message"]
    assert client.get(first.json()["poll"]).json()["status"] in ("queued", "running")
    held.set()
    assert wait(client, first.json()["poll"])["created"] == 10
    second = upload(client, jsonl(20, 10), name="b.jsonl", community="acme")
    assert second.status_code == 202 and wait(client, second.json()["poll"])["created"] == 10


def test_stopped_import_resumes_when_the_file_is_sent_again(client, held, store):
    r = upload(client, jsonl(200), name="a.jsonl", community="acme")
    client.app.state.imports.stop()  # what a shutdown does between records
    held.set()
    stopped = wait(client, r.json()["poll"])
    assert stopped["status"] == "stopped" and not stopped["done"]
    assert stopped["position"] < 200
    again = upload(client, jsonl(200), name="a.jsonl", community="acme")
    assert again.status_code == 202 and again.json()["id"] == r.json()["id"]
    done = wait(client, again.json()["poll"])
    assert done["done"] and done["created"] == 200 and store.count_messages() == 200


def test_import_left_unfinished_by_an_earlier_run_is_interrupted(client, pipeline, tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_bytes(jsonl(10))
    calls = iter(range(100))
    import_file(pipeline, path, defaults={"community": "acme"}, batch_size=2,
                stop=lambda: next(calls) >= 4)
    row = pipeline.store.get_import(fingerprint(path))
    body = client.get(f"/v1/imports/{row['id']}").json()
    assert body["status"] == "interrupted" and body["position"] == 4 and body["skipped"] is None
