"""Backup, restore and export: whole database and one community, online and offline."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from service import backup as bk
from service.cli import main
from service.queue import actions
from service.queue.refresh import refresh
from service.sql.backup import GLOBAL_TABLES, INFO_TABLE, REFS, VIA_PARENT, BackupError, community_tables
from service.store import MIGRATIONS, Checkpoint, Store
from tests.fakes import labelled

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
T = "2026-11-20T12:05:00.000000Z"
LABELS = actions.Labels(sentiment=("negative", "neutral", "positive"),
                        intent=("question", "bug_report", "abuse", "chitchat"))


def populate(store: Store, community: str = "acme", n: int = 12) -> None:
    """A community with rows in every table: messages, two recluster runs with lineage,
    queue items with actions (one undone, one relabel = feedback), settings and alerts."""
    rows = [labelled(f"{community}-abuse", "2026-11-19T09:00:00.000000Z", community=community,
                     intent="abuse", flags=("abuse",), sentiment="negative", negative=0.9),
            labelled(f"{community}-q", "2026-11-18T12:00:00.000000Z", community=community,
                     intent="question", author="u2")]
    rows += [labelled(f"{community}-bug{i}", f"2026-11-{14 + i % 6:02d}T10:00:00.000000Z",
                      community=community, intent="bug_report", author=f"m{i}",
                      text=f"登录 crash {i}") for i in range(n)]
    ids = [mid for mid, _ in store.insert_messages(rows)]
    topic = {"id": None, "label": f"{community} login crash", "keywords": ["login", "crash"],
             "representatives": ids[2:5], "centroid": np.ones(4), "threshold": 0.5, "size": n}
    stats = {"n_messages": n, "n_topics": 1, "unassigned": 0}
    run = store.start_run(community, "2026-10-01T00:00:00.000000Z", "2026-11-21T00:00:00.000000Z", {})
    topic_id = store.apply_recluster(run, community, [topic], [], [
        {"cluster": 0, "event": "new", "related": [], "size_before": 0, "size_after": n}],
        dict.fromkeys(ids[2:], 0), stats)[0]
    run = store.start_run(community, "2026-10-02T00:00:00.000000Z", "2026-11-21T00:00:00.000000Z", {})
    store.apply_recluster(run, community, [topic | {"id": topic_id}], [], [
        {"topic_id": topic_id, "event": "continued", "related": [topic_id], "size_before": n,
         "size_after": n}], dict.fromkeys(ids[2:], 0), stats)
    store.set_queue_settings(community, {"window_days": 60}, T)
    refresh(store, community, NOW)
    items = {i["kind"]: i["id"] for i in store.queue_items(community, ["open"])[0]}
    actions.act(store, items["flagged"], "ann", "acknowledge", T)
    done = actions.act(store, items["flagged"], "ann", "relabel", T, field="intent",
                       value="chitchat", labels=LABELS)
    actions.undo(store, done["id"], "bob", T)
    actions.act(store, items["flagged"], "ann", "confirm_flag", T, field="flags", value=["abuse"],
                labels=LABELS)
    actions.relabel(store, ids[3], "ann", "sentiment", "negative", T, LABELS)
    sub = store.create_subscription(community=community, name="ops", events=["queue_item"],
                                    target="webhook", url="http://127.0.0.1:9/hook", secret="s",
                                    min_priority=None, sentiment_below=None, now=T)
    store.queue_deliveries([{"subscription_id": sub["id"], "community": community,
                             "event": "queue_item", "event_id": f"queue_item:{items['flagged']}",
                             "body": "{}"}], T)


def logical(path, community: str) -> dict:
    """A community's data with every id replaced by what it points at (comparable across
    databases whose ids differ)."""
    conn = sqlite3.connect(path)
    msg = dict(conn.execute("SELECT id, external_id FROM messages WHERE community = ?", [community]))
    top = dict(conn.execute("SELECT id, label FROM topics WHERE community = ?", [community]))
    runs = dict(conn.execute("SELECT id, window_start FROM topic_runs WHERE community = ?",
                             [community]))
    items = {r[0]: (r[1], msg.get(r[2]) if r[1] != "recurring" else top.get(r[2]))
             for r in conn.execute("SELECT id, kind, ref_id FROM queue_items WHERE community = ?",
                                   [community])}
    acts = {r[0]: (rank, r[1]) for rank, r in enumerate(conn.execute(
        "SELECT id, action FROM queue_actions WHERE community = ? ORDER BY id", [community]))}
    return {
        "messages": sorted(conn.execute(
            "SELECT m.external_id, m.text, m.intent, m.flags, m.embedding, t.label FROM messages m"
            " LEFT JOIN topics t ON t.id = m.topic_id WHERE m.community = ?", [community])),
        "topics": sorted((r[0], r[1], runs[r[2]], runs[r[3]], tuple(msg[i] for i in json.loads(r[4])))
                         for r in conn.execute("SELECT label, status, created_run, updated_run,"
                                               " representatives FROM topics WHERE community = ?",
                                               [community])),
        "events": sorted((runs[r[0]], top[r[1]], r[2], tuple(top[i] for i in json.loads(r[3])))
                         for r in conn.execute(
                             "SELECT run_id, topic_id, event, related FROM topic_events WHERE"
                             " run_id IN (SELECT id FROM topic_runs WHERE community = ?)", [community])),
        "items": sorted((*items[r[0]], r[1], r[2]) for r in conn.execute(
            "SELECT id, status, priority FROM queue_items WHERE community = ?", [community])),
        "actions": [(acts[r[0]], items.get(r[1]), msg.get(r[2]), r[3], acts.get(r[4]), acts.get(r[5]))
                    for r in conn.execute(
                        "SELECT id, item_id, message_id, changes, undoes, undone_by"
                        " FROM queue_actions WHERE community = ? ORDER BY id", [community])],
        "feedback": sorted((msg[r[0]], r[1], r[2], r[3], acts[r[4]]) for r in conn.execute(
            "SELECT message_id, field, value, active, action_id FROM feedback WHERE community = ?",
            [community])),
        "settings": conn.execute("SELECT queue FROM community_settings WHERE community = ?",
                                 [community]).fetchall(),
        "alerts": sorted(conn.execute(
            "SELECT s.name, s.url, d.event_id, d.status FROM alert_deliveries d JOIN"
            " alert_subscriptions s ON s.id = d.subscription_id WHERE d.community = ?", [community])),
    }


def dump(path) -> dict:
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


@pytest.fixture
def live(tmp_path) -> Store:
    store = Store(tmp_path / "live.db")
    populate(store, "acme")
    populate(store, "beta", n=5)
    store.start_import("f.jsonl", "fingerprint")
    return store


def test_every_table_has_a_rule_and_every_reference_is_known(tmp_path):
    conn = Store(tmp_path / "x.db")._db().conn
    tables = community_tables(conn)
    assert set(tables) | set(GLOBAL_TABLES) == {
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in tables:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        assert "community" in columns or table in VIA_PARENT
        assert set(REFS.get(table, {})) <= set(columns), table
    conn.execute("CREATE TABLE mystery (id INTEGER PRIMARY KEY, note TEXT)")
    with pytest.raises(BackupError, match="mystery has no community column"):
        community_tables(conn)


def test_whole_backup_restores_every_row(live, tmp_path):
    out = tmp_path / "b" / "all.db"
    info = bk.backup(live, out)
    assert info["kind"] == "database" and info["counts"]["messages"] == 14 + 7
    assert oct(out.stat().st_mode & 0o777) == "0o600" and not (tmp_path / "b" / "all.db.part").exists()
    assert sqlite3.connect(out).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert bk.inspect(out)["communities"] == ["acme", "beta"]
    restored = bk.restore(tmp_path / "new.db", out)
    assert restored["counts"]["messages"] == 21
    assert dump(tmp_path / "new.db") == dump(live.path)  # every table, every row, same ids
    reopened = Store(tmp_path / "new.db")
    assert reopened.count_messages("acme") == 14 and reopened.get_import("fingerprint")
    conn = sqlite3.connect(tmp_path / "new.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_whole_restore_refuses_a_database_with_data_unless_forced(live, tmp_path):
    out = tmp_path / "all.db"
    bk.backup(live, out)
    other = Store(tmp_path / "other.db")
    populate(other, "gamma", n=3)
    with pytest.raises(bk.RestoreRefused, match="already holds data.*--force"):
        bk.restore(tmp_path / "other.db", out)
    assert other.count_messages() == 5  # untouched
    bk.restore(tmp_path / "other.db", out, force=True)
    assert dump(tmp_path / "other.db") == dump(live.path)
    assert Store(tmp_path / "other.db").count_messages("gamma") == 0


def test_community_backup_holds_that_community_only(live, tmp_path):
    out = tmp_path / "acme.db"
    info = bk.backup(live, out, community="acme")
    assert info["kind"] == "community" and info["counts"]["messages"] == 14
    conn = sqlite3.connect(out)
    for table in ("messages", "topics", "topic_runs", "queue_items", "queue_actions", "feedback",
                  "community_settings", "alert_subscriptions", "alert_deliveries"):
        assert {r[0] for r in conn.execute(f"SELECT DISTINCT community FROM {table}")} == {"acme"}, table
    for table in GLOBAL_TABLES:
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    assert conn.execute("SELECT count(*) FROM topic_events").fetchone()[0] == 2
    assert json.loads(dict(conn.execute(f"SELECT key, value FROM {INFO_TABLE}"))["community"]) == "acme"
    assert logical(out, "acme") == logical(live.path, "acme")
    with pytest.raises(BackupError, match="no data"):
        bk.backup(live, tmp_path / "nobody.db", community="nobody")


def test_community_restore_into_another_database_moves_taken_ids(live, tmp_path):
    out = tmp_path / "acme.db"
    bk.backup(live, out, community="acme")
    target = Store(tmp_path / "target.db")
    populate(target, "zeta", n=20)  # takes the ids acme had
    before = logical(target.path, "zeta")
    result = bk.restore(target.path, out, community="acme")
    assert result["counts"]["messages"] == 14
    assert logical(target.path, "acme") == logical(live.path, "acme")  # every reference followed
    assert logical(target.path, "zeta") == before
    conn = sqlite3.connect(target.path)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("SELECT min(id) FROM messages WHERE community = 'acme'").fetchone()[0] > 22


def test_community_restore_refuses_existing_data_and_replace_is_idempotent(live, tmp_path):
    out = tmp_path / "acme.db"
    bk.backup(live, out, community="acme")
    original = logical(live.path, "acme")
    beta = dump(live.path)["messages"]
    live.insert_messages([labelled("late", "2026-11-20T00:00:00.000000Z")])
    with pytest.raises(bk.RestoreRefused, match="already has data.*--replace"):
        bk.restore(live.path, out, community="acme")
    first = bk.restore(live.path, out, community="acme", replace=True)
    assert first["replaced"] and logical(live.path, "acme") == original
    snapshot = dump(live.path)
    bk.restore(live.path, out, community="acme", replace=True)
    assert dump(live.path) == snapshot  # the same rows, the same ids
    assert [r for r in snapshot["messages"] if r[1] == "beta"] == [r for r in beta if r[1] == "beta"]


def test_community_restore_into_the_database_it_came_from_keeps_ids(live, tmp_path):
    out = tmp_path / "beta.db"
    bk.backup(live, out, community="beta")
    before = dump(live.path)
    bk.restore(live.path, out, community="beta", replace=True)
    assert dump(live.path) == before


def test_restore_checks_the_file_first(live, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackupError, match="junk.db"):
        bk.restore(tmp_path / "t.db", junk)
    with pytest.raises(BackupError, match="no such file"):
        bk.restore(tmp_path / "t.db", tmp_path / "missing.db")
    out = tmp_path / "acme.db"
    bk.backup(live, out, community="acme")
    with pytest.raises(BackupError, match="no data for community 'beta'.*acme"):
        bk.restore(tmp_path / "t.db", out, community="beta")
    newer = tmp_path / "newer.db"
    bk.backup(live, newer)
    sqlite3.connect(newer).execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(BackupError, match="newer version"):
        bk.restore(tmp_path / "t.db", newer)
    plain = sqlite3.connect(tmp_path / "plain.db")
    plain.execute("CREATE TABLE x (a)")
    plain.commit()
    with pytest.raises(BackupError, match="not a Community Pulse database"):
        bk.inspect(tmp_path / "plain.db")


def test_a_failed_backup_leaves_no_file_under_the_final_name(live, tmp_path, monkeypatch):
    out = tmp_path / "all.db"
    monkeypatch.setattr(bk, "finish_backup_file", lambda path, info: "row 3 missing from index")
    with pytest.raises(BackupError, match="integrity check"):
        bk.backup(live, out)
    assert not out.exists()


def test_online_backup_is_one_snapshot_while_another_connection_writes(tmp_path):
    store = Store(tmp_path / "busy.db")
    state = store.start_import("stream", "fp")
    stop = threading.Event()

    def writer():  # its own Store, its own connection: like the service beside `pulse backup`
        other, position = Store(tmp_path / "busy.db"), 0
        while not stop.is_set():
            rows = [labelled(f"w{position + i}", "2026-11-01T00:00:00.000000Z") for i in range(50)]
            position += 50
            other.insert_messages(rows, Checkpoint(state["id"], position=position, rejected=0))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.3)
        for k in range(3):
            out = tmp_path / f"b{k}.db"
            started = time.monotonic()
            bk.backup(store, out)
            assert time.monotonic() - started < 20
            conn = sqlite3.connect(out)
            messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
            # the checkpoint commits with its batch: equal only if both come from one snapshot
            assert conn.execute("SELECT created FROM imports").fetchone()[0] == messages > 0
    finally:
        stop.set()
        thread.join()


def test_export_jsonl_and_csv(live, tmp_path):
    manifest = bk.export(live, "acme", tmp_path / "x")
    assert manifest["counts"]["messages"] == 14 and manifest["counts"]["moderator_actions"] == 5
    lines = [json.loads(x) for x in (tmp_path / "x" / "messages.jsonl").read_text().splitlines()]
    assert {m["community"] for m in lines} == {"acme"} and "embedding" not in lines[0]
    assert lines[0]["flags"] == ["abuse"] and isinstance(lines[0]["sentiment_probs"], dict)
    topics = [json.loads(x) for x in (tmp_path / "x" / "topics.jsonl").read_text().splitlines()]
    assert "centroid" not in topics[0] and len(topics[0]["representatives"]) == 3
    acts = [json.loads(x) for x in (tmp_path / "x" / "moderator_actions.jsonl").read_text().splitlines()]
    assert [a["action"] for a in acts] == ["acknowledge", "relabel", "undo", "confirm_flag", "relabel"]
    assert acts[1]["undone_by"] == acts[2]["id"] and acts[1]["changes"] == {"intent": ["abuse", "chitchat"]}
    feedback = [json.loads(x) for x in (tmp_path / "x" / "feedback.jsonl").read_text().splitlines()]
    assert [(f["field"], f["value"], f["active"]) for f in feedback] == [
        ("intent", "chitchat", 0), ("flags", ["abuse"], 1), ("sentiment", "negative", 1)]
    assert json.loads((tmp_path / "x" / "manifest.json").read_text())["files"]["queue_items"] == \
        "queue_items.jsonl"

    bk.export(live, "beta", tmp_path / "c", fmt="csv", embeddings=True)
    with (tmp_path / "c" / "messages.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 7 and {r["community"] for r in rows} == {"beta"}
    assert json.loads(rows[0]["embedding"]) == [1.0, 1.0, 1.0, 1.0]
    assert json.loads(rows[2]["flag_scores"])["spam"] == 0.01 and rows[0]["reply_to"] == ""
    with pytest.raises(BackupError, match="no data"):
        bk.export(live, "nobody", tmp_path / "n")


def test_cli_backup_restore_export(live, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PULSE_DB_PATH", str(live.path))
    out = tmp_path / "cli-acme.db"
    assert main(["backup", "--out", str(out), "--community", "acme"]) == 0
    assert "14 messages" in capsys.readouterr().out
    assert main(["export", "--community", "acme", "--format", "csv", "--out", str(tmp_path / "e")]) == 0
    assert (tmp_path / "e" / "messages.csv").exists() and (tmp_path / "e" / "feedback.csv").exists()
    assert main(["restore", str(out), "--community", "acme"]) == 2
    assert "--replace" in capsys.readouterr().err
    assert main(["restore", str(out), "--community", "acme", "--replace"]) == 0
    monkeypatch.setenv("PULSE_DB_PATH", str(tmp_path / "fresh.db"))
    assert main(["restore", str(out)]) == 0
    assert Store(tmp_path / "fresh.db").count_messages() == 14
    assert main(["restore", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert os.path.exists(out)


@pytest.mark.slow
def test_online_backup_of_the_live_service_while_it_ingests(tmp_path):
    """`pulse backup` (whole and one community) while `pulse serve` ingests real messages."""
    import subprocess
    import sys

    from eval.faults import Ledger, Service, ingest, messages, real_texts

    service = Service(tmp_path / "pulse.db")
    service.start()
    items = messages(real_texts(4000), "live", "b")
    ledger = Ledger()
    writer = threading.Thread(target=ingest, args=(
        service, [items[i:i + 100] for i in range(0, 4000, 100)], ledger, 2))
    writer.start()
    try:
        while ledger.count() < 500:
            time.sleep(0.05)
        acked_before = set(ledger.acked)
        service.cli("backup", "--out", str(tmp_path / "all.db"))
        service.cli("backup", "--out", str(tmp_path / "live.db"), "--community", "live")
        acked_after = ledger.count()
    finally:
        writer.join()
        service.stop()
    assert acked_after < 4000 and ledger.errors == []  # the backups ran during the ingest
    for name in ("all.db", "live.db"):
        conn = sqlite3.connect(tmp_path / name)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        held = {r[0] for r in conn.execute("SELECT external_id FROM messages")}
        assert acked_before <= held and len(held) < 4000  # a snapshot taken mid-ingest
        assert conn.execute("SELECT count(*) FROM messages WHERE length(embedding) = 0"
                            " OR sentiment = '' OR intent = ''").fetchone()[0] == 0
    fresh = os.environ | {"PULSE_DB_PATH": str(tmp_path / "fresh.db")}
    subprocess.run([sys.executable, "-m", "service.cli", "restore", str(tmp_path / "all.db")],
                   env=fresh, check=True, capture_output=True)
    assert dump(tmp_path / "fresh.db")["messages"] == dump(tmp_path / "all.db")["messages"]
    in_backup = len(dump(tmp_path / "live.db")["messages"])
    service.cli("restore", str(tmp_path / "live.db"), "--community", "live", "--replace")
    assert Store(service.db).count_messages("live") == in_backup  # back to the backup's instant
