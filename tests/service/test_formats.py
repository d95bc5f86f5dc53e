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


def test_discourse_topic_json(pipeline, store):
    path = FIXTURES / "discourse_posts.json"  # /t/{id}.json: posts, then the topic's fields
    assert detect_format(path, None) == "discourse"
    report = import_file(pipeline, path, defaults={"community": "acme-forum"})
    assert (report.created, report.skipped, report.rejected) == (5, 6, 0)
    assert report.skip_reasons == {"system message (small_action)": 1, "deleted post": 2,
                                   "system message (whisper)": 1, "attachments only": 1,
                                   "system message (moderator_action)": 1}
    rows = stored(store)
    assert set(rows) == {"41001", "41002", "41004", "41005", "41010"}
    first = rows["41001"]  # paragraphs and code lines stay lines
    assert first["text"].splitlines()[0].startswith("Since the 3.2 update")
    assert first["text"].splitlines()[-1] == "Anyone else?"
    assert first["channel"] == "category-7" and first["thread_id"] == "8123"
    assert first["metadata"]["topic_title"] == "App crashes right after login (3.2)"
    zh = rows["41002"]
    assert zh["text"] == "更新到 3.2 之后一登录就闪退，有人遇到吗？我用的是小米 13"
    assert zh["reply_to"] == "41001" and zh["author_id"] == "57"
    assert zh["metadata"]["author_name"] == "小林" and "edited_at" not in zh["metadata"]
    quoting = rows["41004"]  # the quoted post is dropped, entities unescaped
    assert quoting["text"] == ("Same for me on Android 14 & iOS 18 — clearing the cache didn't "
                               "help <sigh>")
    assert quoting["reply_to"] == "41002"
    assert quoting["metadata"]["edited_at"] == "2026-11-01T10:02:41.118Z"
    assert quoting["ts"] == "2026-11-01T09:30:00.000000Z"
    from_raw = rows["41005"]  # raw markdown when present, its [quote] dropped
    assert from_raw["text"] == "Thanks all — a fix is in **3.2.1**, rolling out today :+1:"
    assert from_raw["metadata"]["staff"] is True
    outside = rows["41010"]  # answers post 40, not in this file; a onebox keeps its link
    assert outside["reply_to"] == "8123#40"
    assert outside["text"] == "@sam still happens for me on 3.2.1:\nhttps://github.com/acme/app/issues/512"


def _discourse_posts() -> list[dict]:
    import json

    return json.loads((FIXTURES / "discourse_posts.json").read_text())["post_stream"]["posts"]


def test_discourse_other_response_shapes(pipeline, store, tmp_path):
    import json

    posts = _discourse_posts()
    # /posts.json: newest first, each post with its category: replies come before their targets
    latest = tmp_path / "latest.json"
    latest.write_text(json.dumps({"latest_posts": [p | {"category_id": 9} for p in posts[::-1]]}))
    # /t/{id}/posts.json: no category anywhere; a plain list of posts
    topic_posts = tmp_path / "topic_posts.json"
    topic_posts.write_text(json.dumps({"post_stream": {"posts": posts}, "id": 8123}))
    plain = tmp_path / "list.json"
    plain.write_text(json.dumps(posts))
    for path, community, channel in ((latest, "a", "category-9"),
                                     (topic_posts, "b", "app-crashes-right-after-login-3-2"),
                                     (plain, "c", "app-crashes-right-after-login-3-2")):
        assert detect_format(path, None) == "discourse"
        report = import_file(pipeline, path, defaults={"community": community})
        assert (report.created, report.skipped) == (5, 6), path.name
        rows = {m["external_id"]: m for m in store.list_messages(
            MessageFilter(community=community), limit=50)[0]}
        assert rows["41004"]["reply_to"] == "41002" and rows["41002"]["reply_to"] == "41001"
        assert {m["channel"] for m in rows.values()} == {channel}


def test_discourse_needs_a_community_and_its_own_shape(pipeline, tmp_path):
    import pytest

    with pytest.raises(ValueError, match="community"):
        import_file(pipeline, FIXTURES / "discourse_posts.json")
    other = tmp_path / "other.json"
    other.write_text('{"users": [], "topic_list": {"topics": []}}')
    with pytest.raises(ValueError, match="not Discourse posts JSON"):
        import_file(pipeline, other, fmt="discourse", defaults={"community": "x"})


def test_discourse_malformed_posts_are_reported_and_skipped(pipeline, store, tmp_path):
    import json

    posts = _discourse_posts()[:2]
    broken = [posts[0], "not a post", posts[1] | {"id": 41099, "created_at": "yesterday"},
              {**posts[1], "cooked": "<p>  </p>", "id": 41098}]
    path = tmp_path / "posts.json"
    path.write_text(json.dumps(broken))
    report = import_file(pipeline, path, defaults={"community": "f"})
    assert (report.created, report.rejected, report.skipped) == (1, 2, 1)
    assert report.errors[0] == "record 2: post is not a JSON object"
    assert report.errors[1].startswith("record 3: ts")
    assert report.skip_reasons == {"no text": 1}


def test_cooked_html_to_text():
    from service.formats import CookedText, discourse_raw_text

    def text(html):
        return CookedText.convert(html).text

    nested = ('<aside class="quote"><blockquote><aside class="quote"><p>old</p></aside>'
              '<p>quoted</p></blockquote></aside><p>mine<br>second&nbsp;line</p>')
    assert text(nested) == "mine\nsecond line"  # &nbsp; is a space too
    assert text("<p>a &lt;b&gt; &amp; &#x4e2d;&#25991; &quot;q&quot;</p>") == 'a <b> & 中文 "q"'
    assert text('<p>ok <img src="x.png" class="emoji" alt=":tada:"></p>') == "ok :tada:"
    assert text("<p>one\ntwo</p>\n<ul>\n<li>x</li>\n<li>y</li>\n</ul>") == "one two\nx\ny"
    only_file = CookedText.convert('<p><a class="attachment" href="/uploads/x.log">x.log</a></p>')
    assert only_file.text == "" and only_file.media
    assert discourse_raw_text('[quote="a, post:1, topic:2"]\n[quote]in[/quote]\nout\n[/quote]\n'
                              "reply ![shot|690x388](upload://abc.png)") == "reply"


def test_discourse_reply_index_is_bounded(pipeline, store, tmp_path, monkeypatch):
    import json

    from service import formats

    monkeypatch.setattr(formats, "DISCOURSE_REPLY_INDEX", 2)  # only posts 1 and 2 are indexed
    path = tmp_path / "posts.json"
    path.write_text(json.dumps(_discourse_posts()))
    import_file(pipeline, path, defaults={"community": "f"})
    rows = stored(store)
    assert rows["41002"]["reply_to"] == "41001"
    assert rows["41005"]["reply_to"] == "8123#4"  # post 4 is past the index


def test_cli_asks_for_a_community_for_discourse(tmp_path, monkeypatch, capsys):
    from service.cli import main

    monkeypatch.setenv("PULSE_DB_PATH", str(tmp_path / "x.db"))
    assert main(["import", str(FIXTURES / "discourse_posts.json"), "--format", "discourse"]) == 2
    assert "--community" in capsys.readouterr().err
