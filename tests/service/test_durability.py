"""Faults: what a client is told when the database cannot take a write, and kill -9.

- A full disk and a read-only database answer 503 `storage_unavailable` with SQLite's
  reason and `Retry-After`; nothing of the refused batch is stored, everything acknowledged
  before is, and the same batch goes through once the cause is gone. Real mechanisms where
  the machine allows them (a tiny tmpfs; a file the service may not write), SQLite's own
  page cap otherwise (the same SQLITE_FULL a full disk gives).
- kill -9: an acknowledged commit survives the process (synchronous=NORMAL in WAL mode);
  the slow test kills the real service repeatedly during a concurrent ingest.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth.keys import create_key
from service.pipeline import Pipeline
from service.store import Store
from tests.conftest import message
from tests.fakes import fake_classifier


def batch(tag: str, n: int = 40) -> list[dict]:
    return [message(i, external_id=f"{tag}-{i}", text=f"{tag} 消息 {i}: the app crashes " * 3)
            for i in range(n)]


def serve(store: Store, settings) -> TestClient:
    key = create_key(store, "tester", "admin", ["*"])[0]
    return TestClient(create_app(settings, pipeline=Pipeline(fake_classifier(), store)),
                      headers={"Authorization": f"Bearer {key}"})


def stored_ids(path) -> set[str]:
    return {r[0] for r in sqlite3.connect(path).execute("SELECT external_id FROM messages")}


def assert_refused(r, reason: str) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "storage_unavailable" and reason in r.json()["message"]
    assert "nothing was stored" in r.json()["message"] and int(r.headers["Retry-After"]) > 0


class Capped(Store):
    """Each connection may grow the database only to ``pages`` pages (None: no cap)."""

    pages: int | None = None

    def _db(self):
        db = super()._db()
        want = self.pages or 1_073_741_823
        if getattr(db, "cap", None) != want:
            db.conn.execute(f"PRAGMA max_page_count = {want}")
            db.cap = want
        return db


def test_full_database_is_503_and_nothing_of_the_batch_is_stored(settings):
    store = Capped(settings.db_path)
    with serve(store, settings) as client:
        assert client.post("/v1/messages", json={"messages": batch("a")}).status_code == 200
        store.pages = store._db().execute("PRAGMA page_count").fetchone()[0]
        refused = client.post("/v1/messages", json={"messages": batch("b")})
        assert_refused(refused, "database or disk is full")
        assert stored_ids(settings.db_path) == {f"a-{i}" for i in range(40)}
        store.pages = None
        again = client.post("/v1/messages", json={"messages": batch("b")}).json()
        assert again["created"] == 40 and len(stored_ids(settings.db_path)) == 80


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (root with CAP_SYS_ADMIN only); yields (folder, grow())."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                          capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield folder, lambda: subprocess.run(
            ["mount", "-o", "remount,size=64m", str(folder)], check=True)
    finally:
        if subprocess.run(["umount", str(folder)]).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)])


def test_a_real_full_disk_is_503_and_every_acknowledged_message_is_kept(settings, tiny_disk):
    folder, grow = tiny_disk
    settings = settings.model_copy(update={"db_path": folder / "pulse.db"})
    store = Store(settings.db_path)
    acknowledged: set[str] = set()
    with serve(store, settings) as client:
        for k in range(200):
            r = client.post("/v1/messages", json={"messages": batch(f"k{k}")})
            if r.status_code != 200:
                break
            acknowledged |= {item["external_id"] for item in r.json()["items"]}
        else:
            pytest.fail("the 1 MiB disk never filled")
        assert_refused(r, "database or disk is full")
        assert len(acknowledged) >= 40
        assert stored_ids(settings.db_path) == acknowledged  # all of them, none of the refused
        assert_refused(client.post("/v1/messages", json={"messages": batch(f"k{k}")}),
                       "database or disk is full")  # still full: still a clear refusal
        grow()
        again = client.post("/v1/messages", json={"messages": batch(f"k{k}")}).json()
        assert again["created"] == 40
    assert len(stored_ids(settings.db_path)) == len(acknowledged) + 40
    assert sqlite3.connect(settings.db_path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.fixture
def unwritable(tmp_path):
    """lock(path) makes a file one the service may not write: chmod for a normal user,
    the immutable attribute for root (whom permissions do not stop)."""
    locked = []

    def lock(path):
        if os.geteuid() != 0:
            path.chmod(0o444)
        elif subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("root here cannot make a file immutable (chattr +i)")
        locked.append(path)

    def unlock():
        for path in locked:
            if os.geteuid() == 0:
                subprocess.run(["chattr", "-i", str(path)], check=True)
            path.chmod(0o644)
        locked.clear()

    yield lock, unlock
    unlock()


def test_read_only_database_is_503_and_nothing_is_acknowledged(settings, unwritable):
    lock, unlock = unwritable
    first = Store(settings.db_path)
    key = create_key(first, "tester", "admin", ["*"])[0]
    first.close()  # the last connection: the WAL is folded into the file
    lock(settings.db_path)
    store = Store(settings.db_path)  # opens (reads work) but cannot write
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings, pipeline=Pipeline(fake_classifier(), store)),
                    headers=headers) as client:
        assert client.get("/v1/messages").status_code == 200
        assert_refused(client.post("/v1/messages", json={"messages": batch("r")}),
                       "attempt to write a readonly database")
    assert stored_ids(settings.db_path) == set()
    unlock()
    with TestClient(create_app(settings, pipeline=Pipeline(fake_classifier(),
                                                           Store(settings.db_path))),
                    headers=headers) as client:
        assert client.post("/v1/messages", json={"messages": batch("r")}).json()["created"] == 40


def test_a_read_only_filesystem_stops_the_service_at_start_with_the_reason(tmp_path):
    from service.store import StoreError

    Store(tmp_path / "pulse.db").close()
    view = tmp_path / "ro"
    view.mkdir()
    if subprocess.run(["mount", "--bind", str(tmp_path), str(view)], capture_output=True).returncode:
        pytest.skip("cannot bind-mount here (needs root with CAP_SYS_ADMIN)")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        with pytest.raises(StoreError, match="cannot open database .*unable to open database file"):
            Store(view / "pulse.db")
    finally:
        if subprocess.run(["umount", str(view)]).returncode != 0:
            subprocess.run(["umount", "-l", str(view)])


ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import sys
from service.store import Store
from tests.fakes import labelled
store = Store(sys.argv[1])
for i in range(100000):
    store.insert_messages([labelled(f"{i}-{j}", "2026-11-01T00:00:00.000000Z") for j in range(5)])
    print(i, flush=True)  # the acknowledgement: sent only after the commit returned
"""


