"""Topics: list, detail, messages, semantic search, and the recluster job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import (
    Admin,
    PipelineDep,
    Reader,
    SettingsDep,
    StoreDep,
    check_scope,
    visible_or_404,
)
from service.api.errors import BODY_ERRORS, InputError, check_cursor, responses
from service.api.schemas import MAX_INT, Id, MessageOut, MessagePage
from service.jobs import JobBusy
from service.schemas import check_text
from service.store import MessageFilter
from service.topics.search import similar_messages
from service.topics.views import reference_day, topic_view

router = APIRouter(prefix="/v1", tags=["topics"])


class Quote(BaseModel):
    id: int
    text: str


class LineageEvent(BaseModel):
    run_id: int
    at: str | None
    event: Literal["new", "continued", "grown", "shrunk", "merged", "split", "gone"]
    related: list[int]
    size_before: int | None
    size_after: int | None


class Trend(BaseModel):
    last_7_days: int
    weekly_mean_before: float
    p_value: float = Field(description="P(X ≥ last 7 days) for a Poisson with the weekly mean "
                           "of the 4 weeks before (floored at 1).")
    emerging: bool = Field(description="Spiking or new: p < 0.001 and ≥ 5 messages in the last "
                           "7 days (the rule of /v1/trends).")


class TopicOut(BaseModel):
    id: int
    status: Literal["active", "merged", "gone"]
    label: str
    keywords: list[str]
    size: int
    members: int = Field(description="Distinct authors.")
    first_seen: str | None
    last_seen: str | None
    sentiment_mix: dict[str, int]
    intent_mix: dict[str, int]
    trend: Trend
    quotes: list[Quote] = Field(description="Most representative messages (closest to centre).")
    lineage: list[LineageEvent]
    per_day: dict[str, int] | None = None


class TopicList(BaseModel):
    items: list[TopicOut]


class ReclusterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    community: str = Field(min_length=1)
    days: int = Field(30, ge=1, le=365, description="Window length, ending at `until`.")
    until: datetime | None = Field(None, description="Window end (default: now).")


class RunOut(BaseModel):
    id: int
    community: str
    status: Literal["running", "done", "failed"]
    window_start: str
    window_end: str
    n_messages: int | None
    n_topics: int | None
    unassigned: int | None
    started_at: str
    finished_at: str | None
    error: str | None


class Similar(BaseModel):
    score: float
    message: MessageOut


class SearchResult(BaseModel):
    items: list[Similar]


@router.get("/topics", response_model=TopicList)
def list_topics(store: StoreDep, community: str, principal: Reader,
                status: Literal["active", "merged", "gone", "all"] = "active"):
    """A community's topics, largest first, with their statistics and lineage."""
    check_scope(principal, community)
    today = reference_day(store, community)
    rows = store.topics(community, None if status == "all" else status)
    return TopicList(items=[TopicOut(**topic_view(store, r, today)) for r in rows])


@router.get("/topics/{topic_id}", response_model=TopicOut, responses=responses(404))
def get_topic(topic_id: Id, store: StoreDep, principal: Reader):
    row = _topic(store, topic_id, principal)
    return TopicOut(**topic_view(store, row, reference_day(store, row["community"]), detail=True))


@router.get("/topics/{topic_id}/messages", response_model=MessagePage, responses=responses(404))
def topic_messages(topic_id: Id, store: StoreDep, principal: Reader,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None):
    row = _topic(store, topic_id, principal)
    check_cursor(cursor)
    rows, nxt = store.list_messages(MessageFilter(community=row["community"], topic_id=topic_id),
                                    limit=limit, cursor=cursor)
    return MessagePage(items=[MessageOut(**r) for r in rows], next_cursor=nxt)


@router.post("/topics/recluster", response_model=RunOut, status_code=202,
             responses=BODY_ERRORS | responses(409))
def start_recluster(payload: ReclusterRequest, request: Request, store: StoreDep,
                    principal: Admin):
    """Start a recluster of one community in the background; poll the run for its end."""
    check_scope(principal, payload.community)
    until = payload.until or datetime.now(UTC)
    try:
        run_id = request.app.state.jobs.start_recluster(payload.community, until, payload.days)
    except JobBusy as exc:
        raise HTTPException(409, str(exc)) from None
    return RunOut(**store.get_run(run_id))


@router.get("/topics/runs/{run_id}", response_model=RunOut, responses=responses(404))
def get_run(run_id: Id, store: StoreDep, principal: Reader):
    run = visible_or_404(principal, store.get_run(run_id), f"recluster run with id {run_id}")
    return RunOut(**run)


@router.get("/search", response_model=SearchResult, responses=responses(404))
def search(pipeline: PipelineDep, settings: SettingsDep, community: str, principal: Reader,
           text: str | None = None,
           message_id: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
           limit: Annotated[int, Query(ge=1, le=100)] = 10):
    """Messages of a community most similar to a text or to a stored message."""
    check_scope(principal, community)
    store = pipeline.store
    if (text is None) == (message_id is None):
        raise InputError([{"loc": ["query"], "msg": "give exactly one of 'text' or 'message_id'"}])
    if text is not None:
        try:
            text = check_text(text, settings.max_text_chars)
        except ValueError as exc:
            raise InputError([{"loc": ["query", "text"], "msg": str(exc)}]) from None
        vector = pipeline.embed([text])[0]
    else:
        vector = store.embedding(message_id, community)
        if vector is None:
            raise HTTPException(404, f"no message {message_id} in community {community!r}")
    found = similar_messages(store, community, vector, limit, exclude=message_id)
    return SearchResult(items=[Similar(score=s, message=MessageOut(**store.get_message(mid)))
                               for mid, s in found])


def _topic(store, topic_id: int, principal) -> dict:
    return visible_or_404(principal, store.topic(topic_id), f"topic with id {topic_id}")
