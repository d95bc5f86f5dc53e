"""`pulse` command line. Thin: each command parses arguments, calls the library, prints.

    pulse serve                 start the HTTP service (models load once)
    pulse prepare               check the embedder and heads load (trains heads if missing)
    pulse import FILE           import JSONL/CSV messages (resumable, idempotent)
    pulse classify TEXT...      classify texts without storing them
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

    sub.add_parser("prepare", help="load and check the models; train heads that are missing")

    imp = sub.add_parser("import", help="import messages from a JSONL or CSV file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", choices=["jsonl", "csv"], help="default: from the file suffix")
    imp.add_argument("--community", help="community for records that have none")
    imp.add_argument("--channel", help="channel for records that have none")
    imp.add_argument("--batch-size", type=int, default=256)

    cls = sub.add_parser("classify", help="classify texts (nothing is stored)")
    cls.add_argument("texts", nargs="+")

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

    settings = settings.model_copy(update={k: v for k, v in
                                           {"host": args.host, "port": args.port}.items() if v})
    print(f"Community Pulse on http://{settings.host}:{settings.port} "
          f"(docs at /docs, database {settings.db_path})", file=sys.stderr)
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
    from service.importer import import_file

    if not args.file.is_file():
        raise ValueError(f"no such file: {args.file}")
    pipeline = build_pipeline(settings)
    defaults = {k: v for k, v in {"community": args.community, "channel": args.channel}.items()
                if v}
    with tqdm(desc=f"importing {args.file.name}", unit="msg", file=sys.stderr) as bar:
        report = import_file(pipeline, args.file, args.format, defaults, args.batch_size,
                             settings.max_text_chars, progress=bar.update)
    if report.already_done:
        print(f"{args.file} was already imported completely; nothing to do.")
        return 0
    if report.resumed_from:
        print(f"resumed after record {report.resumed_from}")
    print(f"created {report.created}, already stored {report.duplicates}, "
          f"rejected {report.rejected}")
    for line in report.errors:
        print(f"  {line}", file=sys.stderr)
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


COMMANDS = {"serve": cmd_serve, "prepare": cmd_prepare, "import": cmd_import,
            "classify": cmd_classify}

if __name__ == "__main__":
    sys.exit(main())
