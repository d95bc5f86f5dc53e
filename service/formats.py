"""Chat-export readers: each turns an export into message records (dicts with the fields of
``MessageIn``), streaming, so memory stays flat on large files.

- Discord: the JSON written by DiscordChatExporter (guild, channel, messages[] with id,
  type, timestamp, timestampEdited, content, author, attachments, reference).
- Telegram: Telegram Desktop's single-chat ``result.json`` (name, id, messages[] with id,
  type, date_unixtime, from_id, text as a string or a list of strings and entities,
  reply_to_message_id, media fields).
- Slack: a workspace export zip (``channels.json``, ``users.json``, one folder per channel
  with one JSON array of messages per day; ``ts`` ids, ``thread_ts`` threads, subtypes).
- Any CSV or JSONL with a column mapping (``map_columns``).

System messages and attachment-only messages are skipped and counted, not rejected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DISCORD_CONTENT_TYPES = {"Default", "Reply", "ThreadStarterMessage"}
TELEGRAM_MEDIA = ("photo", "file", "media_type", "sticker_emoji", "poll", "location_information",
                  "contact_information")


@dataclass(frozen=True)
class Skip:
    """A record that is not a member's text message (system event, attachments only)."""

    reason: str


def sniff(path: Path) -> str | None:
    """discord, telegram or slack from a file's first bytes, else None."""
    if path.suffix.lower() == ".zip":
        import zipfile

        try:
            with zipfile.ZipFile(path) as zf:
                return "slack" if "channels.json" in zf.namelist() else None
        except zipfile.BadZipFile:
            return None
    with path.open("rb") as fh:
        head = fh.read(65536).decode("utf-8", errors="ignore")
    if '"guild"' in head and '"messages"' in head:
        return "discord"
    if '"text_entities"' in head or '"date_unixtime"' in head:
        return "telegram"
    return None


def _first(path: Path, prefix: str):
    """The first value at ``prefix`` (read from the start of the file only as far as needed)."""
    import ijson

    with path.open("rb") as fh:
        return next(ijson.items(fh, prefix, use_float=True), None)


def _messages(path: Path) -> Iterator[tuple[int, object]]:
    import ijson

    with path.open("rb") as fh:
        yield from enumerate(ijson.items(fh, "messages.item", use_float=True), start=1)


def discord(path: Path) -> Iterator[tuple[int, dict | str | Skip]]:
    guild = _first(path, "guild") or {}
    channel = _first(path, "channel") or {}
    community = str(guild.get("id") or guild.get("name") or "discord")
    channel_name = str(channel.get("name") or channel.get("id") or "general")
    for number, m in _messages(path):
        if not isinstance(m, dict):
            yield number, "message is not a JSON object"
            continue
        if m.get("type", "Default") not in DISCORD_CONTENT_TYPES:
            yield number, Skip(f"system message ({m.get('type')})")
            continue
        text = m.get("content") or ""
        if not text.strip():
            yield number, Skip("attachments only" if m.get("attachments") else "no text")
            continue
        author = m.get("author") or {}
        reference = m.get("reference") or {}
        yield number, {
            "community": community, "channel": channel_name,
            "author_id": author.get("id"), "external_id": m.get("id"), "text": text,
            "ts": m.get("timestamp"), "reply_to": reference.get("messageId"),
            "metadata": _clean({"author_name": author.get("nickname") or author.get("name"),
                                "is_bot": author.get("isBot"),
                                "edited_at": m.get("timestampEdited"),
                                "discord_type": m.get("type")}),
        }


