"""Speed of the real service on this machine, against the embedder's own ceiling.

    python -m eval.speed [--messages 5000] [--requests 500]   # writes eval/reports/speed.{md,json}

1. Ceiling: the default embedder alone, one process, on real short messages (SMS and TREC
   questions, as chat stand-ins), batched like the service batches them.
2. The service: `pulse serve` in a subprocess on loopback with a fresh SQLite file.
   - ingest: POST /v1/messages in batches of 100 (embed + heads + SQLite write), msgs/s;
   - classify latency: one client, one short message per request, p50/p99;
   - classify throughput: 16 concurrent clients, requests/s;
   - the classify figures again with micro-batching off (the baseline), in the same run;
   - resident memory of the service process after the run.
All figures come from the same run; the report states the machine.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from eval.common import describe, machine, table, write_report
from service.nlp.embedder import load_embedder
from service.schemas import check_text
from service.settings import Settings
from training import data


def chat_messages(n: int) -> list[str]:
    texts = [e.text for e in data.sms_spam() if len(e.text) <= 200]
    texts += [e.text for e in data.trec_questions()]
    texts = [t for t in texts if _valid(t)]
    rng = np.random.default_rng(0)
    rng.shuffle(texts)
    return texts[:n]


def _valid(text: str) -> bool:
    try:
        check_text(text, None)
        return True
    except ValueError:
        return False


def ceiling(texts: list[str], threads: int | None = None) -> float:
    s = Settings()
    embedder = load_embedder(s.embedder, threads=threads or s.embed_threads,
                             batch_size=s.embed_batch)
    embedder.embed(texts[:64])
    start = time.perf_counter()
    for i in range(0, len(texts), 100):
        embedder.embed(texts[i : i + 100])
    return len(texts) / (time.perf_counter() - start)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`pulse serve` in a subprocess with an admin key made for it (``headers``).

    Per-key rate limits are lifted unless given: the benchmarks measure capacity.
    """

    def __init__(self, db: Path, *args: str, **settings: str) -> None:
        self.port = _free_port()
        settings = {"rate_limit_rps": "1000000", "rate_limit_burst": "1000000"} | settings
        env = os.environ | {"PULSE_DB_PATH": str(db), "PULSE_PORT": str(self.port)} | {
            f"PULSE_{k.upper()}": v for k, v in settings.items()}
        made = subprocess.run([sys.executable, "-m", "service.cli", "keys", "create", "--name",
                               "bench", "--role", "admin", "--community", "*"], env=env,
                              capture_output=True, text=True, check=True)
        self.headers = {"Authorization": f"Bearer {made.stdout.strip()}"}
        self.proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", *args], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.proc.kill()
        raise RuntimeError("service did not start")

    def rss_mb(self) -> float:
        """Resident memory of the service process and its worker processes."""
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        total = 0
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS"):
                    total += int(line.split()[1])
        return round(total / 1024, 1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=self.headers, timeout=timeout)


def ingest_rate(server: Server, texts: list[str]) -> float:
    batches = [[{"community": "bench", "channel": "c", "author_id": f"a{j % 50}",
                 "external_id": f"{i}-{j}", "text": t, "ts": "2026-11-20T00:00:00Z"}
                for j, t in enumerate(texts[i : i + 100], start=i)]
               for i in range(0, len(texts), 100)]
    with server.client(timeout=120) as client:
        start = time.perf_counter()
        for batch in batches:
            r = client.post("/v1/messages", json={"messages": batch})
            if r.status_code != 200:
                raise RuntimeError(f"ingest failed: {r.status_code} {r.text[:500]}")
        return len(texts) / (time.perf_counter() - start)


def classify_latency(server: Server, texts: list[str], n: int) -> dict:
    lat = []
    with server.client() as client:
        for t in texts[:20]:
            client.post("/v1/classify", json={"text": t})
        for t in texts[:n]:
            start = time.perf_counter()
            client.post("/v1/classify", json={"text": t}).raise_for_status()
            lat.append(time.perf_counter() - start)
    return {"p50_ms": round(float(np.percentile(lat, 50)) * 1000, 2),
            "p99_ms": round(float(np.percentile(lat, 99)) * 1000, 2), "n": len(lat)}


def classify_throughput(server: Server, texts: list[str], clients: int, seconds: float) -> dict:
    done, errors = [0] * clients, [0] * clients
    stop = time.monotonic() + seconds

    def worker(k: int) -> None:
        with server.client() as client:
            i = k
            while time.monotonic() < stop:
                r = client.post("/v1/classify", json={"text": texts[i % len(texts)]})
                done[k] += r.status_code == 200
                errors[k] += r.status_code != 200
                i += clients

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {"clients": clients, "requests_per_s": round(sum(done) / elapsed, 1),
            "errors": sum(errors), "seconds": round(elapsed, 1)}


