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
