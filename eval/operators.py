"""How the operators' and moderators' views scale: the queue, trends, the weekly report and
the dashboard's queue page on a community of 10k and 100k stored messages.

    python -m eval.operators [--sizes 10000,100000]      # eval/reports/operators.*

Messages are real texts with the default embedder's vectors and the heads' predictions
(the corpus of eval/topics_scale.py), spread over six weeks, 5,000 authors, every third
message a reply in a thread (so questions can be answered), then reclustered. Each size
runs in a fresh process. Timed: the first queue refresh (creates the items), a second one
(rescoring, what every queue read does), trends over 28 days per day and per week, the
weekly report, and GET of the dashboard's queue page and of /v1/queue through the app.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from eval.common import describe, machine, table, write_report
from eval.topics_scale import vectors_file

CHILD = r"""
import json, sys, tempfile, time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
import numpy as np
from fastapi.testclient import TestClient
from service.app import create_app
from service.auth.keys import create_key
from service.models_setup import load_classifier
from service.pipeline import Pipeline
from service.queue.refresh import refresh
from service.reports.weekly import weekly_report
from service.settings import Settings
from service.store import NewMessage, Store, format_ts
from service.topics.recluster import recluster
from service.trends import trends

n = int(sys.argv[3])
vectors = np.ascontiguousarray(np.load(sys.argv[1], mmap_mode="r")[:n])
texts = json.load(open(sys.argv[2], encoding="utf-8"))
classifier = load_classifier(Settings())
folder = Path(tempfile.mkdtemp())
store = Store(folder / "ops.db")
end = datetime(2026, 11, 23, tzinfo=UTC)
start = end - timedelta(days=42)
rng = np.random.default_rng(0)
offsets = np.sort(rng.uniform(0, 42 * 86400, n))
for lo in range(0, n, 5000):
    chunk = [texts[i % len(texts)] for i in range(lo, min(n, lo + 5000))]
    preds = classifier.predict(chunk, vectors[lo : lo + len(chunk)])
    rows = []
    for j, (text, p) in enumerate(zip(chunk, preds)):
        i = lo + j
        thread = f"t{i // 3}"
        rows.append(NewMessage(community="ops", channel=f"c{i % 4}", author_id=f"a{rng.integers(5000)}",
            external_id=str(i), text=text, ts=format_ts(start + timedelta(seconds=float(offsets[i]))),
            reply_to=str(i - 1) if i % 3 else None, thread_id=thread, metadata={}, lang=p.lang,
            sentiment=p.sentiment, sentiment_probs=p.sentiment_probs, intent=p.intent,
            intent_probs=p.intent_probs, flag_scores=p.flag_scores, flags=p.flags,
            models=classifier.versions, embedder=classifier.embedder.name, embedding=vectors[i]))
    store.insert_messages(rows)
recluster(store, "ops", until=end, days=30, log=lambda m: None)

def timed(fn, repeat=1):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        s = time.perf_counter() - t
        best = s if best is None else min(best, s)
    return out, round(best, 3)

first, first_s = timed(lambda: refresh(store, "ops", end))
again, again_s = timed(lambda: refresh(store, "ops", end), repeat=3)
_, trends_day_s = timed(lambda: trends(store, "ops", end - timedelta(days=28), end), repeat=3)
_, trends_week_s = timed(lambda: trends(store, "ops", end - timedelta(days=28), end, bucket="week"), repeat=3)
_, report_s = timed(lambda: weekly_report(store, "ops", date(2026, 11, 16), now=end), repeat=3)
key = create_key(store, "bench", "admin", ["*"])[0]
settings = Settings(db_path=folder / "ops.db", rate_limit_rps=1e6, rate_limit_burst=10**6)
with TestClient(create_app(settings, pipeline=Pipeline(classifier, store)),
                headers={"X-API-Key": key}) as client:
    _, page_s = timed(lambda: client.get("/dashboard/ops/queue?refresh=1").raise_for_status(), repeat=3)
    _, page_cached_s = timed(lambda: client.get("/dashboard/ops/queue").raise_for_status(), repeat=3)
    forced = {"community": "ops", "refresh": "true"}
    _, api_s = timed(lambda: client.get("/v1/queue", params=forced).raise_for_status(), repeat=3)
items = store.queue_items("ops", ["open"], limit=1)[1]
print(json.dumps({"n": n, "items": items, "created": first["created"],
                  "refresh_first_s": first_s, "refresh_s": again_s, "trends_day_s": trends_day_s,
                  "trends_week_s": trends_week_s, "weekly_report_s": report_s,
                  "dashboard_queue_page_s": page_s, "dashboard_page_cached_s": page_cached_s,
                  "api_queue_s": api_s}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description="operators' views at scale")
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    path, text_path, real = vectors_file(max(sizes))
    runs = []
    for n in sizes:
        out = subprocess.run([sys.executable, "-c", CHILD, path, text_path, str(n)],
                             capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-3000:])
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(runs[-1])
    md = (f"# Queue, trends and reports at scale\n\nMachine: {describe(machine())}. Reproduce: "
          "`python -m eval.operators`. Best of 3 runs per view (the first refresh once); "
          "see the module docstring for the data. A queue read (API or dashboard) rescores "
          "the queue first when its last scoring is older than PULSE_QUEUE_REFRESH_S (30 s): "
          "the page is timed both ways (forced rescoring, and within the 30 s).\n\n"
          + table(["messages", "open items", "first refresh s", "refresh s", "trends 28 d s",
                   "trends weekly s", "weekly report s", "queue page (rescoring) s",
                   "queue page (scored < 30 s ago) s", "GET /v1/queue (rescoring) s"],
                  [[r["n"], r["items"], r["refresh_first_s"], r["refresh_s"], r["trends_day_s"],
                    r["trends_week_s"], r["weekly_report_s"], r["dashboard_queue_page_s"],
                    r["dashboard_page_cached_s"], r["api_queue_s"]] for r in runs]))
    path_md = write_report("operators", {"machine": machine(), "runs": runs}, md)
    print(path_md.read_text())


if __name__ == "__main__":
    main()
