"""What moderators' relabels change, measured on held-out data.

    python -m eval.feedback [--db data/pulse.db]        # eval/reports/feedback.*

With ``--db`` the relabels are the ones stored there. Without it, moderators are
simulated on the demo community: every demo chat line (chitchat-dataset conversations the
heads were never trained on) that the current abuse head flags is relabelled "no flag" in
a temporary database through the same action a moderator uses (the lines are ordinary chat,
the assumption eval/chat_flags.py makes too). Then the abuse head is trained twice on the
same splits, without and with the relabels (training/feedback.py, exactly what
`pulse retrain` does), and both are measured on what neither saw: the held-out chitchat
test conversations (the share of lines flagged) and the held-out seed messages (abuse
precision and recall per language). The demo lines themselves are not a test set here:
the second head was trained on them.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from eval.common import describe, machine, table, write_report
from service.demo import SOURCES, demo_messages
from service.nlp.heads import load_head
from service.queue import actions
from service.settings import REPO_ROOT
from service.store import NewMessage, Store, format_ts
from training import data, feedback, flags
from training.common import default_embedder, embed_cached, false_alarms, train_head
from training.data import normalise

FLAG = "abuse"
END = datetime(2026, 11, 30, tzinfo=UTC)


def simulate(db: Path, embedder) -> dict:
    """Relabel the demo chat lines the current abuse head flags as 'no flag'."""
    head = load_head(REPO_ROOT / "models" / FLAG)
    chat = [m for m in demo_messages(END) if m["metadata"]["source"] == SOURCES["chat"]]
    texts = list(dict.fromkeys(m["text"] for m in chat))
    x = embed_cached(embedder, texts, desc="demo chat")
    score = head.predict_proba(x, texts)[:, head.labels.index(FLAG)]
    flagged = [t for t, s in zip(texts, score, strict=True) if s >= head.threshold]
    store = Store(db)
    now = format_ts(datetime.now(UTC))
    store.insert_messages([NewMessage(
        community="demo", channel="general", author_id="u", external_id=str(i), text=t,
        ts=now, reply_to=None, thread_id=None, metadata={}, lang="en", sentiment="neutral",
        sentiment_probs={}, intent="chitchat", intent_probs={}, flag_scores={FLAG: 1.0},
        flags=[FLAG], models={}, embedder=embedder.name, embedding=np.zeros(1, np.float32))
        for i, t in enumerate(flagged)])
    labels = actions.Labels(sentiment=("negative", "neutral", "positive"), intent=("chitchat",))
    for mid in store.known_ids("demo", [str(i) for i in range(len(flagged))]).values():
        actions.relabel(store, mid, "simulated-moderator", "flags", [], now, labels)
    return {"demo_chat_lines": len(texts), "relabelled": len(flagged),
            "abuse_head": f"{head.name}@{head.version}"}


def measure(head, report: dict, chat_x, chat_texts) -> dict:
    seeds = {name: {"precision": m["per_class"][FLAG]["precision"],
                    "recall": m["per_class"][FLAG]["recall"], "n": m["n"]}
             for name, m in report["test"].items() if name.startswith("seeds")}
    return {"threshold": head.threshold, "chat_flagged": false_alarms(head, chat_x, chat_texts)
            ["flagged"], "seeds": seeds}


def main() -> None:
    parser = argparse.ArgumentParser(description="effect of moderators' relabels")
    parser.add_argument("--db", type=Path, help="a database with relabels (default: simulate)")
    args = parser.parse_args()
    embedder = default_embedder()
    tmp = tempfile.TemporaryDirectory()
    db, simulated = args.db, None
    if db is None:
        db = Path(tmp.name) / "feedback.db"
        simulated = simulate(db, embedder)
    train, val, tests = flags.splits(FLAG)
    held_out = {normalise(e.text) for rows in tests.values() for e in rows}
    extra, counts = feedback.examples(db, FLAG, held_out, ("clean", FLAG))
    chat_texts = [e.text for e in data.chitchat_lines() if e.split == "test"]
    chat_x = embed_cached(embedder, chat_texts, desc="held-out chat")
    budget = flags.FALSE_ALARM_BUDGET[FLAG]  # the threshold rule of training/flags.py
    budget = {"alarm_budget": None if budget is None else ("chitchat", budget)}
    runs = {}
    for name, rows in (("without relabels", train), ("with relabels", list(train) + extra)):
        head, report = train_head(FLAG, "eval", ("clean", FLAG), rows, val, tests, embedder,
                                  flags.weights(rows), flag=FLAG, **budget)
        runs[name] = measure(head, report, chat_x, chat_texts)
        print(name, runs[name])
    langs = sorted(runs["without relabels"]["seeds"])
    rows = [[name, f"{100 * r['chat_flagged']:.2f} %", r["threshold"]]
            + [f"{r['seeds'][s]['precision']:.3f} / {r['seeds'][s]['recall']:.3f}" for s in langs]
            for name, r in runs.items()]
    source = (f"simulated: {simulated['relabelled']} of {simulated['demo_chat_lines']} demo chat "
              f"lines flagged by {simulated['abuse_head']} relabelled 'no flag'" if simulated
              else f"the relabels stored in {args.db}")
    md = (f"# Moderators' relabels: effect on held-out data\n\nMachine: {describe(machine())}. "
          "Reproduce: `python -m eval.feedback` (or `--db data/pulse.db` for real relabels). "
          f"Relabels: {source}; {counts['used']} used for the abuse head, "
          f"{counts['excluded_held_out']} left out because the text is in a held-out test "
          "set. Method: the module docstring.\n\n"
          + table(["abuse head", f"held-out chat lines flagged (of {len(chat_texts):,})",
                   "threshold"] + [f"{s}: precision / recall" for s in langs], rows))
    print(write_report("feedback", {"machine": machine(), "simulated": simulated,
                                    "counts": counts, "runs": runs}, md).read_text())
    tmp.cleanup()


if __name__ == "__main__":
    main()