def telegram(path: Path) -> Iterator[tuple[int, dict | str | Skip]]:
    chat_id = _first(path, "id")
    name = _first(path, "name")
    community = str(chat_id if chat_id is not None else name or "telegram")
    for number, m in _messages(path):
        if not isinstance(m, dict):
            yield number, "message is not a JSON object"
            continue
        if m.get("type") != "message":
            yield number, Skip(f"system message ({m.get('action') or m.get('type')})")
            continue
        text = telegram_text(m.get("text", ""))
        if not text.strip():
            media = any(k in m for k in TELEGRAM_MEDIA)
            yield number, Skip("attachments only" if media else "no text")
            continue
        yield number, {
            "community": community, "channel": str(name or community),
            "author_id": m.get("from_id"), "external_id": m.get("id"), "text": text,
            "ts": _telegram_time(m),
            "reply_to": m.get("reply_to_message_id"),
            "metadata": _clean({"author_name": m.get("from"),
                                "edited_at": m.get("edited"),
                                "forwarded_from": m.get("forwarded_from")}),
        }


def telegram_text(value) -> str:
    """Telegram's text is a string, or a list of strings and entities ({"type", "text"})."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", ""))
                       for part in value if isinstance(part, str | dict))
    return ""


def _telegram_time(m: dict):
    """``date_unixtime`` is UTC; ``date`` is the exporter's local time without a zone."""
    unix = m.get("date_unixtime")
    if unix is not None and str(unix).isdigit():
        return datetime.fromtimestamp(int(unix), tz=UTC).isoformat()
    return m.get("date")


def _clean(d: dict) -> dict:
    return {k: v for k, v in d.items() if v not in (None, "", False)}


SLACK_TEXT_SUBTYPES = {None, "thread_broadcast", "file_share", "me_message", "bot_message"}


def slack(path: Path) -> Iterator[tuple[int, dict | str | Skip]]:
    """Records from a Slack export zip, channel by channel, day by day (a stable order, so
    record numbers can resume an interrupted import)."""
    import json
    import zipfile

    with zipfile.ZipFile(path) as zf:
        names = sorted(n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".json"))
        users = _slack_users(zf)
        number = 0
        for name in names:
            channel = name.split("/")[0]
            try:
                day = json.loads(zf.read(name).decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                number += 1
                yield number, f"{name} is not valid JSON: {exc}"
                continue
            for m in day if isinstance(day, list) else []:
                number += 1
                yield number, _slack_record(m, channel, users, path.stem)


def _slack_users(zf) -> dict:
    import json

    try:
        return {u["id"]: u.get("real_name") or u.get("name")
                for u in json.loads(zf.read("users.json"))}
    except (KeyError, ValueError, TypeError):
        return {}


def _slack_record(m, channel: str, users: dict, community: str):
    if not isinstance(m, dict):
        return "message is not a JSON object"
    subtype = m.get("subtype")
    if m.get("type") != "message" or subtype not in SLACK_TEXT_SUBTYPES:
        return Skip(f"system message ({subtype or m.get('type')})")
    text = m.get("text") or ""
    if not text.strip():
        return Skip("attachments only" if m.get("files") else "no text")
    ts, thread = m.get("ts"), m.get("thread_ts")
    reply = thread if thread and thread != ts else None
    author = m.get("user") or m.get("bot_id")
    return {
        "community": community, "channel": channel, "author_id": author,
        "external_id": f"{channel}/{ts}" if ts else None, "text": text,
        "ts": _slack_time(ts), "thread_id": thread,
        "reply_to": f"{channel}/{reply}" if reply else None,
        "metadata": _clean({"author_name": users.get(author) or m.get("username"),
                            "is_bot": subtype == "bot_message" or bool(m.get("bot_id")),
                            "edited_at": _slack_time((m.get("edited") or {}).get("ts"))}),
    }


def _slack_time(ts):
    try:
        return datetime.fromtimestamp(float(ts), tz=UTC).isoformat() if ts else None
    except (TypeError, ValueError):
        return ts  # left for validation to reject with its position


def map_columns(record: dict, mapping: dict[str, str]) -> dict:
    """Rename a record's columns to message fields (``mapping``: field -> column); the
    columns not mapped are kept in ``metadata``."""
    used = set(mapping.values())
    out = {field: record.get(column) for field, column in mapping.items()
           if record.get(column) not in (None, "")}
    extra = {k: v for k, v in record.items() if k not in used and v not in (None, "")}
    if extra:
        out["metadata"] = {**extra, **(out.get("metadata") or {})}
    return out
