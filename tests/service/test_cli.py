from __future__ import annotations

import json

import pytest

from service.cli import main


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_DB_PATH", str(tmp_path / "cli.db"))
    monkeypatch.setenv("PULSE_DEMO", "false")  # the demo has its own tests
    return tmp_path


def test_import_of_missing_file_is_a_clean_error(env, capsys):
    assert main(["import", str(env / "nope.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_unknown_command_exits_nonzero():
    with pytest.raises(SystemExit):
        main(["frobnicate"])


@pytest.mark.slow
def test_import_twice_then_classify(env, capsys):
    from datetime import UTC, datetime, timedelta

    from service.store import format_ts

    path, day = env / "msgs.jsonl", format_ts(datetime.now(UTC) - timedelta(days=2))
    path.write_text("\n".join(json.dumps({
        "community": "cli", "channel": "c", "author_id": "a", "external_id": str(i),
        "text": t, "ts": day}, ensure_ascii=False)
        for i, t in enumerate(["hello all", "登录失败", "bad \u0000 text"])) + "\n")
    assert main(["import", str(path)]) == 0
    out = capsys.readouterr()
    assert "created 2" in out.out and "rejected 1" in out.out and "record 3" in out.err
    assert "cli: 0 topics from 2 messages of the last 30 days" in out.out  # reclustered
    assert main(["import", str(path)]) == 0
    assert "already imported" in capsys.readouterr().out
    assert main(["classify", "登录后闪退", "thanks!"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["lang"] for x in lines] == ["zh", "en"]


@pytest.mark.slow
def test_prepare_reports_loaded_models(env, capsys):
    assert main(["prepare"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rebuilt_heads"] is False and report["models"]["embedder"].startswith("use-m3")


def test_queue_and_weekly_report_commands(env, capsys):
    from datetime import UTC, datetime, timedelta

    from service.store import Store, format_ts
    from tests.fakes import labelled

    now = datetime.now(UTC)
    Store(env / "cli.db").insert_messages([
        labelled("s1", format_ts(now - timedelta(days=8)), intent="spam_ad", flags=("spam",)),
        labelled("c1", format_ts(now - timedelta(days=9)))])
    assert main(["queue", "--community", "acme"]) == 0
    out = capsys.readouterr().out
    assert "1 open items in acme" in out and "flagged" in out and "severity" in out
    out_file = env / "week.html"
    assert main(["report", "--community", "acme", "--format", "html", "--out", str(out_file)]) == 0
    assert "<svg" in out_file.read_text()
    assert main(["report", "--community", "acme", "--week", "2026-W99"]) == 2
    assert "not a week of 2026" in capsys.readouterr().err
