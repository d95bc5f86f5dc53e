"""Per-community PII redaction: which kinds are replaced before a message is stored and
embedded (GET for moderators and operators, PUT for admins)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import Admin, PipelineDep, Reader, StoreDep, check_scope
from service.api.errors import BODY_ERRORS
from service.nlp.redact import KINDS, PLACEHOLDERS, parse_kinds
from service.store import format_ts

router = APIRouter(prefix="/v1", tags=["redaction"])

# The same kinds as service.nlp.redact.KINDS (a test keeps them equal).
Kind = Literal["email", "phone", "url", "wechat", "qq", "id_number", "card"]


class RedactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: list[Kind] | None = Field(
        description="Kinds to replace in new messages; [] or null turns redaction off.")


class RedactionOut(BaseModel):
    community: str
    enabled: bool
    kinds: list[Kind] = Field(description="Kinds replaced in new messages (empty when off).")
    placeholders: dict[str, str] = Field(description="What each enabled kind becomes.")
    available: list[Kind] = Field(description="Every kind this service can redact.")


@router.get("/communities/{community}/redaction", response_model=RedactionOut)
def get_redaction(community: str, store: StoreDep, principal: Reader):
    check_scope(principal, community)
    return _out(community, store.redaction_kinds(community))


@router.put("/communities/{community}/redaction", response_model=RedactionOut,
            responses=BODY_ERRORS)
def put_redaction(community: str, payload: RedactionIn, store: StoreDep, pipeline: PipelineDep,
                  principal: Admin):
    """Applies to messages ingested from now on (in this process at once, in other worker
    processes within a few seconds); messages already stored are not rewritten."""
    check_scope(principal, community)
    kinds = parse_kinds(payload.kinds)
    store.set_redaction_kinds(community, kinds, format_ts(datetime.now(UTC)))
    pipeline.forget_redaction(community)
    return _out(community, kinds)


def _out(community: str, kinds: list[str] | None) -> RedactionOut:
    kinds = kinds or []
    return RedactionOut(community=community, enabled=bool(kinds), kinds=kinds,
                        placeholders={k: PLACEHOLDERS[k] for k in kinds}, available=list(KINDS))
