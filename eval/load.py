"""A bounded load test of the real service: sustained load under the limits, then overload.

    python -m eval.load [--seconds 30] [--overload-seconds 20]   # writes eval/reports/load.{md,json}

The service is `pulse serve` in a second process on loopback with its default settings
(rate limits on); this process drives it with fixed counts at fixed rates.

1. Sustained: several bot keys classify one real chat message per request and several
   ingest keys post batches of 20 real messages, each key paced under its rate limit.
   Reported: requests/s held, p50/p99 per endpoint, every status seen.
2. Overload: one bot key hammers classify from many threads (far past its rate limit);
   many clients on several ingest keys flood ingest far past PULSE_MAX_INFLIGHT_INGEST,
   retrying a refused batch at once (they ignore Retry-After on purpose); a polite bot key
   classifies at a modest rate; a polite ingest client honours Retry-After; /healthz is
   probed throughout. Reported: every status per client kind (the only non-2xx answers
   allowed are 429 and 503, each with Retry-After), /healthz latency during the flood,
   memory before and after.
3. Afterwards the database is read directly: every message acknowledged with a 2xx is
   stored exactly once, and nothing of a refused batch is stored.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from eval.common import describe, machine, table, write_report
from eval.speed import Server, chat_messages
from service.auth.keys import create_key
from service.settings import Settings
from service.store import Store

BATCH = 20
TS = "2026-11-20T00:00:00Z"
LIMITS = ("rate_limit_rps", "rate_limit_burst", "max_inflight_ingest", "max_inflight_classify",
          "stage_timeout_s")


@dataclass
class Tally:
    """What one kind of client saw: statuses, latencies of 2xx answers, Retry-After."""

    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    refused: int = 0  # 429 and 503 answers
    refused_without_retry_after: int = 0
    transport_errors: Counter = field(default_factory=Counter)
    acked: list[str] = field(default_factory=list)  # external ids answered 2xx
    duplicates_reported: int = 0
    late: list[float] = field(default_factory=list)  # paced clients: seconds behind schedule
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, response: httpx.Response | None, seconds: float,
               error: Exception | None = None) -> None:
        with self.lock:
            if response is None:
                self.transport_errors[type(error).__name__] += 1
                return
            self.statuses[response.status_code] += 1
            if response.is_success:
                self.latencies.append(seconds)
            elif response.status_code in (429, 503):
                self.refused += 1
                if not response.headers.get("retry-after", "").isdigit():
                    self.refused_without_retry_after += 1

    def summary(self, elapsed: float) -> dict:
        lat = np.array(self.latencies) * 1000
        total = sum(self.statuses.values())
        return {"requests": total, "requests_per_s": round(total / elapsed, 1),
                "ok_per_s": round(len(self.latencies) / elapsed, 1),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
                "p99_ms": round(float(np.percentile(lat, 99)), 1) if len(lat) else None,
                "max_ms": round(float(lat.max()), 1) if len(lat) else None,
                "refused_without_retry_after": self.refused_without_retry_after,
                **({"late_p99_ms": round(float(np.percentile(self.late, 99)) * 1000, 1)}
                   if self.late else {}),
                "transport_errors": dict(self.transport_errors)}


def send(client: httpx.Client, tally: Tally, path: str, body: dict) -> httpx.Response | None:
    start = time.perf_counter()
    try:
        response = client.post(path, json=body)
    except httpx.HTTPError as exc:
        tally.record(None, 0, exc)
        return None
    tally.record(response, time.perf_counter() - start)
    return response


def batch_of(texts: list[str], community: str, prefix: str, n: int) -> list[dict]:
    start = zlib.crc32(prefix.encode()) % len(texts)
    return [{"community": community, "channel": "load", "author_id": f"a{j % 37}",
             "external_id": f"{prefix}-{j}", "text": texts[(start + j) % len(texts)], "ts": TS}
            for j in range(n)]


def acknowledge(tally: Tally, response: httpx.Response | None, batch: list[dict]) -> bool:
    if response is None or not response.is_success:
        return False
    with tally.lock:
        tally.acked += [m["external_id"] for m in batch]
        tally.duplicates_reported += response.json()["duplicates"]
    return True


def run_threads(workers: list[threading.Thread]) -> float:
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start


# -- 1. sustained ---------------------------------------------------------------------------
def paced(server: Server, key: str, count: int, rate: float, request,
          tally: Tally) -> threading.Thread:
    """``count`` requests at ``rate`` per second on one key, one at a time (a request due
    while the previous one is still out goes as soon as it returns: its delay is recorded)."""

    def work() -> None:
        with httpx.Client(base_url=server.base, headers=_auth(key), timeout=60) as client:
            start = time.perf_counter()
            for i in range(count):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                with tally.lock:
                    tally.late.append(max(0.0, -delay))
                request(client, i)

    return threading.Thread(target=work)


def sustained(server: Server, keys: dict, texts: list[str], seconds: float, classify_rps: float,
              ingest_rps: float) -> dict:
    classify, ingest = Tally(), Tally()
    n_classify, n_ingest = round(classify_rps * seconds), round(ingest_rps * seconds)
    workers = []
    for k, key in enumerate(keys["bot"]):
        workers.append(paced(server, key, n_classify, classify_rps, lambda c, i, k=k: send(
            c, classify, "/v1/classify", {"text": texts[(k * 7919 + i) % len(texts)]}),
            classify))
    for k, key in enumerate(keys["ingest"]):
        def post(c, i, k=k):
            batch = batch_of(texts, "load", f"s{k}-{i}", BATCH)
            acknowledge(ingest, send(c, ingest, "/v1/messages", {"messages": batch}), batch)
        workers.append(paced(server, key, n_ingest, ingest_rps, post, ingest))
    elapsed = run_threads(workers)
    out = {"seconds": round(elapsed, 1), "planned_seconds": seconds,
           "classify": classify.summary(elapsed) | {"keys": len(keys["bot"]),
                                                    "per_key_rps": classify_rps},
           "ingest": ingest.summary(elapsed) | {"keys": len(keys["ingest"]),
                                                "per_key_batches_per_s": ingest_rps,
                                                "batch": BATCH,
                                                "messages_per_s": round(len(ingest.acked) / elapsed, 1)}}
    out["requests_per_s"] = round((out["classify"]["requests"] + out["ingest"]["requests"])
                                  / elapsed, 1)
    out["acked"] = {"load": ingest.acked}
    return out


# -- 2. overload ----------------------------------------------------------------------------
def overload(server: Server, keys: dict, texts: list[str], seconds: float, hammer_threads: int,
             flood_threads: int) -> dict:
    """The hammer (if ``hammer_threads``) or the flood and the polite ingest client (if
    ``flood_threads``), with the polite classify client and the /healthz probe."""
    stop = time.monotonic() + seconds
    kinds = (["hammer"] if hammer_threads else []) + (
        ["flood", "polite_ingest"] if flood_threads else []) + ["polite_classify", "healthz"]
    tallies = {name: Tally() for name in kinds}

    def hammer(k: int) -> None:  # one key, as fast as the answers come
        with httpx.Client(base_url=server.base, headers=_auth(keys["hammer"]),
                          timeout=60) as client:
            i = k
            while time.monotonic() < stop:
                send(client, tallies["hammer"], "/v1/classify", {"text": texts[i % len(texts)]})
                i += hammer_threads

    def flood(k: int) -> None:  # retries a refused batch after 20 ms, ignoring Retry-After
        key = keys["flood"][k % len(keys["flood"])]
        with httpx.Client(base_url=server.base, headers=_auth(key), timeout=60) as client:
            i = 0
            while time.monotonic() < stop:
                batch = batch_of(texts, "flood", f"f{k}-{i}", BATCH)
                while time.monotonic() < stop:
                    response = send(client, tallies["flood"], "/v1/messages", {"messages": batch})
                    if acknowledge(tallies["flood"], response, batch):
                        break
                    time.sleep(0.02)
                i += 1

    def polite_classify() -> None:  # 10 requests/s on its own key
        with httpx.Client(base_url=server.base, headers=_auth(keys["polite_bot"]),
                          timeout=60) as client:
            i = 0
            while time.monotonic() < stop:
                send(client, tallies["polite_classify"], "/v1/classify", {"text": texts[i]})
                i += 1
                time.sleep(0.1)

    def polite_ingest() -> None:  # one batch at a time, waits as long as Retry-After says
        with httpx.Client(base_url=server.base, headers=_auth(keys["polite_ingest"]),
                          timeout=60) as client:
            i = 0
            while time.monotonic() < stop:
                batch = batch_of(texts, "flood", f"p-{i}", BATCH)
                response = send(client, tallies["polite_ingest"], "/v1/messages",
                                {"messages": batch})
                if acknowledge(tallies["polite_ingest"], response, batch):
                    i += 1
                    time.sleep(0.5)
                elif response is not None:
                    time.sleep(int(response.headers.get("retry-after", "1")))

    def probe() -> None:  # /healthz every 100 ms
        with httpx.Client(base_url=server.base, timeout=30) as client:
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    response = client.get("/healthz")
                except httpx.HTTPError as exc:
                    tallies["healthz"].record(None, 0, exc)
                else:
                    tallies["healthz"].record(response, time.perf_counter() - start)
                time.sleep(0.1)

    workers = ([threading.Thread(target=hammer, args=(k,)) for k in range(hammer_threads)]
               + [threading.Thread(target=flood, args=(k,)) for k in range(flood_threads)]
               + [threading.Thread(target=f) for f in (polite_classify, probe)]
               + ([threading.Thread(target=polite_ingest)] if flood_threads else []))
    rss_before = server.rss_mb()
    elapsed = run_threads(workers)
    out = {name: t.summary(elapsed) for name, t in tallies.items()}
    if hammer_threads:
        out["hammer"] |= {"threads": hammer_threads, "keys": 1}
    if flood_threads:
        out["flood"] |= {"threads": flood_threads, "keys": len(keys["flood"]),
                         "messages_acked": len(tallies["flood"].acked),
                         "duplicates_reported": tallies["flood"].duplicates_reported}
        out["polite_ingest"] |= {"messages_acked": len(tallies["polite_ingest"].acked)}
        out["acked"] = {"flood": tallies["flood"].acked + tallies["polite_ingest"].acked}
    out |= {"seconds": round(elapsed, 1), "rss_mb_before": rss_before,
            "rss_mb_after": server.rss_mb()}
    return out


# -- 3. what was stored ---------------------------------------------------------------------
def stored_check(db: Path, acked: dict[str, list[str]]) -> dict:
    """Every acknowledged message stored exactly once; nothing stored that was not."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    out = {}
    for community, ids in acked.items():
        rows = conn.execute("SELECT external_id, count(*) FROM messages WHERE community = ?"
                            " GROUP BY external_id", [community]).fetchall()
        counts = dict(rows)
        acked_set = set(ids)
        out[community] = {
            "acked": len(ids), "acked_distinct": len(acked_set), "stored": sum(counts.values()),
            "acked_missing": len(acked_set - set(counts)),
            "stored_more_than_once": sum(1 for n in counts.values() if n > 1),
            "stored_not_acked": len(set(counts) - acked_set)}
    conn.close()
    out["ok"] = all(c["acked"] == c["acked_distinct"] == c["stored"] and not c["acked_missing"]
                    and not c["stored_more_than_once"] and not c["stored_not_acked"]
                    for c in out.values())
    return out


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def make_keys(db: Path, bots: int, ingesters: int, flooders: int) -> dict:
    store = Store(db)
    try:
        def make(role: str, name: str) -> str:
            return create_key(store, name, role, ["*"])[0]
        return {"bot": [make("bot", f"load-bot-{k}") for k in range(bots)],
                "ingest": [make("ingest", f"load-ingest-{k}") for k in range(ingesters)],
                "hammer": make("bot", "load-hammer"),
                "flood": [make("ingest", f"load-flood-{k}") for k in range(flooders)],
                "polite_bot": make("bot", "load-polite-bot"),
                "polite_ingest": make("ingest", "load-polite-ingest")}
    finally:
        store.close()


