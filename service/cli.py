"""`pulse` command line. Thin: each command parses arguments, calls the library, prints.

    pulse serve                 start the HTTP service (models load once)
    pulse prepare               check the embedder and heads load (trains heads if missing)
    pulse import FILE           import JSONL/CSV or a chat/forum export (resumable, idempotent)
    pulse classify TEXT...      classify texts without storing them
    pulse recluster --community C    cluster recent messages into topics (stable ids)
    pulse topics --community C       list topics with keywords and quotes
    pulse queue --community C        the moderators' queue, ranked, with the top factors
    pulse report --community C       the weekly report (Markdown, HTML or JSON)
    pulse keys create|list|revoke    API keys with a role and community scope
    pulse retrain               rebuild the heads with moderators' relabels folded in
    pulse alerts add|list|disable|run|deliveries   alert subscriptions and webhooks
    pulse redaction --community C    show or set the PII kinds redacted before storage
    pulse intents train|show|activate --community C   a community's own intent labels
    pulse demo                  load the demo community (real messages over six weeks)
    pulse backup --out FILE          consistent online backup (whole database or --community)
    pulse restore FILE               restore a backup (whole database, or merge --community)
    pulse export --community C       messages, predictions, topics, actions to JSONL/CSV
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from service.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pulse", description="Community Pulse")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the HTTP service")
    serve.add_argument("--host", help="bind address (default: PULSE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: PULSE_PORT or 8000)")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes, each with its own models (default 1)")

    sub.add_parser("prepare", help="load and check the models; train heads that are missing")

    imp = sub.add_parser("import", help="import messages: JSONL, CSV, Discord, Telegram, Slack, "
                         "Discourse")
    imp.add_argument("file", type=Path)
    imp.add_argument("--format",
                     choices=["jsonl", "csv", "discord", "telegram", "slack", "discourse"],
                     help="default: from the suffix (.json/.zip exports are recognised by content)")
    imp.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                     help="read a CSV/JSONL column as a message field, e.g. --map text=body "
                     "(repeatable; unmapped columns go to metadata)")
    imp.add_argument("--community", help="community for records that have none (replaces an "
                     "export's own; required for Discourse)")
    imp.add_argument("--channel", help="channel for records that have none")
    imp.add_argument("--batch-size", type=int, default=256)
    imp.add_argument("--no-recluster", dest="recluster", action="store_false",
                     help="skip clustering the communities that got new messages")
    imp.add_argument("--days", type=int, default=30,
                     help="window of that recluster, ending now (default 30)")

    cls = sub.add_parser("classify", help="classify texts (nothing is stored)")
    cls.add_argument("texts", nargs="+")

    rec = sub.add_parser("recluster", help="recluster a community's messages into topics")
    rec.add_argument("--community", required=True)
    rec.add_argument("--days", type=int, default=30, help="window length (default 30)")
    rec.add_argument("--until", help="window end, ISO-8601 (default: now)")

    top = sub.add_parser("topics", help="list a community's topics")
    top.add_argument("--community", required=True)

    demo = sub.add_parser("demo", help="load the demo community (real messages, six weeks)")
    demo.add_argument("--end", help="end of the six weeks, ISO-8601 (default: now)")
    demo.add_argument("--force", action="store_true",
                      help="load even if the community has messages (stored ones are skipped)")

    bak = sub.add_parser("backup", help="consistent online backup of the database or of one "
                         "community (the service may keep running)")
    bak.add_argument("--out", type=Path, required=True, help="backup file to write (replaced "
                     "atomically when complete)")
    bak.add_argument("--community", help="only this community's rows, in a database of its own")

    res = sub.add_parser("restore", help="restore a backup: the whole database, or merge one "
                         "community into the current database")
    res.add_argument("file", type=Path)
    res.add_argument("--community", help="merge only this community's rows (default: the whole "
                     "file becomes the database; stop the service first)")
    res.add_argument("--force", action="store_true",
                     help="whole restore: replace a database that already holds data")
    res.add_argument("--replace", action="store_true",
                     help="--community: replace the community's present rows")

    exp = sub.add_parser("export", help="export a community's messages, predictions, topics, "
                         "queue, moderator actions and feedback")
    exp.add_argument("--community", required=True)
    exp.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    exp.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    exp.add_argument("--embeddings", action="store_true",
                     help="include each message's embedding (a float list)")

    que = sub.add_parser("queue", help="show a community's queue, highest priority first")
    que.add_argument("--community", required=True)
    que.add_argument("--limit", type=int, default=20)

    rep = sub.add_parser("report", help="write a community's weekly report")
    rep.add_argument("--community", required=True)
    rep.add_argument("--week", help="ISO week like 2026-W47 (default: the last full week)")
    rep.add_argument("--format", choices=["md", "html", "json"], default="md")
    rep.add_argument("--out", type=Path, help="file to write (default: standard output)")

    keys = sub.add_parser("keys", help="API keys: create, list, revoke")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    kc = keys_sub.add_parser("create", help="create a key (printed once)")
    kc.add_argument("--name", required=True, help="who uses it (recorded on their actions)")
    kc.add_argument("--role", required=True,
                    choices=["bot", "ingest", "moderator", "operator", "admin"])
    kc.add_argument("--community", action="append", default=[],
                    help="a community the key may see (repeatable), or '*' for all")
    keys_sub.add_parser("list", help="list active keys (never the secrets)")
    kr = keys_sub.add_parser("revoke", help="revoke a key by id (its sessions end too)")
    kr.add_argument("key_id", type=int)

    alerts = sub.add_parser("alerts", help="alert subscriptions: add, list, disable, run, "
                            "deliveries")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    aa = alerts_sub.add_parser("add", help="subscribe a webhook, Slack or Discord target "
                               "(the signing secret is printed once)")
    aa.add_argument("--community", required=True)
    aa.add_argument("--event", action="append", required=True, dest="events",
                    choices=["queue_item", "topic_spiking", "sentiment_drop", "weekly_report"],
                    help="repeatable")
    aa.add_argument("--url", required=True)
    aa.add_argument("--target", choices=["webhook", "slack", "discord"], default="webhook")
    aa.add_argument("--name", default="", help="your label for it")
    aa.add_argument("--min-priority", type=float,
                    help="queue_item: alert items at or above this priority (default 70)")
    aa.add_argument("--sentiment-below", type=float,
                    help="sentiment_drop: alert below this 7-day index (default -0.2)")
    aa.add_argument("--secret", help="HMAC secret (default: generated)")
    al = alerts_sub.add_parser("list", help="list subscriptions (urls redacted, no secrets)")
    al.add_argument("--community")
    al.add_argument("--all", action="store_true", help="include disabled ones")
    ad = alerts_sub.add_parser("disable", help="disable a subscription (nothing is deleted)")
    ad.add_argument("subscription_id", type=int)
    ar = alerts_sub.add_parser("run", help="evaluate the subscriptions and deliver what is due, "
                               "once (retries wait for the next run or the service)")
    ar.add_argument("--community", help="default: every community with subscriptions")
    dl = alerts_sub.add_parser("deliveries", help="the delivery log, newest first")
    dl.add_argument("--community", required=True)
    dl.add_argument("--limit", type=int, default=20)

    red = sub.add_parser("redaction", help="show or set which PII kinds a community's new "
                         "messages lose before storage and embedding")
    red.add_argument("--community", required=True)
    red_set = red.add_mutually_exclusive_group()
    red_set.add_argument("--set", dest="kinds", metavar="KIND,...",
                         help="comma-separated: email, phone, url, wechat, qq, id_number, card "
                         "(or all)")
    red_set.add_argument("--off", action="store_true", help="turn redaction off")

    intents = sub.add_parser("intents", help="a community's own intent labels: train from "
                             "examples, show, activate a version")
    intents_sub = intents.add_subparsers(dest="intents_command", required=True)
    it = intents_sub.add_parser("train", help="train a new version from a file of examples "
                                "(8+ per label) and make it active")
    it.add_argument("--community", required=True)
    it.add_argument("--file", required=True, type=Path,
                    help=".jsonl ({\"label\": ..., \"text\": ...} per line) or .csv (label,text)")
    ish = intents_sub.add_parser("show", help="the active version: labels, CV metrics, history")
    ish.add_argument("--community", required=True)
    ish.add_argument("--version", type=int, help="another version than the active one")
    ia = intents_sub.add_parser("activate", help="make another version active (roll back)")
    ia.add_argument("--community", required=True)
    ia.add_argument("--version", required=True, type=int)

    sub.add_parser("retrain", help="rebuild every head with the moderators' relabels folded in")

    args = parser.parse_args(argv)
    settings = Settings()
    try:
        return COMMANDS[args.command](args, settings)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    from service.app import create_app
    from service.observability import configure_logging

    configure_logging()
    settings = settings.model_copy(update={k: v for k, v in
                                           {"host": args.host, "port": args.port}.items() if v})
    print(f"Community Pulse on http://{settings.host}:{settings.port} "
          f"(docs at /docs, database {settings.db_path})", file=sys.stderr)
    if args.workers > 1:  # each worker process builds the app from PULSE_* settings
        uvicorn.run("service.app:create_app", factory=True, workers=args.workers,
                    host=settings.host, port=settings.port, log_level="info", access_log=False)
    else:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                    log_level="info", access_log=False)
    return 0


def cmd_prepare(args, settings: Settings) -> int:
    from service.models_setup import prepare

    print(json.dumps(prepare(settings), indent=2))
    return 0


def cmd_import(args, settings: Settings) -> int:
    from tqdm import tqdm

    from service.app import build_pipeline
    from service.importer import check_file, import_file, parse_mapping

    if not args.file.is_file():
        raise ValueError(f"no such file: {args.file}")
    mapping = dict(parse_mapping(item) for item in args.map)
    defaults = {k: v for k, v in {"community": args.community, "channel": args.channel}.items()
                if v}
    fmt = check_file(args.file, args.format, defaults)  # before the models load
    pipeline = build_pipeline(settings)
    with tqdm(desc=f"importing {args.file.name}", unit="msg", file=sys.stderr) as bar:
        report = import_file(pipeline, args.file, fmt, defaults, args.batch_size,
                             settings.max_text_chars, progress=bar.update,
                             mapping=mapping or None)
    if report.already_done:
        print(f"{args.file} was already imported completely; nothing to do.")
        return 0
    if report.resumed_from:
        print(f"resumed after record {report.resumed_from}")
    reasons = ", ".join(f"{reason}: {n}" for reason, n in report.skip_reasons.items())
    print(f"created {report.created}, already stored {report.duplicates}, "
          f"rejected {report.rejected}, skipped {report.skipped}"
          + (f" ({reasons})" if reasons else ""))
    for line in report.errors:
        print(f"  {line}", file=sys.stderr)
    if args.recluster and report.communities:
        from datetime import UTC, datetime

        from service.topics.recluster import recluster

        for community in sorted(report.communities):  # so topics and the queue show at once
            summary = recluster(pipeline.store, community, datetime.now(UTC), args.days,
                                log=lambda m: None)
            print(f"{community}: {summary.n_topics} topics from {summary.n_messages} messages "
                  f"of the last {args.days} days")
    return 0


def cmd_classify(args, settings: Settings) -> int:
    from service.models_setup import load_classifier
    from service.schemas import check_text

    texts = [check_text(t, settings.max_text_chars) for t in args.texts]
    classifier = load_classifier(settings)
    for text, p in zip(texts, classifier.classify(texts), strict=True):
        print(json.dumps({"text": text, "lang": p.lang, "sentiment": p.sentiment,
                          "intent": p.intent, "flags": p.flags, "flag_scores": p.flag_scores,
                          "sentiment_probs": p.sentiment_probs}, ensure_ascii=False))
    return 0


def cmd_recluster(args, settings: Settings) -> int:
    from datetime import UTC, datetime

    from service.store import Store
    from service.topics.recluster import recluster

    until = datetime.fromisoformat(args.until) if args.until else datetime.now(UTC)
    until = until if until.tzinfo else until.replace(tzinfo=UTC)
    summary = recluster(Store(settings.db_path), args.community, until, args.days)
    print(f"run {summary.run_id}: {summary.n_topics} topics from {summary.n_messages} messages, "
          f"{summary.unassigned} unassigned; lineage {summary.events}")
    return 0


def cmd_topics(args, settings: Settings) -> int:
    from service.store import Store
    from service.topics.views import reference_day, topic_view

    store = Store(settings.db_path)
    today = reference_day(store, args.community)
    for row in store.topics(args.community):
        view = topic_view(store, row, today)
        flag = " [emerging]" if view["trend"]["emerging"] else ""
        print(f"#{row['id']} {row['label']} — {row['size']} messages, {row['members']} members"
              f"{flag}\n    {', '.join(row['keywords'])}")
        for quote in view["quotes"][:2]:
            print(f"    > {quote['text'][:100]}")
    return 0


def cmd_demo(args, settings: Settings) -> int:
    from datetime import UTC, datetime

    from tqdm import tqdm

    from service.app import build_pipeline
    from service.demo import load_demo

    end = datetime.fromisoformat(args.end) if args.end else None
    end = end.replace(tzinfo=UTC) if end and not end.tzinfo else end
    pipeline = build_pipeline(settings)
    try:
        with tqdm(desc="loading the demo community", unit="msg", file=sys.stderr) as bar:
            summary = load_demo(pipeline, end, progress=bar.update, force=args.force)
    finally:
        pipeline.close()
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def cmd_queue(args, settings: Settings) -> int:
    from datetime import UTC, datetime

    from service.queue.refresh import refresh
    from service.store import Store

    store = Store(settings.db_path)
    refresh(store, args.community, datetime.now(UTC))
    items, total = store.queue_items(args.community, ["open", "acknowledged"], limit=args.limit)
    print(f"{total} open items in {args.community}")
    for item in items:
        why = ", ".join(f"{f['factor']} {f['contribution']:.0f}" for f in item["factors"][:3])
        print(f"#{item['id']} [{item['priority']:5.1f}] {item['kind']:<10} {item['status']:<12} "
              f"{item['title'][:70]}\n    {why}")
    return 0


def cmd_report(args, settings: Settings) -> int:
    from service.reports.render import to_html, to_markdown
    from service.reports.weekly import parse_week, weekly_report
    from service.store import Store

    report = weekly_report(Store(settings.db_path), args.community,
                           parse_week(args.week) if args.week else None)
    text = {"md": to_markdown, "html": to_html,
            "json": lambda r: json.dumps(r, indent=2, ensure_ascii=False)}[args.format](report)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({report['community']}, {report['week']})", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_keys(args, settings: Settings) -> int:
    from datetime import UTC, datetime

    from service.auth.keys import AuthError, create_key
    from service.store import Store, format_ts

    store = Store(settings.db_path)
    if args.keys_command == "create":
        try:
            key, row = create_key(store, args.name, args.role, args.community)
        except AuthError as exc:
            raise ValueError(str(exc)) from None
        print(f"key #{row['id']} for {row['name']} ({row['role']}, communities "
              f"{', '.join(row['communities'])}); shown once, store it now:", file=sys.stderr)
        print(key)
    elif args.keys_command == "list":
        for row in store.keys():
            print(f"#{row['id']} pk_{row['prefix']}_… {row['name']} {row['role']} "
                  f"[{', '.join(row['communities'])}] since {row['created_at'][:16]}")
    elif not store.revoke_key(args.key_id, format_ts(datetime.now(UTC))):
        raise ValueError(f"no active key #{args.key_id}")
    else:
        print(f"revoked key #{args.key_id}")
    return 0


def cmd_alerts(args, settings: Settings) -> int:
    from datetime import UTC, datetime

    from service.alerts.subscriptions import public, subscribe
    from service.alerts.worker import run_once
    from service.store import Store, format_ts

    store = Store(settings.db_path)
    if args.alerts_command == "add":
        sub, secret = subscribe(store, args.community, args.events, args.url, args.target,
                                args.name, args.secret, args.min_priority, args.sentiment_below)
        print(f"subscription #{sub['id']} ({', '.join(sub['events'])} → {sub['target']}); "
              "signing secret, shown once:", file=sys.stderr)
        print(secret)
    elif args.alerts_command == "list":
        for s in store.subscriptions(args.community, active_only=not args.all):
            s = public(s)
            state = "" if s["active"] else f" [disabled {s['disabled_at'][:16]}]"
            print(f"#{s['id']} {s['community']} {','.join(s['events'])} → {s['target']} "
                  f"{s['url']} {s['name']}{state}".rstrip())
    elif args.alerts_command == "disable":
        if store.subscription(args.subscription_id) is None:
            raise ValueError(f"no subscription #{args.subscription_id}")
        store.disable_subscription(args.subscription_id, format_ts(datetime.now(UTC)))
        print(f"disabled subscription #{args.subscription_id}")
    elif args.alerts_command == "run":
        counts = run_once(store, settings, community=args.community)
        print(", ".join(f"{k} {v}" for k, v in counts.items()))
    else:
        for d in store.deliveries(args.community, limit=args.limit):
            why = f" {d['error']}" if d["error"] and d["status"] != "delivered" else ""
            print(f"#{d['id']} {d['created_at'][:16]} {d['event_id']} → #{d['subscription_id']} "
                  f"{d['status']} after {d['attempts']} attempt(s){why}")
    return 0


def cmd_redaction(args, settings: Settings) -> int:
    from datetime import UTC, datetime

    from service.nlp.redact import PLACEHOLDERS, parse_kinds
    from service.store import Store, format_ts

    store = Store(settings.db_path)
    if args.off or args.kinds is not None:
        kinds = None if args.off else parse_kinds(args.kinds)
        if kinds is None and not args.off:
            raise ValueError("--set needs at least one kind (use --off to turn redaction off)")
        store.set_redaction_kinds(args.community, kinds, format_ts(datetime.now(UTC)))
    kinds = store.redaction_kinds(args.community)
    if not kinds:
        print(f"{args.community}: redaction off")
    else:
        print(f"{args.community}: " + ", ".join(f"{k} → {PLACEHOLDERS[k]}" for k in kinds))
    return 0


def _progress(desc: str, unit: str):
    """(update, set_total) for a tqdm bar on standard error; the library reports both."""
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit=unit, file=sys.stderr)

    def set_total(n: int) -> None:
        bar.total = n
        bar.refresh()

    return bar, bar.update, set_total


def _existing_db(settings: Settings) -> Path:
    if not Path(settings.db_path).is_file():
        raise ValueError(f"no database at {settings.db_path} (PULSE_DB_PATH)")
    return Path(settings.db_path)


def cmd_backup(args, settings: Settings) -> int:
    from service.backup import backup
    from service.store import Store

    store = Store(_existing_db(settings))
    bar, update, set_total = _progress("backing up", "row" if args.community else "page")
    with bar:
        info = backup(store, args.out, args.community, progress=update, total=set_total)
    what = f"community {args.community}" if args.community else "whole database"
    print(f"wrote {info['file']} ({what}: {info['counts'].get('messages', 0)} messages, "
          f"{sum(info['counts'].values())} rows, {info['bytes'] / 1e6:.1f} MB)")
    return 0


def cmd_restore(args, settings: Settings) -> int:
    from service.backup import restore

    bar, update, set_total = _progress("restoring", "row" if args.community else "page")
    with bar:
        result = restore(settings.db_path, args.file, args.community, force=args.force,
                         replace=args.replace, progress=update, total=set_total)
    what = f"community {args.community}" if args.community else "the whole database"
    print(f"restored {what} from {args.file} into {settings.db_path}: "
          f"{result['counts'].get('messages', 0)} messages, {sum(result['counts'].values())} rows")
    return 0


def cmd_export(args, settings: Settings) -> int:
    from service.backup import export
    from service.store import Store

    store = Store(_existing_db(settings))
    bar, update, set_total = _progress(f"exporting {args.community}", "row")
    with bar:
        manifest = export(store, args.community, args.out, args.format, args.embeddings,
                          progress=update, total=set_total)
    files = ", ".join(f"{manifest['files'][k]} ({n})" for k, n in manifest["counts"].items())
    print(f"wrote {args.out}: {files}, manifest.json")
    return 0


def cmd_intents(args, settings: Settings) -> int:
    from service.nlp import custom
    from service.nlp.embedder import load_embedder
    from service.store import Store, utc_now

    store = Store(settings.db_path)
    if args.intents_command == "train":
        examples = custom.read_examples(args.file)
        custom.clean_examples(examples, settings.max_text_chars)  # before the model loads
    # the embedder names the vector space a version must match (and embeds the examples)
    embedder = load_embedder(settings.embedder, settings.embed_threads, settings.embed_batch)
    name = embedder.name
    if args.intents_command == "train":
        made = custom.retrain(store, embedder.embed, name, args.community, examples, "cli",
                              utc_now(), max_chars=settings.max_text_chars)
        print(f"trained version {made['version']} for {args.community}; it is active")
        found = custom.describe(store, args.community, name)
    else:
        if args.intents_command == "activate":
            custom.activate(store, args.community, args.version, name)
            print(f"version {args.version} is active for {args.community}")
        found = custom.describe(store, args.community, name, args.version)
        if found is None:
            raise ValueError(f"community {args.community!r} has no custom intents"
                             + (f" version {args.version}" if args.version else ""))
    print(custom.summary_text(found))
    return 0


def cmd_retrain(args, settings: Settings) -> int:
    import os

    from training import train_all

    if not settings.db_path.exists():
        raise ValueError(f"no database at {settings.db_path}")
    os.environ["PULSE_FEEDBACK_DB"] = str(settings.db_path)
    train_all.main()
    print("heads rebuilt in models/ (see each metrics.json 'feedback'); restart the service "
          "to load them", file=sys.stderr)
    return 0


COMMANDS = {"serve": cmd_serve, "prepare": cmd_prepare, "import": cmd_import,
            "classify": cmd_classify, "recluster": cmd_recluster, "topics": cmd_topics,
            "demo": cmd_demo, "queue": cmd_queue, "report": cmd_report,
            "backup": cmd_backup, "restore": cmd_restore, "export": cmd_export,
            "keys": cmd_keys, "alerts": cmd_alerts, "redaction": cmd_redaction,
            "intents": cmd_intents, "retrain": cmd_retrain}

if __name__ == "__main__":
    sys.exit(main())
