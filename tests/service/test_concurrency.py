"""Concurrent writers on one database do not corrupt or lock out each other.

Fast: processes writing through their own Store while another holds a long write
transaction wait (busy timeout) instead of failing. Slow: the real service's API ingest, a
`pulse import` process, a recluster job and an online `pulse backup` at once.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from service.store import Store

ROOT = Path(__file__).resolve().parents[2]
WRITER = """
import sys, pathlib
from service.store import Store
from tests.fakes import labelled
store, k, stop = Store(sys.argv[1]), int(sys.argv[2]), pathlib.Path(sys.argv[3])
made = b = 0
while b < 20 or not stop.exists():  # until the test says stop: never done too early
    # its own ids, and ids every writer also sends: each is stored by whoever commits first
    rows = [labelled(f"w{k}-{b}-{j}", "2026-11-01T00:00:00.000000Z") for j in range(10)]
    rows += [labelled(f"shared-{b}-{j}", "2026-11-01T00:00:00.000000Z") for j in range(5)]
    made += sum(new for _, new in store.insert_messages(rows))
    b += 1
print(made, b)
"""


def test_writer_processes_wait_for_each_other_and_for_a_long_transaction(tmp_path):
    path, stop = tmp_path / "shared.db", tmp_path / "stop"
    Store(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(k), str(stop)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(3)]
    running = []

    def long_transaction():  # like a recluster writing its topics: the file is busy 1.5 s
        store = Store(path)
        with store._write_lock, store._transaction() as conn:
            conn.execute("UPDATE messages SET topic_id = NULL")
            running.extend(p.poll() is None for p in procs)
            time.sleep(1.5)

    while Store(path).count_messages() == 0:  # the writers are writing
        time.sleep(0.01)
    holder = threading.Thread(target=long_transaction)
    holder.start()
    holder.join()
    stop.touch()
    assert running == [True, True, True]  # they had to wait for it
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-500:] for _, err in outs]
    assert not any("locked" in err for _, err in outs)
    made, batches = zip(*(map(int, out.split()) for out, _ in outs), strict=True)
    total, distinct = sqlite3.connect(path).execute(
        "SELECT count(*), count(DISTINCT external_id) FROM messages").fetchone()
    assert total == distinct == sum(made) == 10 * sum(batches) + 5 * max(batches)


@pytest.mark.slow
def test_api_import_recluster_and_backup_at_once(tmp_path):
    from eval.faults import concurrent_writers

    r = concurrent_writers(tmp_path, seed_n=1000, api_n=2000, import_n=2000, overlap=300)
    assert r["api_errors"] == [] and r["api_requests_retried"] == {}  # no 503, nothing locked
    assert r["api_acknowledged"] == 2000
    assert r["import_returncode"] == 0 and r["import_done"] and not r["import_stderr_locked"]
    assert r["import_position_at_api_start"] < r["import"]  # the import was still running
    assert [run["status"] for run in r["recluster"]] == ["done"] and r["recluster"][0]["n_topics"]
    assert r["backup_returncode"] == 0 and r["backup_integrity"] == "ok"
    assert 1000 <= r["backup_messages"] <= r["stored"]
    assert r["stored"] == r["distinct"] == r["expected"] == r["created_sum"] == 5000
    assert r["api_duplicates"] + r["import_duplicates"] == 300
    assert r["integrity"] == "ok"
