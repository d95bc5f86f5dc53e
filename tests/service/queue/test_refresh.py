from datetime import timedelta

from service.queue.priority import QueueConfig
from service.queue.refresh import refresh
from tests.fakes import labelled
from tests.service.queue.conftest import NOW


def _items(store):
    items, total = store.queue_items("acme", ["open", "acknowledged", "resolved", "dismissed"])
    assert total == len(items)
    return items


def test_queue_holds_flagged_unanswered_and_recurring_in_priority_order(community):
    store, topic = community
    counts = refresh(store, "acme", NOW)
    items = _items(store)
    assert counts["created"] == 3
    kinds = {(i["kind"], i["title"].split()[0]) for i in items}
    assert kinds == {("flagged", "abuse"), ("unanswered", "question"),
                     ("recurring", "Recurring:")}
    by_kind = {i["kind"]: i for i in items}
    assert by_kind["unanswered"]["ref_id"] == store.known_ids("acme", ["q-open"])["q-open"]
    assert by_kind["recurring"]["ref_id"] == topic
    priorities = [i["priority"] for i in items]
    assert priorities == sorted(priorities, reverse=True)
    assert by_kind["flagged"]["priority"] > by_kind["unanswered"]["priority"]
    factors = {f["factor"]: f for f in by_kind["recurring"]["factors"]}
    assert factors["volume"]["raw"] == 10
    assert factors["members"]["raw"] == 8
    assert factors["growth"]["raw"] > 2  # 8 in the last week vs ~0.6 a week before
    assert round(sum(f["contribution"] for f in by_kind["recurring"]["factors"]), 2) == \
        by_kind["recurring"]["priority"]


def test_refresh_is_idempotent_and_keeps_status(community):
    store, _ = community
    refresh(store, "acme", NOW)
    item = _items(store)[0]
    store.record_action(community="acme", actor="ann", action="acknowledge", item_id=item["id"],
                        changes={"status": ["open", "acknowledged"]}, now="2026-11-20T12:01:00Z")
    assert refresh(store, "acme", NOW + timedelta(hours=1))["created"] == 0
    assert store.queue_item(item["id"])["status"] == "acknowledged"
    assert len(_items(store)) == 3


def test_question_waits_the_configured_time(community):
    store, _ = community
    refresh(store, "acme", NOW, QueueConfig(unanswered_after_hours=4))
    titles = [i["title"] for i in _items(store) if i["kind"] == "unanswered"]
    assert sorted(titles) == ["question q-fresh", "question q-open"]


def test_an_answer_resolves_the_question_item_and_says_why(community):
    store, _ = community
    refresh(store, "acme", NOW)
    store.insert_messages([labelled("late-answer", "2026-11-20T13:00:00.000000Z",
                                    reply_to="q-open", author="helper")])
    assert refresh(store, "acme", NOW + timedelta(hours=2))["closed"] == 1
    item = next(i for i in _items(store) if i["kind"] == "unanswered")
    assert item["status"] == "resolved"
    (action,) = store.queue_actions(item_id=item["id"])
    assert action["actor"] == "pulse" and "answer" in action["note"]


def test_recurring_needs_volume_and_issue_share(community):
    store, _ = community
    refresh(store, "acme", NOW, QueueConfig(recurring_min_messages=11))
    assert not [i for i in _items(store) if i["kind"] == "recurring"]


def test_communities_are_separate(community):
    store, _ = community
    refresh(store, "other", NOW)
    assert store.queue_items("other", ["open"])[1] == 0
