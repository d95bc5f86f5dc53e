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
