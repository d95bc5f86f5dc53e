"""kill -9 during a real `pulse import`, then re-run: nothing lost, nothing twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

N = 6000


def test_kill_during_import_then_resume(tmp_path):
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i in range(N):
            text = f"消息 {i}: the app crashes after update {i % 97}" if i % 2 else f"hello #{i}"
            fh.write(json.dumps({"community": "k", "channel": "c", "author_id": f"a{i % 40}",
                                 "external_id": str(i), "text": text,
                                 "ts": "2026-11-01T00:00:00Z"}, ensure_ascii=False) + "\n")
    db = tmp_path / "kill.db"
    env = os.environ | {"PULSE_DB_PATH": str(db)}
    cmd = [sys.executable, "-m", "service.cli", "import", str(path), "--batch-size", "50"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    position = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                row = sqlite3.connect(db).execute("SELECT position FROM imports").fetchone()
                position = row[0] if row else 0
            except sqlite3.Error:
                pass
        if 500 <= position < N - 500:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the import was not killed mid-way"
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM messages").fetchone()[0]
    committed = sqlite3.connect(db).execute("SELECT position FROM imports").fetchone()[0]
    assert stored == committed < N  # every committed batch is there, with its checkpoint

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resumed after record {committed}" in rerun.stdout
    conn = sqlite3.connect(db)
    total, distinct = conn.execute(
        "SELECT count(*), count(DISTINCT external_id) FROM messages").fetchone()
    assert total == distinct == N
    assert conn.execute("SELECT created, done FROM imports").fetchone() == (N, 1)
