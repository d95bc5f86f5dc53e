from __future__ import annotations

import json

import pytest

from service.importer import fingerprint, import_file
from service.store import MessageFilter


def write_jsonl(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records),
                    encoding="utf-8")


def rec(i, **over):
    return {"channel": "general", "author_id": "u1", "external_id": f"e{i}",
            "text": f"记录 {i} the app crashes", "ts": "2026-11-01T10:00:00"} | over


def test_jsonl_import_with_bad_records_reported(pipeline, store, tmp_path):
    path = tmp_path / "msgs.jsonl"
    write_jsonl(path, [rec(1), "{not json", rec(2, text=""), rec(3), "", [1, 2], rec(4)])
    report = import_file(pipeline, path, defaults={"community": "acme"}, batch_size=2)
    assert (report.created, report.rejected) == (3, 4)
    assert report.errors[0].startswith("record 2: invalid JSON")
    assert any(e.startswith("record 3: text") for e in report.errors)
    assert store.count_messages("acme") == 3


def test_rerun_is_idempotent_and_says_done(pipeline, store, tmp_path):
    path = tmp_path / "msgs.jsonl"
    write_jsonl(path, [rec(i) for i in range(10)])
    import_file(pipeline, path, defaults={"community": "acme"})
    again = import_file(pipeline, path, defaults={"community": "acme"})
    assert again.already_done and store.count_messages() == 10


def test_crash_mid_import_resumes_without_loss_or_duplicates(pipeline, store, tmp_path):
    path = tmp_path / "msgs.jsonl"
    write_jsonl(path, [rec(i) for i in range(25)])
    real_ingest = pipeline.ingest
    calls = {"n": 0}

    def crashing(batch, checkpoint=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real_ingest(batch, checkpoint)

    pipeline.ingest = crashing
    with pytest.raises(KeyboardInterrupt):
        import_file(pipeline, path, defaults={"community": "acme"}, batch_size=5)
    assert store.count_messages() == 10  # two committed batches
    pipeline.ingest = real_ingest
    report = import_file(pipeline, path, defaults={"community": "acme"}, batch_size=5)
    assert report.resumed_from == 10 and report.created == 15
    assert store.count_messages() == 25
    state = store.get_import(fingerprint(path))
    assert (state["created"], state["done"]) == (25, 1)


def test_csv_import(pipeline, store, tmp_path):
    path = tmp_path / "msgs.csv"
    path.write_text("community,channel,author_id,external_id,text,ts,metadata\n"
                    'acme,general,u1,1,"hello, world",2026-11-01T00:00:00Z,"{""a"": 1}"\n'
                    "acme,general,u2,2,,2026-11-01T00:00:00Z,\n"
                    "acme,general,u2,3,ok,2026-11-01T00:00:00Z,not-json\n"
                    "acme,general,u2,4,fine,1762000000,\n", encoding="utf-8")
    report = import_file(pipeline, path)
    assert (report.created, report.rejected) == (2, 2)
    rows = {m["external_id"]: m for m in store.list_messages(MessageFilter())[0]}
    assert rows["1"]["metadata"] == {"a": 1} and rows["1"]["text"] == "hello, world"


def test_non_utf8_file_reports_position(pipeline, tmp_path):
    path = tmp_path / "msgs.jsonl"
    path.write_bytes(json.dumps(rec(1)).encode() + b"\n" + b'{"text": "\xff\xfe"}\n')
    report = import_file(pipeline, path, defaults={"community": "acme"})
    assert report.created == 1 and report.rejected == 1 and "UTF-8" in report.errors[0]


def test_unknown_format_is_refused(pipeline, tmp_path):
    path = tmp_path / "msgs.txt"
    path.write_text("x")
    with pytest.raises(ValueError, match="--format"):
        import_file(pipeline, path)


def test_stop_commits_what_was_read_and_a_rerun_resumes(pipeline, store, tmp_path):
    path = tmp_path / "msgs.jsonl"
    write_jsonl(path, [rec(i) for i in range(12)])
    asked = {"n": 0}

    def stop_after_seven():
        asked["n"] += 1
        return asked["n"] > 7

    report = import_file(pipeline, path, defaults={"community": "acme"}, batch_size=5,
                         stop=stop_after_seven)
    assert report.stopped and report.total == 7 and store.count_messages() == 7
    assert store.get_import(fingerprint(path))["done"] == 0
    again = import_file(pipeline, path, defaults={"community": "acme"})
    assert again.resumed_from == 7 and again.created == 5 and not again.stopped
    assert store.get_import(fingerprint(path))["done"] == 1


def test_check_file_refuses_what_cannot_be_imported(tmp_path):
    from service.importer import check_file

    garbage = tmp_path / "export.json"
    garbage.write_text("<html>not json</html>")
    with pytest.raises(ValueError, match="not a discord export"):
        check_file(garbage, "discord")
    with pytest.raises(ValueError, match="--format"):
        check_file(garbage, None)
    good = tmp_path / "m.jsonl"
    write_jsonl(good, [rec(1)])
    assert check_file(good, None) == "jsonl"


def test_check_file_knows_discourse_by_its_shape(tmp_path):
    from service.importer import check_file

    posts = tmp_path / "posts.json"
    posts.write_text('{"latest_posts": [{"id": 1, "topic_id": 2, "post_number": 1}]}')
    assert check_file(posts, None, {"community": "f"}) == "discourse"
    topics = tmp_path / "topics.json"
    topics.write_text('{"topic_list": {"topics": []}}')
    with pytest.raises(ValueError, match="not Discourse posts JSON"):
        check_file(topics, "discourse", {"community": "f"})
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    with pytest.raises(ValueError, match="not a discourse export"):
        check_file(broken, "discourse", {"community": "f"})
