"""Chat-export readers: each turns an export into message records (dicts with the fields of
``MessageIn``), streaming, so memory stays flat on large files.

- Discord: the JSON written by DiscordChatExporter (guild, channel, messages[] with id,
  type, timestamp, timestampEdited, content, author, attachments, reference).
- Telegram: Telegram Desktop's single-chat ``result.json`` (name, id, messages[] with id,
  type, date_unixtime, from_id, text as a string or a list of strings and entities,
  reply_to_message_id, media fields).
- Slack: a workspace export zip (``channels.json``, ``users.json``, one folder per channel
  with one JSON array of messages per day; ``ts`` ids, ``thread_ts`` threads, subtypes).
- Discourse: posts JSON as its API returns it (``/t/{id}.json`` and ``/t/{id}/posts.json``:
  ``post_stream.posts``; ``/posts.json``: ``latest_posts``; or a plain list of posts), with
  ``cooked`` HTML turned into plain text (``raw`` markdown when present).
- Any CSV or JSONL with a column mapping (``map_columns``).

System messages and attachment-only messages are skipped and counted, not rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

DISCORD_CONTENT_TYPES = {"Default", "Reply", "ThreadStarterMessage"}
TELEGRAM_MEDIA = ("photo", "file", "media_type", "sticker_emoji", "poll", "location_information",
                  "contact_information")


@dataclass(frozen=True)
class Skip:
    """A record that is not a member's text message (system event, attachments only)."""

    reason: str


def sniff(path: Path) -> str | None:
    """discord, telegram, discourse or slack from a file's first bytes, else None."""
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
    if ('"post_stream"' in head or '"latest_posts"' in head
            or ('"post_number"' in head and '"topic_id"' in head)):
        return "discourse"
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


DISCOURSE_POST_TYPES = {1: "regular", 2: "moderator_action", 3: "small_action", 4: "whisper"}
DISCOURSE_POSTS = {"post_stream": "post_stream.posts.item", "latest_posts": "latest_posts.item"}
# posts of a file indexed to link replies by post id (16 bytes each): bounded so memory
# stays flat on a huge file; replies to posts beyond it keep "topic_id#post_number"
DISCOURSE_REPLY_INDEX = 100_000


def discourse(path: Path) -> Iterator[tuple[int, dict | str | Skip]]:
    """Posts of a Discourse API response. Records carry no community: the JSON does not
    name its site, so the importer asks for one.

    Channel is the category (``category-<id>``) when the post or the topic says it, else
    the topic slug (``/t/{id}/posts.json`` carries no category); thread_id is the topic id;
    reply_to is the id of the post answered, found in the same file, else
    ``topic_id#post_number``.
    """
    import ijson

    prefix = discourse_prefix(path)
    topic = _discourse_topic(path) if prefix.startswith("post_stream") else {}
    numbers = _discourse_numbers(path, prefix)
    with path.open("rb") as fh:
        for number, post in enumerate(ijson.items(fh, prefix, use_float=True), start=1):
            yield number, (_discourse_record(post, topic, numbers) if isinstance(post, dict)
                           else "post is not a JSON object")


def discourse_prefix(path: Path) -> str:
    """Where the posts are: ``item`` (a list), ``post_stream.posts.item`` or
    ``latest_posts.item``, found from the top-level keys whatever their order."""
    import ijson

    with path.open("rb") as fh:
        for prefix, event, value in ijson.parse(fh):
            if prefix == "" and event == "start_array":
                return "item"
            if prefix == "" and event == "map_key" and value in DISCOURSE_POSTS:
                return DISCOURSE_POSTS[value]
    raise ValueError("not Discourse posts JSON: expected post_stream.posts (/t/{id}.json), "
                     "latest_posts (/posts.json) or a list of posts")


def _discourse_topic(path: Path) -> dict:
    """The topic's own fields of ``/t/{id}.json`` (they follow the posts in the file)."""
    import ijson

    wanted = {"category_id", "title", "slug"}
    found: dict = {}
    with path.open("rb") as fh:
        for prefix, event, value in ijson.parse(fh):
            if prefix in wanted and event in ("number", "string"):
                found[prefix] = value
                if len(found) == len(wanted):
                    break
    return found


def _discourse_numbers(path: Path, prefix: str) -> ReplyIndex:
    import ijson

    index = ReplyIndex()
    with path.open("rb") as fh:
        for post in ijson.items(fh, prefix, use_float=True):
            if len(index) >= DISCOURSE_REPLY_INDEX:
                break
            if isinstance(post, dict):
                index.add(post.get("topic_id"), post.get("post_number"), post.get("id"))
    return index.freeze()


