import pytest

from service.queue import actions
from service.queue.refresh import refresh
from tests.service.queue.conftest import NOW

LABELS = actions.Labels(sentiment=("negative", "neutral", "positive"),
                        intent=("question", "bug_report", "abuse", "chitchat"))
T = "2026-11-20T12:05:00.000000Z"


@pytest.fixture
def queue(community):
    store, _ = community
    refresh(store, "acme", NOW)
    items = {i["kind"]: i for i in store.queue_items("acme", ["open"])[0]}
    return store, items


def test_workflow_transitions_are_logged_with_who_and_what(queue):
    store, items = queue
    item = items["flagged"]["id"]
    actions.act(store, item, "ann", "acknowledge", T)
    actions.act(store, item, "ann", "assign", T, assignee="bob")
    done = actions.act(store, item, "bob", "resolve", T, note="removed the post")
    assert done["changes"] == {"status": ["acknowledged", "resolved"]}
    assert store.queue_item(item)["status"] == "resolved"
    assert store.queue_item(item)["assignee"] == "bob"
    with pytest.raises(actions.ActionRefused, match="cannot acknowledge an item that is resolved"):
        actions.act(store, item, "ann", "acknowledge", T)
    actions.act(store, item, "ann", "reopen", T)
    trail = store.queue_actions(item_id=item)
    assert [(a["actor"], a["action"]) for a in trail] == [
        ("ann", "acknowledge"), ("ann", "assign"), ("bob", "resolve"), ("ann", "reopen")]
    assert store.queue_item(item)["status"] == "open"


def test_undo_reverses_the_latest_change_only(queue):
    store, items = queue
    item = items["unanswered"]["id"]
    ack = actions.act(store, item, "ann", "acknowledge", T)
    dismiss = actions.act(store, item, "ann", "dismiss", T)
    with pytest.raises(actions.ActionRefused, match="changed"):
        actions.undo(store, ack["id"], "ann", T)  # the dismiss came after it
    undone = actions.undo(store, dismiss["id"], "cat", T)
    assert undone["changes"] == {"status": ["dismissed", "acknowledged"]}
    assert store.queue_item(item)["status"] == "acknowledged"
    assert store.queue_action(dismiss["id"])["undone_by"] == undone["id"]
    with pytest.raises(actions.ActionRefused, match="already undone"):
        actions.undo(store, dismiss["id"], "cat", T)
    with pytest.raises(actions.ActionRefused, match="cannot be undone"):
        actions.undo(store, undone["id"], "cat", T)
    assert len(store.queue_actions(item_id=item)) == 3  # nothing deleted


def test_relabel_is_feedback_and_undo_withdraws_it(queue):
    store, items = queue
    item = items["flagged"]
    relabel = actions.act(store, item["id"], "ann", "relabel", T, field="intent",
                          value="chitchat", labels=LABELS)
    assert relabel["changes"] == {"intent": ["abuse", "chitchat"]}
    assert store.message_feedback(item["ref_id"]) == {"intent": "chitchat"}
    (fb,) = store.feedback("acme")
    assert fb["previous"] == "abuse" and fb["actor"] == "ann" and fb["text"].startswith("abuse")
    actions.undo(store, relabel["id"], "ann", T)
    assert store.message_feedback(item["ref_id"]) == {}
    assert store.feedback("acme") == []
    assert len(store.feedback("acme", active_only=False)) == 1
    with pytest.raises(ValueError, match="intent must be one of"):
        actions.act(store, item["id"], "ann", "relabel", T, field="intent", value="nonsense",
                    labels=LABELS)
    with pytest.raises(ValueError, match="flags must be a list"):
        actions.act(store, item["id"], "ann", "relabel", T, field="flags", value="spam",
                    labels=LABELS)


def test_agreeing_with_a_flag_and_acting_on_the_member_are_separate(queue):
    store, items = queue
    item = items["flagged"]
    confirm = actions.act(store, item["id"], "ann", "confirm_flag", T)
    assert confirm["changes"] == {"flags": [["abuse"], ["abuse"]]}
    assert store.message_feedback(item["ref_id"]) == {"flags": ["abuse"]}
    member = actions.act(store, item["id"], "ann", "member_action", T, member_action="mute")
    assert member["changes"] == {"member": [None, "mute"]}
    assert store.queue_item(item["id"])["status"] == "open"  # neither closes the item
    with pytest.raises(actions.ActionRefused, match="applies to a message"):
        actions.act(store, items["recurring"]["id"], "ann", "confirm_flag", T)
    with pytest.raises(ValueError, match="member_action must be"):
        actions.act(store, item["id"], "ann", "member_action", T, member_action="shame")


def test_relabel_outside_the_queue_and_unknown_ids(queue):
    store, items = queue
    message = store.known_ids("acme", ["q-fresh"])["q-fresh"]
    action = actions.relabel(store, message, "ann", "sentiment", "negative", T, LABELS)
    assert action["item_id"] is None and action["message_id"] == message
    with pytest.raises(actions.NotFound):
        actions.relabel(store, 99999, "ann", "sentiment", "negative", T, LABELS)
    with pytest.raises(actions.NotFound):
        actions.act(store, 99999, "ann", "acknowledge", T)
    with pytest.raises(actions.NotFound):
        actions.undo(store, 99999, "ann", T)
