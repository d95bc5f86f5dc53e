"""The moderators' queue: ranked items with explanations, actions, undo, relabels, and
per-community weights. Reading the queue rescores it first, so it is never stale."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.api.deps import (
    Admin,
    Moderator,
    PipelineDep,
    Reader,
    StoreDep,
    check_scope,
    visible_or_404,
)
from service.api.errors import BODY_ERRORS, InputError, responses
from service.api.schemas import MAX_INT, Id, MessageOut
from service.queue import actions
from service.queue.priority import FACTORS, QueueConfig
from service.queue.refresh import load_config
from service.sql.queue import Conflict
from service.store import format_ts

router = APIRouter(prefix="/v1", tags=["queue"])

Status = Literal["open", "acknowledged", "resolved", "dismissed"]
Kind = Literal["flagged", "recurring", "unanswered"]


class FactorOut(BaseModel):
    factor: str
    raw: float = Field(description="The measurement (hours, members, z, probability...).")
    score: float = Field(description="The measurement mapped to [0, 1].")
    weight: float
    contribution: float = Field(description="Points of the priority from this factor.")


class QueueItemOut(BaseModel):
    id: int
    community: str
    kind: Kind = Field(description="flagged message, recurring issue (topic), or "
                       "unanswered question")
    ref_id: int = Field(description="Message id (flagged, unanswered) or topic id (recurring).")
    title: str
    status: Status
    assignee: str | None
    priority: float = Field(description="0–100: Σ weight·score / Σ weight × 100.")
    factors: list[FactorOut] = Field(description="Why: each factor's part of the priority.")
    created_at: str
    updated_at: str
    scored_at: str


class QueuePage(BaseModel):
    items: list[QueueItemOut]
    total: int
    refreshed: dict[str, int] | None = Field(
        description="Items created, scored and closed by this read's rescoring; null when the "
        "queue was scored less than PULSE_QUEUE_REFRESH_S ago (or pass refresh=true).")


class ActionOut(BaseModel):
    id: int
    community: str
    item_id: int | None
    message_id: int | None
    actor: str
    action: str
    changes: dict[str, list] = Field(description="{field: [before, after]}")
    note: str | None
    at: str
    undoes: int | None
    undone_by: int | None


class TopicBrief(BaseModel):
    id: int
    label: str
    keywords: list[str]
    status: str


class QueueItemDetail(QueueItemOut):
    message: MessageOut | None = None
    labels: dict | None = Field(None, description="The message's labels after moderators' "
                                "relabels.")
    topic: TopicBrief | None = None
    quotes: list[dict] = Field(default_factory=list)
    actions: list[ActionOut]


class ActionIn(BaseModel):
    """Who acts is the API key's name (recorded on the action)."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["acknowledge", "resolve", "dismiss", "reopen", "assign", "note",
                    "relabel", "confirm_flag", "member_action"]
    assignee: str | None = Field(None, max_length=100, description="assign: the moderator, or "
                                 "null to unassign.")
    note: str | None = Field(None, max_length=2000)
    member_action: Literal["warn", "mute", "ban", "unban", "none"] | None = None
    field: Literal["sentiment", "intent", "flags"] | None = Field(None, description="relabel")
    value: str | list[str] | None = Field(None, description="relabel: the new label (flags: a "
                                          "list)")

    @model_validator(mode="after")
    def _relabel_names_field(self):
        if self.action == "relabel" and self.field is None:
            raise ValueError("relabel needs 'field' (sentiment, intent or flags) and 'value'")
        return self


class RelabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: Literal["sentiment", "intent", "flags"]
    value: str | list[str]
    note: str | None = Field(None, max_length=2000)


class UndoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=2000)


class QueueSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weights: dict[str, float] = Field(description=f"Factor weights (≥ 0): {', '.join(FACTORS)}.")
    unanswered_after_hours: float = Field(24.0, gt=0, le=24 * 90)
    window_days: int = Field(30, ge=1, le=365)
    recurring_min_messages: int = Field(5, ge=1)
    recurring_issue_share: float = Field(0.4, ge=0, le=1)

    @field_validator("weights")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(FACTORS))
        if unknown:
            raise ValueError(f"unknown factors {unknown}; known: {', '.join(FACTORS)}")
        if any(w < 0 for w in value.values()):
            raise ValueError("weights must be ≥ 0")
        return value


class FeedbackOut(BaseModel):
    id: int
    message_id: int
    text: str
    lang: str
    field: str
    value: str | list[str]
    previous: str | list[str]
    action_id: int
    actor: str
    active: bool
    at: str


class FeedbackPage(BaseModel):
    items: list[FeedbackOut]