class ReplyIndex:
    """(topic_id, post_number) -> post id in two int64 arrays (16 bytes a post, not the
    ~150 of a dict), searched after sorting; the first post of a repeated key wins."""

    def __init__(self) -> None:
        from array import array

        self._keys, self._ids = array("q"), array("q")

    def __len__(self) -> int:
        return len(self._keys)

    @staticmethod
    def _key(topic_id, number) -> int | None:
        if (type(topic_id) is int and type(number) is int and 0 <= topic_id < 2**38
                and 0 <= number < 2**24):
            return topic_id << 24 | number
        return None

    def add(self, topic_id, number, post_id) -> None:
        key = self._key(topic_id, number)
        if key is not None and type(post_id) is int and abs(post_id) < 2**62:
            self._keys.append(key)
            self._ids.append(post_id)

    def freeze(self) -> ReplyIndex:
        import numpy as np

        keys = np.frombuffer(self._keys, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        self._sorted, self._values = keys[order], np.frombuffer(self._ids, np.int64)[order]
        del keys
        self._keys = self._ids = None  # the sorted copies are all that is kept
        return self

    def get(self, topic_id, number) -> int | None:
        key = self._key(topic_id, number)
        if key is None:
            return None
        i = int(self._sorted.searchsorted(key))
        if i < len(self._sorted) and self._sorted[i] == key:
            return int(self._values[i])
        return None


def _discourse_record(p: dict, topic: dict, numbers: ReplyIndex) -> dict | Skip:
    post_type = p.get("post_type", 1)
    if post_type != 1:
        return Skip(f"system message ({DISCOURSE_POST_TYPES.get(post_type, post_type)})")
    if p.get("deleted_at") or p.get("user_deleted"):
        return Skip("deleted post")
    cooked = CookedText.convert(p.get("cooked") or "")
    text = discourse_raw_text(p["raw"]) if isinstance(p.get("raw"), str) else cooked.text
    if not text.strip():
        return Skip("attachments only" if cooked.media else "no text")
    topic_id, answered = p.get("topic_id"), p.get("reply_to_post_number")
    reply_to = None
    if answered is not None:
        reply_to = numbers.get(topic_id, answered) or f"{topic_id}#{answered}"
    category = p.get("category_id", topic.get("category_id"))
    user_id = p.get("user_id")
    edited = (p.get("version") or 1) > 1 or (
        "version" not in p and p.get("updated_at") not in (None, p.get("created_at")))
    return {
        "channel": (f"category-{category}" if category is not None
                    else p.get("topic_slug") or topic.get("slug") or f"topic-{topic_id}"),
        "author_id": user_id if user_id is not None else p.get("username"),
        "external_id": p.get("id"), "text": text, "ts": p.get("created_at"),
        "thread_id": topic_id, "reply_to": reply_to,
        "metadata": _clean({"author_name": p.get("name") or p.get("username"),
                            "username": p.get("username"), "post_number": p.get("post_number"),
                            "topic_title": p.get("topic_title") or topic.get("title"),
                            "category_id": category,
                            "edited_at": p.get("updated_at") if edited else None,
                            "hidden": p.get("hidden"), "staff": p.get("staff"),
                            "is_bot": isinstance(user_id, int) and user_id < 0}),
    }


_QUOTE_BBCODE = re.compile(r"\[quote(?:=[^\]]*)?\](?:(?!\[quote).)*?\[/quote\]\s*",
                           re.DOTALL | re.IGNORECASE)
_UPLOAD_IMAGE = re.compile(r"!\[[^\]]*\]\((?:upload://|/uploads/)[^)]*\)")


def discourse_raw_text(raw: str) -> str:
    """Markdown source without quoted posts (innermost first) and uploaded images."""
    while True:
        stripped = _QUOTE_BBCODE.sub("", raw)
        if stripped == raw:
            break
        raw = stripped
    return _UPLOAD_IMAGE.sub("", raw).strip()


_BLOCK_TAGS = {"p", "div", "li", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4",
               "h5", "h6", "tr", "table", "details", "summary", "aside", "hr"}
_VOID_TAGS = {"br", "img", "hr", "input", "source", "meta", "link", "wbr", "area", "col",
              "embed", "track"}


@dataclass
class _Converted:
    text: str
    media: bool  # images or attachments were seen (a post of only those has no text)


class CookedText(HTMLParser):
    """Discourse's cooked HTML as plain text: paragraphs and <br> become line breaks,
    entities are unescaped, quoted posts (<aside class="quote">), image captions and
    attachment links are dropped, emoji images become their :code:, oneboxes their link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.media = False
        self._skip = 0  # depth inside a dropped element
        self._pre = 0

    @classmethod
    def convert(cls, html: str) -> _Converted:
        parser = cls()
        parser.feed(html)
        parser.close()
        lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
        return _Converted("\n".join(line for line in lines if line), parser.media)

    def handle_starttag(self, tag, attrs):
        if self._skip:
            if tag not in _VOID_TAGS:
                self._skip += 1
            return
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        if tag == "img":
            if "emoji" in classes and a.get("alt"):
                self.parts.append(f" {a['alt']} ")
            else:
                self.media = True
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "aside" and "onebox" in classes:
            self._drop(f"\n{a.get('data-onebox-src') or ''}\n")
        elif ((tag == "aside" and "quote" in classes) or (tag == "div" and "meta" in classes)
              or (tag == "a" and "attachment" in classes) or tag in ("script", "style")):
            if tag == "a":
                self.media = True
            self._drop("\n" if tag == "aside" else "")
        elif tag in _BLOCK_TAGS:
            if tag == "pre":
                self._pre += 1
            self.parts.append("\n")

    def _drop(self, replacement: str) -> None:
        self.parts.append(replacement)
        self._skip = 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self._skip and tag not in _VOID_TAGS:  # a self-closed element ends here
            self._skip -= 1

    def handle_endtag(self, tag):
        if self._skip:
            if tag not in _VOID_TAGS:
                self._skip -= 1
            return
        if tag in _BLOCK_TAGS:
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:  # outside <pre>, source line breaks are only spaces
            self.parts.append(data if self._pre else _SPACES.sub(" ", data))


_SPACES = re.compile(r"\s+")


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
