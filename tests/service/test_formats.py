"""Chat-export importers on fixtures that follow each format's published structure."""

from __future__ import annotations

from pathlib import Path

from service.importer import detect_format, import_file
from service.store import MessageFilter

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def stored(store) -> dict[str, dict]:
    return {m["external_id"]: m for m in store.list_messages(MessageFilter(), limit=500)[0]}


def test_discord_export(pipeline, store):
    path = FIXTURES / "discord_export.json"
    assert detect_format(path, None) == "discord"
    report = import_file(pipeline, path)
    # join + pinned are system, one is attachments only, one has no author
    assert (report.created, report.skipped, report.rejected) == (3, 3, 1)
    assert "record 6" in report.errors[0] and "author_id" in report.errors[0]
    rows = stored(store)
    first = rows["1000000000000000002"]
    assert first["community"] == "883331111222333444" and first["channel"] == "help"
    assert first["metadata"]["author_name"] == "小林" and first["metadata"]["edited_at"]
    reply = rows["1000000000000000003"]
    assert reply["reply_to"] == "1000000000000000002"
    assert reply["ts"] == "2026-11-01T00:07:00.000000Z"  # +08:00 converted to UTC
    assert rows["1000000000000000007"]["metadata"]["is_bot"] is True


def test_telegram_export_with_entity_lists(pipeline, store):
    path = FIXTURES / "telegram_result.json"
    assert detect_format(path, None) == "telegram"
    report = import_file(pipeline, path, defaults={"community": "acme-tg"})
    assert (report.created, report.skipped, report.rejected) == (3, 3, 1)
    rows = stored(store)
    assert rows["3"]["text"] == "Usually 3-5 days, see https://acme.example/refunds for details"
    assert rows["3"]["reply_to"] == "2" and rows["3"]["metadata"]["edited_at"]
    assert rows["5"]["text"] == "兼职日结 加微信 abc123"
    assert rows["2"]["community"] == "acme-tg" and rows["2"]["channel"] == "Acme 用户群"
    assert rows["2"]["ts"] == "2026-11-01T08:01:00.000000Z"  # from date_unixtime (UTC)
    again = import_file(pipeline, path, defaults={"community": "acme-tg"})
    assert again.already_done and store.count_messages() == 3


def test_broken_export_keeps_what_was_read(pipeline, store, tmp_path):
    text = (FIXTURES / "telegram_result.json").read_text(encoding="utf-8")
    cut = tmp_path / "broken.json"
    cut.write_text(text[: text.index('{"id": 5')] + '{"id": 5, "type": "mess', encoding="utf-8")
    report = import_file(pipeline, cut, fmt="telegram")
    assert report.created == 2 and any("not valid JSON" in e for e in report.errors)


def slack_zip(tmp_path) -> Path:
    import json
    import zipfile

    days = {
        "general/2026-11-01.json": [
            {"type": "message", "subtype": "channel_join", "user": "U1", "text": "<@U1> has joined",
             "ts": "1761984000.000100"},
            {"client_msg_id": "a1", "type": "message", "user": "U1", "text": "Is the API rate limited?",
             "ts": "1761984060.000200", "thread_ts": "1761984060.000200", "reply_count": 1},
            {"type": "message", "user": "U2", "text": "yes, 100 req/min", "ts": "1761984120.000300",
             "thread_ts": "1761984060.000200", "parent_user_id": "U1",
             "edited": {"user": "U2", "ts": "1761984130.000000"}},
        ],
        "general/2026-11-02.json": [
            {"type": "message", "subtype": "file_share", "user": "U2", "text": "",
             "files": [{"id": "F1", "name": "log.txt"}], "ts": "1762070400.000100"},
            {"type": "message", "subtype": "bot_message", "bot_id": "B1", "username": "deploybot",
             "text": "deployed 3.2.1", "ts": "1762070460.000200"},
        ],
        "feedback/2026-11-02.json": [
            {"type": "message", "user": "U3", "text": "希望加一个深色模式", "ts": "1762070500.000100"},
            {"type": "message", "text": "no user and no bot", "ts": "1762070560.000100"},
        ],
    }
    path = tmp_path / "Acme Slack export.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("channels.json", json.dumps([{"id": "C1", "name": "general"},
                                                 {"id": "C2", "name": "feedback"}]))
        zf.writestr("users.json", json.dumps([{"id": "U1", "name": "ann", "real_name": "Ann"},
                                              {"id": "U2", "name": "bo"}]))
        for name, messages in days.items():
            zf.writestr(name, json.dumps(messages, ensure_ascii=False))
    return path


def test_slack_export_zip(pipeline, store, tmp_path):
    path = slack_zip(tmp_path)
    assert detect_format(path, None) == "slack"
    report = import_file(pipeline, path, defaults={"community": "acme"})
    assert (report.created, report.skipped, report.rejected) == (4, 2, 1)
    rows = stored(store)
    answer = rows["general/1761984120.000300"]
    assert answer["reply_to"] == "general/1761984060.000200"
    assert answer["thread_id"] == "1761984060.000200" and answer["metadata"]["edited_at"]
    assert rows["general/1761984060.000200"]["metadata"]["author_name"] == "Ann"
    assert rows["general/1762070460.000200"]["metadata"]["is_bot"] is True
    assert rows["feedback/1762070500.000100"]["channel"] == "feedback"


def test_generic_csv_with_a_column_mapping(pipeline, store, tmp_path):
    path = tmp_path / "forum.csv"
    path.write_text("post_id,user,body,created_at,likes\n"
                    "p1,u9,the export button does nothing,2026-11-03T10:00:00Z,4\n"
                    "p2,u8,导出按钮没反应,2026-11-03T11:00:00Z,\n", encoding="utf-8")
    mapping = {"external_id": "post_id", "author_id": "user", "text": "body", "ts": "created_at"}
    report = import_file(pipeline, path, defaults={"community": "forum", "channel": "bugs"},
                         mapping=mapping)
    assert (report.created, report.rejected) == (2, 0)
    rows = stored(store)
    assert rows["p1"]["metadata"] == {"likes": "4"} and rows["p2"]["metadata"] == {}
    assert rows["p2"]["channel"] == "bugs"


def test_cli_refuses_a_bad_mapping(tmp_path, monkeypatch, capsys):
    from service.cli import main

    monkeypatch.setenv("PULSE_DB_PATH", str(tmp_path / "x.db"))
    path = tmp_path / "f.csv"
    path.write_text("a\n1\n")
    assert main(["import", str(path), "--map", "colour=a"]) == 2
    assert "FIELD=COLUMN" in capsys.readouterr().err