def warm_up(server: Server, texts: list[str]) -> None:
    with server.client(timeout=120) as client:
        for i in range(20):
            client.post("/v1/classify", json={"text": texts[i]}).raise_for_status()
        client.post("/v1/messages", json={"messages": batch_of(texts, "warmup", "w", BATCH)}
                    ).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description="bounded load test of the service")
    parser.add_argument("--seconds", type=float, default=30, help="sustained phase")
    parser.add_argument("--hammer-seconds", type=float, default=10)
    parser.add_argument("--flood-seconds", type=float, default=20)
    parser.add_argument("--classify-keys", type=int, default=4)
    parser.add_argument("--classify-rps", type=float, default=25, help="per key")
    parser.add_argument("--ingest-keys", type=int, default=3)
    parser.add_argument("--ingest-rps", type=float, default=3, help="batches/s per key")
    parser.add_argument("--hammer-threads", type=int, default=16)
    parser.add_argument("--flood-threads", type=int, default=48)
    parser.add_argument("--flood-keys", type=int, default=8)
    args = parser.parse_args()
    defaults = {name: Settings.model_fields[name].default for name in LIMITS}
    texts = chat_messages(5000)
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "load.db"
        keys = make_keys(db, args.classify_keys, args.ingest_keys, args.flood_keys)
        # Server lifts the rate limits for benchmarks: give it back the defaults.
        server = Server(db, rate_limit_rps=str(defaults["rate_limit_rps"]),
                        rate_limit_burst=str(defaults["rate_limit_burst"]))
        try:
            warm_up(server, texts)
            steady = sustained(server, keys, texts, args.seconds, args.classify_rps,
                               args.ingest_rps)
            hammer = overload(server, keys, texts, args.hammer_seconds, args.hammer_threads, 0)
            flood = overload(server, keys, texts, args.flood_seconds, 0, args.flood_threads)
            with server.client() as client:
                after = client.get("/healthz")
                alive = {"status": after.status_code, "messages": after.json()["messages"]}
        finally:
            server.stop()
        stored = stored_check(db, steady.pop("acked") | flood.pop("acked"))
    result = {"machine": machine(), "settings": defaults, "sustained": steady,
              "rate_limit": hammer, "flood": flood, "after": alive, "stored": stored,
              "total_seconds": round(time.perf_counter() - started, 1), "args": vars(args),
              "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]}}
    path = write_report("load", result, render(result))
    print(path.read_text())


def render(r: dict) -> str:
    s, h, f, st, cfg = r["sustained"], r["rate_limit"], r["flood"], r["stored"], r["settings"]
    clients = [(h, n) for n in ("hammer", "polite_classify")] + [
        (f, n) for n in ("flood", "polite_ingest", "polite_classify")]
    non_2xx = Counter()
    for phase, name in clients:
        for code, n in phase[name]["statuses"].items():
            if not code.startswith("2"):
                non_2xx[code] += n
    other = {c: n for c, n in non_2xx.items() if c not in ("429", "503")}
    errors = sum(sum(p[n]["transport_errors"].values()) for p, n in
                 clients + [(h, "healthz"), (f, "healthz")])
    missing_retry = sum(p[n]["refused_without_retry_after"] for p, n in clients)
    probes = h["healthz"]["requests"] + f["healthz"]["requests"]
    probes_ok = h["healthz"]["statuses"].get("200", 0) + f["healthz"]["statuses"].get("200", 0)
    header = ["client", "requests", "req/s", "2xx/s", "p50 ms (2xx)", "p99 ms (2xx)",
              "statuses", "note"]

    def row(name, t, note=""):
        return [name, t["requests"], t["requests_per_s"], t["ok_per_s"], t["p50_ms"],
                t["p99_ms"], _statuses(t["statuses"]), note]

    def health(phase):
        t = phase["healthz"]
        return row("healthz", t, f"max {t['max_ms']} ms")

    return (
        f"# Load test\n\nMachine: {describe(r['machine'])}. Reproduce: `python -m eval.load` "
        f"(about {r['total_seconds']:.0f} s in all, including the service's start).\n\n"
        "The service is `pulse serve` (one uvicorn process) in a second process on loopback "
        "with its default settings, rate limits on: "
        + ", ".join(f"`PULSE_{k.upper()}={v:g}`" for k, v in cfg.items()) + ". "
        "The load comes from this process (Python threads, httpx) on the same 2 cores, "
        "which other workers share (1-minute load average "
        f"{r['load_average_1min']['before']:.1f} before the run, "
        f"{r['load_average_1min']['after']:.1f} after): the figures are what this machine "
        "held at that moment, lower bounds rather than capacity (`eval/reports/speed.md` measures "
        "capacity). Latencies are measured by the client from send to answer.\n\n"
        f"## 1. Sustained load under the limits\n\n"
        f"{s['classify']['keys']} bot keys classify one real chat message per request at "
        f"{s['classify']['per_key_rps']:g} requests/s each; {s['ingest']['keys']} ingest keys "
        f"post batches of {s['ingest']['batch']} real messages at "
        f"{s['ingest']['per_key_batches_per_s']:g} batches/s each (texts: SMS and TREC "
        "questions, as in `eval/speed.py`). Every key stays under its rate limit. The "
        f"counts are fixed and paced over {s['planned_seconds']:g} s; the run took "
        f"{s['seconds']} s (p99 of how late a request left against its schedule: classify "
        f"{s['classify']['late_p99_ms']} ms, ingest {s['ingest']['late_p99_ms']} ms).\n\n"
        + table(header, [row("classify", s["classify"], "1 message per request"),
                         row("ingest", s["ingest"],
                             f"{s['ingest']['messages_per_s']} messages/s stored")])
        + f"\nHeld: **{s['requests_per_s']} requests/s** ({s['classify']['ok_per_s']} "
        f"classify + {s['ingest']['ok_per_s']} ingest answered 2xx per second, "
        f"{s['classify']['ok_per_s'] + s['ingest']['messages_per_s']:.0f} messages embedded "
        "per second).\n\n"
        f"## 2. Overload\n\n"
        f"### 2a. One key past its rate limit ({h['seconds']} s)\n\n"
        f"One bot key classifies from {h['hammer']['threads']} threads back to back (far "
        f"past {cfg['rate_limit_rps']:g} requests/s); another bot key classifies at 10 "
        "requests/s; `/healthz` is probed every 100 ms.\n\n"
        + table(header, [row("hammer (classify)", h["hammer"], "one key over its limit"),
                         row("polite classify", h["polite_classify"], "another key"),
                         health(h)])
        + f"\n### 2b. Ingest flood past the bounded queue ({f['seconds']} s)\n\n"
        f"{f['flood']['threads']} clients on {f['flood']['keys']} ingest keys post batches "
        f"of {BATCH} back to back, far past `PULSE_MAX_INFLIGHT_INGEST="
        f"{cfg['max_inflight_ingest']}`, each retrying a refused batch after 20 ms (ignoring "
        "Retry-After on purpose); a polite ingest client on its own key sends one batch at a "
        "time and waits as long as Retry-After says; the polite classify key and the "
        "`/healthz` probe go on.\n\n"
        + table(header, [
            row("flood (ingest)", f["flood"], f"{f['flood']['messages_acked']} messages "
                "acknowledged"),
            row("polite ingest", f["polite_ingest"], f"{f['polite_ingest']['messages_acked']} "
                "messages acknowledged"),
            row("polite classify", f["polite_classify"], "another key"),
            health(f)])
        + "\n### What held\n\n"
        f"- Answers other than 2xx in 2a and 2b: {_statuses(dict(non_2xx)) or 'none'}. Any "
        f"other status: **{_statuses(other) or 'none'}**; connection errors or timeouts: "
        f"**{errors}**.\n"
        f"- 429/503 answers without a `Retry-After` header: **{missing_retry}**.\n"
        f"- The service stayed responsive: `/healthz` answered {probes_ok} of {probes} probes "
        f"200 (p99 {h['healthz']['p99_ms']} ms under the hammer, {f['healthz']['p99_ms']} ms "
        f"under the flood); after the run it answered {r['after']['status']}.\n"
        f"- Memory of the service (RSS): {f['rss_mb_before']} MB before the flood, "
        f"{f['rss_mb_after']} MB after it.\n"
        f"- Not fair, by design: the polite ingest client, which waits as long as Retry-After "
        f"says, got {f['polite_ingest']['statuses'].get('200', 0)} of "
        f"{f['polite_ingest']['requests']} requests through, while the flood's clients, "
        "retrying after 20 ms, took the places freed in between. The in-flight bound "
        "protects the service, not one client from another; the per-key rate limit counts "
        "requests, not messages, so a key may hold many of the "
        f"{cfg['max_inflight_ingest']} ingest places.\n\n"
        "## 3. Nothing lost, nothing twice\n\n"
        "Read from the database after the run: the messages of every request answered 2xx, "
        "against what is stored for its community.\n\n"
        + table(["community", "acknowledged", "stored", "acknowledged but missing",
                 "stored more than once", "stored but never acknowledged"],
                [[c, v["acked"], v["stored"], v["acked_missing"], v["stored_more_than_once"],
                  v["stored_not_acked"]] for c, v in st.items() if c != "ok"])
        + "\nResult: **" + ("every acknowledged message stored exactly once, nothing of a "
                            "refused batch stored" if st["ok"] else "MISMATCH") + "**; "
        f"the flood's retries of refused batches were answered with "
        f"{f['flood']['duplicates_reported']} duplicates (a refused batch stores nothing, "
        "so its retry is new).\n")


def _statuses(statuses: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))


if __name__ == "__main__":
    main()