def ingest_profile(texts: list[str]) -> dict:
    """Where ingest time goes, in-process, on the same messages: embed, heads, the rest."""
    from datetime import UTC, datetime

    from service.models_setup import load_classifier
    from service.pipeline import Pipeline
    from service.schemas import MessageIn
    from service.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(load_classifier(Settings()), Store(Path(tmp) / "p.db"))
        parts = {"embed": 0.0, "heads": 0.0}
        embed, predict = pipeline.classifier.embed, pipeline.classifier.predict

        def timed(name, fn):
            def wrapper(*a):
                start = time.perf_counter()
                try:
                    return fn(*a)
                finally:
                    parts[name] += time.perf_counter() - start
            return wrapper

        pipeline.classifier.embed = timed("embed", embed)
        pipeline.classifier.predict = timed("heads", predict)
        msgs = [MessageIn(community="p", channel="c", author_id="a", external_id=str(i),
                          text=t, ts=datetime(2026, 11, 1, tzinfo=UTC))
                for i, t in enumerate(texts)]
        start = time.perf_counter()
        for i in range(0, len(msgs), 100):
            pipeline.ingest(msgs[i : i + 100])
        total = time.perf_counter() - start
    rest = total - parts["embed"] - parts["heads"]
    return {"messages": len(texts), "msgs_per_s": round(len(texts) / total, 1),
            "share": {"embed": round(parts["embed"] / total, 3),
                      "heads (incl. text layer)": round(parts["heads"] / total, 3),
                      "validation, dedupe, topics, SQLite": round(rest / total, 3)}}


def main() -> None:
    parser = argparse.ArgumentParser(description="service speed benchmark")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    texts = chat_messages(max(args.messages, 10_000))
    ceil = ceiling(texts[:10_000])
    ceil_two_threads = ceiling(texts[:10_000], threads=2)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "bench.db", classify_batching="false")
        try:  # baseline: no micro-batching
            plain_latency = classify_latency(server, texts, args.requests)
            plain = classify_throughput(server, texts, 16, args.seconds)
        finally:
            server.stop()
        server = Server(Path(tmp) / "bench.db", embed_threads="2")
        try:  # two BLAS threads instead of one, everything else default
            two_latency = classify_latency(server, texts, args.requests)
            two = classify_throughput(server, texts, 16, args.seconds)
        finally:
            server.stop()
        server = Server(Path(tmp) / "bench.db", "--workers", "2")
        try:  # two worker processes, one thread each
            procs_latency = classify_latency(server, texts, args.requests)
            procs = classify_throughput(server, texts, 16, args.seconds)
            procs_rss = server.rss_mb()
        finally:
            server.stop()
        server = Server(Path(tmp) / "bench.db")
        try:  # the default configuration
            ingest = ingest_rate(server, texts[: args.messages])
            latency = classify_latency(server, texts, args.requests)
            throughput = classify_throughput(server, texts, 16, args.seconds)
            rss = server.rss_mb()
        finally:
            server.stop()
    profile = ingest_profile(texts[: args.messages])
    result = {"machine": machine(), "embedder_ceiling_msgs_per_s": round(ceil, 1),
              "ingest_profile_in_process": profile,
              "ingest_msgs_per_s": round(ingest, 1), "ingest_fraction_of_ceiling":
              round(ingest / ceil, 3), "classify_single_client": latency,
              "classify_16_clients": throughput, "service_rss_mb": rss,
              "no_batching": {"classify_single_client": plain_latency,
                              "classify_16_clients": plain},
              "two_workers": {"classify_single_client": procs_latency,
                              "classify_16_clients": procs, "service_rss_mb": procs_rss},
              "two_threads": {"embedder_ceiling_msgs_per_s": round(ceil_two_threads, 1),
                              "classify_single_client": two_latency,
                              "classify_16_clients": two},
              "messages": args.messages, "embedder": Settings().embedder}
    md = (f"# Service speed\n\nMachine: {describe(result['machine'])}.\nReproduce: `python -m eval.speed`. "
          "Service: `pulse serve` (one uvicorn process, default settings) on loopback; the "
          "load comes from this process on the same 2 cores.\n\n" + table(
              ["measure", "value", "baseline / note"],
              [["embedder alone (ceiling), msgs/s", result["embedder_ceiling_msgs_per_s"],
                f"{result['embedder']}, 10k real short messages, 1 thread; with 2 threads "
                f"{ceil_two_threads:.0f}"],
               ["ingest over HTTP, msgs/s", result["ingest_msgs_per_s"],
                f"{result['ingest_fraction_of_ceiling']:.0%} of the ceiling; batches of 100, "
                f"{args.messages} messages, embed + heads + SQLite"],
               ["classify p50 ms (1 client, 1 message)", latency["p50_ms"],
                f"n={latency['n']}; without micro-batching {plain_latency['p50_ms']}"],
               ["classify p99 ms", latency["p99_ms"],
                f"without micro-batching {plain_latency['p99_ms']}"],
               ["classify requests/s (16 clients)", throughput["requests_per_s"],
                f"{throughput['errors']} errors in {throughput['seconds']} s; without "
                f"micro-batching {plain['requests_per_s']} "
                f"({throughput['requests_per_s'] / plain['requests_per_s']:.2f}x)"],
               ["service memory (RSS MB)", rss, "after the run"],
               ["with PULSE_EMBED_THREADS=2: p50 / p99 ms, requests/s (16 clients)",
                f"{two_latency['p50_ms']} / {two_latency['p99_ms']}, {two['requests_per_s']}",
                "the default is 1 thread: the load generator shares the 2 cores"],
               ["with `pulse serve --workers 2`: p50 / p99 ms, requests/s (16 clients), RSS MB",
                f"{procs_latency['p50_ms']} / {procs_latency['p99_ms']}, "
                f"{procs['requests_per_s']}, {procs_rss}",
                "the default is 1 process"],
               ["ingest in-process (no HTTP), msgs/s; share of time", profile["msgs_per_s"],
                ", ".join(f"{k} {v:.0%}" for k, v in profile["share"].items())]]))
    path = write_report("speed", result, md)
    print(path.read_text())


if __name__ == "__main__":
    main()
