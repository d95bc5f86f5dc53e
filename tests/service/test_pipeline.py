from __future__ import annotations

from datetime import UTC, datetime

from service.schemas import MessageIn


def msg(i, community="acme", text=None):
    return MessageIn(community=community, channel="c", author_id="a", external_id=str(i),
                     text=text or f"hello {i}", ts=datetime(2026, 11, 1, tzinfo=UTC))


def test_ingest_embeds_once_and_stores_predictions(pipeline, store):
    results = pipeline.ingest([msg(1), msg(2)])
    assert [r.status for r in results] == ["created", "created"]
    assert pipeline.classifier.embedder.calls == [2]
    stored = store.get_message(results[0].id)
    assert stored["models"]["embedder"] == "hash-64"
    assert stored["intent"] in stored["intent_probs"]


def test_known_messages_are_not_embedded_again(pipeline):
    pipeline.ingest([msg(1)])
    results = pipeline.ingest([msg(1), msg(1, community="b")])
    assert [r.status for r in results] == ["duplicate", "created"]
    assert pipeline.classifier.embedder.calls == [1, 1]


def test_classify_matches_ingest_predictions(pipeline, store):
    text = "the login page crashes every time"
    (pred,) = pipeline.classify([text])
    (result,) = pipeline.ingest([msg(9, text=text)])
    stored = store.get_message(result.id)
    assert stored["intent_probs"] == pred.intent_probs and stored["flags"] == pred.flags


def test_ingest_and_classify_through_the_micro_batcher(store):
    from service.pipeline import Pipeline
    from tests.fakes import fake_classifier

    pipeline = Pipeline(fake_classifier(), store, batching=True)
    try:
        (pred,) = pipeline.classify(["the login page crashes"])
        (result,) = pipeline.ingest([msg(1, text="the login page crashes")])
        assert store.get_message(result.id)["intent_probs"] == pred.intent_probs
        assert pipeline.ingest([msg(1)])[0].status == "duplicate"
    finally:
        pipeline.close()


def test_redaction_runs_once_per_new_message_before_embedding(pipeline, store, monkeypatch):
    from service.nlp.redact import Redactor

    store.set_redaction_kinds("acme", ["phone", "wechat"], "2026-11-01T00:00:00Z")
    pipeline.ingest([msg(1, text="old 13812345678")])
    calls = []
    redact = Redactor.redact
    monkeypatch.setattr(Redactor, "redact", lambda self, text: calls.append(text) or redact(self, text))
    pii = "加微信 abc_123 电话 13812345678"
    results = pipeline.ingest([msg(1, text="old 13812345678"), msg(2, text=pii),
                               msg(2, text=pii), msg(3, community="b", text=pii)])
    assert [r.status for r in results] == ["duplicate", "created", "duplicate", "created"]
    assert calls == [pii]  # not the known message, not the in-batch repeat, not community b
    assert pipeline.classifier.embedder.calls == [1, 2]
    stored = store.get_message(results[1].id)
    assert stored["text"] == "加微信 [WECHAT] 电话 [PHONE]"
    assert stored["metadata"]["redacted"] == {"wechat": 1, "phone": 1}
    assert store.get_message(results[3].id)["text"] == pii


def test_a_message_without_pii_keeps_its_metadata_as_sent(pipeline, store):
    store.set_redaction_kinds("acme", ["email"], "2026-11-01T00:00:00Z")
    m = msg(1, text="no contact details here").model_copy(update={"metadata": {"k": "v"}})
    (result,) = pipeline.ingest([m])
    assert store.get_message(result.id)["metadata"] == {"k": "v"}


def test_the_redaction_setting_is_cached_briefly(pipeline, store):
    assert pipeline.redactor("acme") is None
    store.set_redaction_kinds("acme", ["email"], "2026-11-01T00:00:00Z")
    assert pipeline.redactor("acme") is None  # cached: one read per community per ttl
    pipeline.forget_redaction("acme")  # what PUT does
    assert pipeline.redactor("acme").kinds == {"email"}
    store.set_redaction_kinds("acme", None, "2026-11-01T00:00:00Z")
    pipeline.redaction_ttl_s = 0.0  # another process changed it and the ttl has passed
    assert pipeline.redactor("acme") is None


def test_imports_are_redacted_through_the_pipeline(pipeline, store, tmp_path):
    import json

    from service.importer import import_file
    from service.store import MessageFilter

    store.set_redaction_kinds("acme", ["email", "qq", "url"], "2026-11-01T00:00:00Z")
    path = tmp_path / "export.jsonl"
    rows = [{"channel": "c", "author_id": "u1", "external_id": "e1", "ts": "2026-11-01T10:00:00",
             "text": "有问题联系QQ：383161223 或 li@163.com", "metadata": {"email": "li@163.com"}},
            {"channel": "c", "author_id": "u2", "external_id": "e2", "ts": "2026-11-01T10:01:00",
             "text": "see https://example.com/help"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    report = import_file(pipeline, path, defaults={"community": "acme"})
    assert report.created == 2
    stored, _ = store.list_messages(MessageFilter(community="acme"))
    by_id = {m["external_id"]: m for m in stored}
    assert by_id["e1"]["text"] == "有问题联系QQ：[QQ] 或 [EMAIL]"
    assert by_id["e1"]["metadata"]["email"] == "[EMAIL]"  # metadata strings too
    assert by_id["e1"]["metadata"]["redacted"] == {"qq": 1, "email": 2}
    assert by_id["e2"]["text"] == "see [URL]"
