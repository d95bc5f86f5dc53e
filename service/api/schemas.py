"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.schemas import MessageIn

# SQLite integers are 64-bit: a larger id or offset can match nothing and would overflow the
# driver (a 500), so ids and offsets are bounded and anything beyond is a 422.
MAX_INT = 2**63 - 1
Id = Annotated[int, Path(ge=1, le=MAX_INT)]


class _OneOrMany(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _exactly_one(self):
        one, many = list(type(self).__pydantic_fields__)[:2]  # the first two fields
        if (getattr(self, one) is None) == (getattr(self, many) is None):
            raise ValueError(f"give exactly one of '{one}' or '{many}'")
        if getattr(self, many) is not None and not getattr(self, many):
            raise ValueError(f"'{many}' is empty")
        return self

    def items(self) -> list:
        one, many = list(type(self).__pydantic_fields__)[:2]  # the first two fields
        value = getattr(self, many)
        return value if value is not None else [getattr(self, one)]


class IngestRequest(_OneOrMany):
    message: MessageIn | None = Field(None, description="One message.")
    messages: list[MessageIn] | None = Field(None, description="A batch (limit: settings.max_batch).")


class ItemOut(BaseModel):
    index: int = Field(description="Position in the request.")
    community: str
    external_id: str
    id: int = Field(description="Stored id.")
    status: Literal["created", "duplicate"]


class IngestResponse(BaseModel):
    created: int
    duplicates: int
    items: list[ItemOut]


class ClassifyRequest(_OneOrMany):
    text: str | None = Field(None, description="One text.")
    texts: list[str] | None = Field(None, description="A batch (limit: settings.max_batch).")
    community: str | None = Field(None, min_length=1, max_length=200, description="Also "
                                  "predict this community's custom intent (see PUT "
                                  "/v1/communities/{c}/intents); the key must be for it.")


class Label(BaseModel):
    label: str = Field(description='Top label, or "uncertain" when its calibrated probability '
                       "is below the head's threshold (see models/<head>/config.json).")
    probs: dict[str, float] = Field(description="Calibrated probability per label.")


class Flag(BaseModel):
    score: float
    flagged: bool
    threshold: float


class CustomLabel(Label):
    version: int = Field(description="The community's custom intent head version.")


class ClassifyResult(BaseModel):
    lang: str = Field(description="zh, en, mixed or unknown.")
    sentiment: Label
    intent: Label
    flags: dict[str, Flag]
    custom_intent: CustomLabel | None = Field(
        None, description="With `community`: its custom intent (null when it has none).")


class ClassifyResponse(BaseModel):
    results: list[ClassifyResult]
    models: dict[str, str]


class MessageOut(BaseModel):
    id: int
    community: str
    channel: str
    author_id: str
    external_id: str
    text: str
    ts: str
    reply_to: str | None
    thread_id: str | None
    metadata: dict
    received_at: str
    lang: str
    sentiment: str
    sentiment_probs: dict[str, float]
    intent: str
    intent_probs: dict[str, float]
    flag_scores: dict[str, float]
    flags: list[str]
    models: dict[str, str]
    topic_id: int | None = Field(description="Current topic, or null when unassigned.")
    custom_intent: str | None = Field(None, description="The community's own intent label (or "
                                      '"uncertain"), predicted at ingest; null when the '
                                      "community had no custom intents then.")
    custom_intent_prob: float | None = Field(None, description="Its calibrated probability.")
    custom_intent_version: int | None = Field(None, description="The custom head version "
                                              "that predicted it.")


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end.")


class Health(BaseModel):
    status: Literal["ok"]
    models: dict[str, str]
    messages: int