def test_a_commit_acknowledged_just_before_kill_9_is_there(tmp_path):
    """The narrowest window: SIGKILL right after a commit returns, before any checkpoint."""
    for round_ in range(3):
        path = tmp_path / f"k{round_}.db"
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                                 text=True, cwd=ROOT)
        target = 20 + 37 * round_ + uuid.uuid4().int % 50
        for line in child.stdout:
            if int(line) >= target:
                child.send_signal(signal.SIGKILL)
                break
        child.wait()
        assert child.returncode == -signal.SIGKILL
        ids = stored_ids(path)
        assert {f"{i}-{j}" for i in range(target + 1) for j in range(5)} <= ids
        assert len(ids) % 5 == 0  # whole batches only


@pytest.mark.slow
def test_kill_9_during_a_concurrent_ingest_loses_and_duplicates_nothing(tmp_path):
    """The real service, 20,000 real messages from 4 clients that retry, 4 SIGKILLs."""
    from eval.faults import kill_during_ingest

    r = kill_during_ingest(tmp_path, n=20_000, kills=4, clients=4)
    assert r["kills"] == 4, r["kill_points"]  # every kill landed during the ingest
    assert r["client_errors"] == []
    assert r["acknowledged"] == r["stored"] == r["distinct"] == 20_000
    assert r["duplicates"] == r["n_lost_acknowledged"] == r["never_stored"] == 0
    assert r["wrong_id"] == 0  # each acknowledged message is the very row its answer named
    assert r["unexpected"] == r["without_predictions"] == 0
    assert len(r["embedding_bytes"]) == 1 and r["embedding_bytes"][0] > 0
    assert r["integrity"] == "ok"
    assert any(reason.startswith("connection") for reason in r["retries_by_reason"])