@router.get("/queue", response_model=QueuePage)
def list_queue(request: Request, store: StoreDep, community: str, principal: Moderator,
               status: Annotated[list[Status] | None, Query()] = None,
               kind: Kind | None = None, assignee: str | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50,
               offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
               refresh: Annotated[bool, Query(description="Rescore now even if the queue was "
                                              "scored moments ago.")] = False):
    """Items to triage, highest priority first; default statuses: open and acknowledged.

    The queue is rescored first when its last scoring is older than PULSE_QUEUE_REFRESH_S.
    """
    check_scope(principal, community)
    counts = request.app.state.refresher(store, community, datetime.now(UTC), force=refresh)
    items, total = store.queue_items(community, status or ["open", "acknowledged"], kind,
                                     assignee, limit, offset)
    return QueuePage(items=[QueueItemOut(**i) for i in items], total=total, refreshed=counts)


@router.get("/queue/{item_id}", response_model=QueueItemDetail, responses=responses(404))
def get_item(item_id: Id, store: StoreDep, principal: Moderator):
    """One item with what it is about and its full history of actions."""
    item = visible_or_404(principal, store.queue_item(item_id), f"queue item with id {item_id}")
    detail = item | {"actions": store.queue_actions(item_id=item_id)}
    if item["kind"] == "recurring":
        topic = store.topic(item["ref_id"])
        if topic is not None:
            detail["topic"] = TopicBrief(**topic)
            texts = store.texts(topic["representatives"])
            detail["quotes"] = [{"id": m, "text": texts[m]} for m in topic["representatives"]
                                if m in texts]
    else:
        message = store.get_message(item["ref_id"])
        detail["message"] = MessageOut(**message)
        detail["labels"] = actions.effective_labels(message, store.message_feedback(message["id"]))
    return QueueItemDetail(**detail)


@router.post("/queue/{item_id}/actions", response_model=ActionOut, status_code=201,
             responses=BODY_ERRORS | responses(404, 409))
def act_on_item(item_id: Id, payload: ActionIn, pipeline: PipelineDep, principal: Moderator):
    """Acknowledge, resolve, dismiss, reopen, assign, note, relabel, confirm a flag, or
    record an action on the member. Invalid transitions are 409 with the reason."""
    visible_or_404(principal, pipeline.store.queue_item(item_id), f"queue item with id {item_id}")
    return _run(lambda: actions.act(
        pipeline.store, item_id, principal.name, payload.action, _now(),
        assignee=payload.assignee, note=payload.note, member_action=payload.member_action,
        field=payload.field, value=payload.value, labels=actions.Labels.of(pipeline.classifier)))


@router.post("/queue/actions/{action_id}/undo", response_model=ActionOut, status_code=201,
             responses=BODY_ERRORS | responses(404, 409))
def undo_action(action_id: Id, payload: UndoIn, store: StoreDep, principal: Moderator):
    """Reverse an action (logged as an 'undo' action; nothing is deleted)."""
    visible_or_404(principal, store.queue_action(action_id), f"action with id {action_id}")
    return _run(lambda: actions.undo(store, action_id, principal.name, _now(), payload.note))


@router.post("/messages/{message_id}/relabel", response_model=ActionOut, status_code=201,
             responses=BODY_ERRORS | responses(404, 409))
def relabel_message(message_id: Id, payload: RelabelIn, pipeline: PipelineDep,
                    principal: Moderator):
    """A moderator's label for a message, stored as feedback for retraining."""
    visible_or_404(principal, pipeline.store.get_message(message_id),
                   f"message with id {message_id}")
    return _run(lambda: actions.relabel(
        pipeline.store, message_id, principal.name, payload.field, payload.value, _now(),
        actions.Labels.of(pipeline.classifier), payload.note))


@router.get("/feedback", response_model=FeedbackPage)
def list_feedback(store: StoreDep, community: str, principal: Moderator,
                  include_undone: bool = False,
                  after_id: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
                  limit: Annotated[int, Query(ge=1, le=5000)] = 1000):
    """Moderators' relabels with the message text (what a retrain folds in)."""
    check_scope(principal, community)
    rows = store.feedback(community, not include_undone, after_id, limit)
    return FeedbackPage(items=[FeedbackOut(**r) for r in rows])


@router.get("/communities/{community}/queue-settings", response_model=QueueSettings)
def get_queue_settings(community: str, store: StoreDep, principal: Reader):
    check_scope(principal, community)
    return QueueSettings(**load_config(store, community).to_dict())


@router.put("/communities/{community}/queue-settings", response_model=QueueSettings,
            responses=BODY_ERRORS)
def put_queue_settings(request: Request, community: str, payload: QueueSettings,
                       store: StoreDep, principal: Admin):
    """Weights and thresholds of this community's queue; missing weights count as 0."""
    check_scope(principal, community)
    config = QueueConfig(**payload.model_dump())
    store.set_queue_settings(community, config.to_dict(), _now())
    request.app.state.refresher.invalidate(community)
    return QueueSettings(**config.to_dict())


def _now() -> str:
    return format_ts(datetime.now(UTC))


def _run(call):
    try:
        return ActionOut(**call())
    except actions.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (actions.ActionRefused, Conflict) as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise InputError([{"loc": ["body"], "msg": str(exc)}]) from None
