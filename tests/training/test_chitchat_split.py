"""Real chat for training: chitchat-dataset split by conversation, the demo's kept out.

Fast tests run on a small stand-in for the data set (enough conversations for the demo's
draw); the slow one on the fetched package and the real demo.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service import demo
from training import data

END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
COMMON = ("hi", "lol", "how are you?", "ok")  # lines that recur across conversations


def _conversation(cid: str, i: int, senders: int, last: str) -> list[list[dict]]:
    t0 = datetime(2018, 5, 1, tzinfo=UTC) + timedelta(hours=i)
    texts = [COMMON[i % len(COMMON)], f"conversation {cid} line a", f"conversation {cid} line b",
             last]
    return [[{"text": text, "sender": f"{'v' if senders == 2 and j % 2 else 'u'}{i % 7}",
              "timestamp": (t0 + timedelta(seconds=30 * j)).strftime("%Y-%m-%dT%H:%M:%SZ")}]
            for j, text in enumerate(texts)]


@pytest.fixture
def fake_chat(monkeypatch):
    conversations = {f"c{i:04d}": _conversation(f"c{i:04d}", i, 2, f"bye {i}") for i in range(400)}
    conversations |= {f"q{i:04d}": _conversation(f"q{i:04d}", i, 1,
                                                 f"does anyone know question {i}?")
                      for i in range(60)}
    monkeypatch.setattr(data, "chitchat_conversations", lambda: conversations)
    data._chitchat_line_parts.cache_clear()  # parsed once per process: not the fake's lines
    yield conversations
    data._chitchat_line_parts.cache_clear()


def test_conversation_split_is_a_stable_hash_of_the_id():
    parts = [data.chitchat_conversation_split(f"id-{i}") for i in range(3000)]
    assert parts == [data.chitchat_conversation_split(f"id-{i}") for i in range(3000)]
    assert 0.15 < parts.count("test") / 3000 < 0.25 and 0.05 < parts.count("val") / 3000 < 0.15


def test_every_conversation_in_exactly_one_part_and_the_demo_in_none_other(fake_chat):
    parts = data.chitchat_splits()
    assert parts == data.chitchat_splits()  # deterministic
    assert set(parts["demo"]) == set(demo.demo_conversation_ids(fake_chat))
    assert len(parts["demo"]) == demo.N_CONVERSATIONS + demo.N_LONE_QUESTIONS
    every = [cid for ids in parts.values() for cid in ids]
    assert len(every) == len(set(every)) == len(fake_chat)
    assert all(parts[p] for p in ("train", "val", "test"))


def test_lines_never_cross_parts_and_demo_texts_stay_out_of_training(fake_chat):
    lines = data.chitchat_lines("clean")
    assert lines == data.chitchat_lines("clean")
    assert {e.label for e in lines} == {"clean"} and {e.lang for e in lines} == {"en"}
    by_part = {p: [e.text.lower() for e in lines if e.split == p] for p in ("train", "val", "test")}
    for texts in by_part.values():
        assert len(texts) == len(set(texts))
    assert not set(by_part["train"]) & set(by_part["test"])
    assert not set(by_part["val"]) & set(by_part["test"])
    assert not set(by_part["train"]) & set(by_part["val"])
    parts = data.chitchat_splits()
    shown = {m["text"].lower() for cid in parts["demo"] for turn in fake_chat[cid] for m in turn}
    assert not shown & (set(by_part["train"]) | set(by_part["val"]))
    # a conversation's own lines are all in its part (unless a test text took them)
    for part in ("train", "val", "test"):
        for cid in parts[part][:5]:
            assert f"conversation {cid} line a" in by_part[part]


@pytest.mark.slow
def test_real_demo_conversations_are_never_trained_on():
    parts = data.chitchat_splits()
    shown = {r["thread_id"] for r in demo.demo_messages(END) if r["thread_id"]}
    assert shown == set(parts["demo"])
    for part in ("train", "val", "test"):
        assert not shown & set(parts[part])
    lines = data.chitchat_lines()
    train = {e.text.lower() for e in lines if e.split == "train"}
    test = {e.text.lower() for e in lines if e.split == "test"}
    assert len(train) > 50_000 and len(test) > 10_000 and not train & test
