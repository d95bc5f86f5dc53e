"""The moderators' workflow: open → acknowledged → resolved / dismissed, reopen, assign,
notes, relabels, agreeing with a flag, and acting on a member — each one an action row
that says who, when and what changed, and each one undoable. Nothing is deleted.

Agreeing with a flag (``confirm_flag``) is a judgement about the message and is stored as
feedback for retraining; acting on the member (``member_action``: warn, mute, ban) is a
separate record about the person. Neither implies the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.store import Store

TRANSITIONS = {
    "acknowledge": (("open",), "acknowledged"),
    "resolve": (("open", "acknowledged"), "resolved"),
    "dismiss": (("open", "acknowledged"), "dismissed"),
    "reopen": (("resolved", "dismissed"), "open"),
}
MEMBER_ACTIONS = ("warn", "mute", "ban", "unban", "none")
FLAG_NAMES = ("abuse", "spam")


class NotFound(LookupError):
    pass


class ActionRefused(ValueError):
    """The action does not apply to the item in its current state (HTTP 409)."""


@dataclass(frozen=True)
class Labels:
    """Accepted values per relabel field (from the loaded heads)."""

    sentiment: tuple[str, ...]
    intent: tuple[str, ...]

    @classmethod
    def of(cls, classifier) -> Labels:
        return cls(sentiment=tuple(classifier.heads["sentiment"].labels),
                   intent=tuple(classifier.heads["intent"].labels))

    def check(self, field: str, value) -> object:
        if field == "flags":
            if not isinstance(value, list) or any(v not in FLAG_NAMES for v in value):
                raise ValueError(f"flags must be a list of {', '.join(FLAG_NAMES)}")
            return sorted(set(value))
        if field not in ("sentiment", "intent"):
            raise ValueError("field must be one of sentiment, intent, flags")
        allowed = getattr(self, field)
        if value not in allowed:
            raise ValueError(f"{field} must be one of {', '.join(allowed)}")
        return value


def act(store: Store, item_id: int, actor: str, action: str, now: str, *,
        assignee: str | None = None, note: str | None = None, member_action: str | None = None,
        field: str | None = None, value=None, labels: Labels | None = None) -> dict:
    """Apply one action to a queue item; returns the recorded action."""
    item = store.queue_item(item_id)
    if item is None:
        raise NotFound(f"no queue item with id {item_id}")
    common = {"community": item["community"], "actor": actor, "item_id": item_id,
              "note": note, "now": now, "message_id": _message_of(item)}
    if action in TRANSITIONS:
        allowed, target = TRANSITIONS[action]
        if item["status"] not in allowed:
            raise ActionRefused(f"cannot {action} an item that is {item['status']}")
        changes, expect = {"status": [item["status"], target]}, {"status": item["status"]}
        action_id = store.record_action(action=action, changes=changes, expect=expect, **common)
    elif action == "assign":
        changes = {"assignee": [item["assignee"], assignee]}
        action_id = store.record_action(action=action, changes=changes,
                                        expect={"assignee": item["assignee"]}, **common)
    elif action == "note":
        if not note:
            raise ValueError("a note needs text")
        action_id = store.record_action(action=action, changes={}, **common)
    elif action in ("relabel", "confirm_flag", "member_action"):
        if common["message_id"] is None:
            raise ActionRefused(f"{action} applies to a message; this item is a topic")
        if action == "member_action":
            if member_action not in MEMBER_ACTIONS:
                raise ValueError(f"member_action must be one of {', '.join(MEMBER_ACTIONS)}")
            action_id = store.record_action(action=action,
                                            changes={"member": [None, member_action]}, **common)
        else:
            return _label_message(store, common, action, field, value, labels)
    else:
        raise ValueError(f"unknown action {action!r}")
    return store.queue_action(action_id)


def relabel(store: Store, message_id: int, actor: str, field: str, value, now: str,
            labels: Labels, note: str | None = None) -> dict:
    """A moderator's label for a message, outside the queue; stored as feedback."""
    message = store.get_message(message_id)
    if message is None:
        raise NotFound(f"no message with id {message_id}")
    common = {"community": message["community"], "actor": actor, "item_id": None,
              "note": note, "now": now, "message_id": message_id}
    return _label_message(store, common, "relabel", field, value, labels)


def undo(store: Store, action_id: int, actor: str, now: str, note: str | None = None) -> dict:
    """Reverse one action: item fields go back, its feedback is deactivated; logged too.

    Only the latest change of a field can be undone (later actions first), so an undo
    never overwrites what someone else did after it.
    """
    target = store.queue_action(action_id)
    if target is None:
        raise NotFound(f"no action with id {action_id}")
    if target["action"] == "undo":
        raise ActionRefused("an undo cannot be undone; perform the action again instead")
    if target["undone_by"] is not None:
        raise ActionRefused(f"action {action_id} is already undone")
    reverse = {k: [after, before] for k, (before, after) in target["changes"].items()}
    expect = {k: v[0] for k, v in reverse.items() if k in ("status", "assignee")}
    try:
        new_id = store.record_action(
            community=target["community"], actor=actor, action="undo", changes=reverse,
            item_id=target["item_id"], message_id=target["message_id"], note=note,
            expect=expect if target["item_id"] is not None else None, undoes=action_id, now=now)
    except ValueError as exc:  # Conflict: the field moved on since
        raise ActionRefused(f"cannot undo action {action_id}: {exc}") from None
    return store.queue_action(new_id)


def effective_labels(message: dict, feedback: dict) -> dict:
    """The message's labels with the moderators' relabels applied."""
    return {"sentiment": feedback.get("sentiment", message["sentiment"]),
            "intent": feedback.get("intent", message["intent"]),
            "flags": feedback.get("flags", message["flags"])}


def _label_message(store: Store, common: dict, action: str, field, value,
                   labels: Labels | None) -> dict:
    message = store.get_message(common["message_id"])
    current = effective_labels(message, store.message_feedback(message["id"]))
    if action == "confirm_flag":
        if not current["flags"]:
            raise ActionRefused("the message carries no flag to confirm")
        field, value = "flags", current["flags"]
    else:
        if labels is None:
            raise ValueError("relabel needs the label sets")
        value = labels.check(field, value)
    feedback = {"field": field, "value": value, "previous": current[field]}
    action_id = store.record_action(action=action, changes={field: [current[field], value]},
                                    feedback=feedback, **common)
    return store.queue_action(action_id)


def _message_of(item: dict) -> int | None:
    return item["ref_id"] if item["kind"] in ("flagged", "unanswered") else None
