"""The message model shared by the API, the importer and the pipeline.

Validation here is the single place that decides what a valid message is, so a message
is accepted or rejected the same way whether it arrives over HTTP or from a file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

# C0 controls except tab/newline/carriage return, DEL, lone surrogates. C1 controls
# (U+0080-U+009F) are accepted: real exports carry them as cp1252 mojibake (U+0092 for ').
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")



def _int_id(value: Any) -> Any:
    """Platforms send ids as strings or integers (Telegram); both become strings."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Id = Annotated[
    str,
    BeforeValidator(_int_id),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
]
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def check_text(value: str, max_chars: int | None) -> str:
    """The cleaned text, or ValueError saying what is wrong with it."""
    if not value.strip():
        raise ValueError("text is empty or whitespace only")
    if max_chars is not None and len(value) > max_chars:
        raise ValueError(f"text has {len(value)} characters; the limit is {max_chars}")
    bad = _BAD_CHARS.search(value)
    if bad:
        raise ValueError(
            f"text contains control character U+{ord(bad.group()):04X} at position {bad.start()}"
        )
    return value.strip()


class MessageIn(BaseModel):
    """One member message as sent by a community platform."""

    model_config = ConfigDict(extra="forbid")

    community: Id = Field(description="Community (server, workspace, group) the message is from.")
    channel: Id = Field(description="Channel, room or forum category.")
    author_id: Id = Field(description="Stable id of the member who wrote it.")
    external_id: Id = Field(description="The platform's id of the message; unique per community.")
    text: str = Field(description="Message text (limit: settings.max_text_chars characters).")
    ts: datetime = Field(
        description="When it was posted: ISO-8601 (no zone means UTC) or Unix seconds."
    )
    reply_to: Id | None = Field(None, description="external_id of the message it answers.")
    thread_id: Id | None = Field(None, description="Thread or topic id, if any.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Anything else, kept as is.")

    @field_validator("ts")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if value < EARLIEST or value.year > 2200:
            raise ValueError("timestamp out of range (1990 to 2200)")
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: str, info) -> str:
        # The configured limit comes as validation context; the API checks it after parsing.
        return check_text(value, (info.context or {}).get("max_text_chars"))
