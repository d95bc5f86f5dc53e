"""POST /v1/messages (ingest) and GET /v1/messages (list, filter, paginate)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from service.api.deps import Ingester, PipelineDep, Reader, SettingsDep, StoreDep, check_scope, visible_or_404
from service.api.errors import BODY_ERRORS, check_cursor, check_limits, responses
from service.api.limits import gated
from service.api.schemas import Id, IngestRequest, IngestResponse, ItemOut, MessageOut, MessagePage
from service.store import MessageFilter, format_ts

router = APIRouter(prefix="/v1/messages", tags=["messages"])


@router.post("", response_model=IngestResponse, responses=BODY_ERRORS,
             dependencies=[Depends(gated("ingest"))])
def ingest(payload: IngestRequest, pipeline: PipelineDep, settings: SettingsDep,
           request: Request, principal: Ingester):
    """Embed, classify and store messages; a (community, external_id) is stored once.

    The request is all-or-nothing: one invalid item rejects the batch, the error names
    the item's index, and nothing of the batch is stored.
    """
    messages = payload.items()
    locs = ([["body", "message", "text"]] if payload.message is not None
            else [["body", "messages", i, "text"] for i in range(len(messages))])
    check_limits([m.text for m in messages], locs, ["body", "messages"], settings)
    for m in messages:
        check_scope(principal, m.community)
    results = pipeline.ingest(messages)
    items = [ItemOut(index=i, community=r.community, external_id=r.external_id, id=r.id,
                     status=r.status) for i, r in enumerate(results)]
    created = sum(1 for r in results if r.status == "created")
    request.app.state.metrics.ingested.inc(created)
    request.app.state.metrics.duplicates.inc(len(results) - created)
    return IngestResponse(created=created, duplicates=len(results) - created, items=items)


@router.get("", response_model=MessagePage)
def list_messages(
    store: StoreDep,
    principal: Reader,
    community: str | None = None,
    channel: str | None = None,
    since: Annotated[datetime | None, Query(description="Inclusive, ISO-8601.")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive, ISO-8601.")] = None,
    sentiment: Literal["negative", "neutral", "positive", "uncertain"] | None = None,
    intent: str | None = None,
    flag: Literal["abuse", "spam"] | None = None,
    lang: Literal["zh", "en", "mixed", "unknown"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
):
    """Stored messages with their predictions, newest first."""
    check_cursor(cursor)
    if community is not None:
        check_scope(principal, community)
    filters = MessageFilter(
        community=community, communities=principal.scoped, channel=channel,
        since=format_ts(since) if since else None, until=format_ts(until) if until else None,
        sentiment=sentiment, intent=intent, flag=flag, lang=lang,
    )
    rows, next_cursor = store.list_messages(filters, limit=limit, cursor=cursor)
    return MessagePage(items=[MessageOut(**r) for r in rows], next_cursor=next_cursor)


@router.get("/{message_id}", response_model=MessageOut, responses=responses(404))
def get_message(message_id: Id, store: StoreDep, principal: Reader):
    row = visible_or_404(principal, store.get_message(message_id), f"message with id {message_id}")
    return MessageOut(**row)
