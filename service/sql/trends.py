"""The store's SQL for trends and reports: counts per period, members, answers, topics.

A mixin of ``Store``. ``scope`` is (community, channel or None); periods are [since, until).
"""

from __future__ import annotations

BUCKETS = {
    "day": "substr(ts, 1, 10)",
    # ISO weeks start on Monday: the Sunday on or after the day, minus six days.
    "week": "date(substr(ts, 1, 10), 'weekday 0', '-6 days')",
}


def _scope(community: str, channel: str | None, alias: str = "") -> tuple[str, list]:
    p = f"{alias}." if alias else ""
    if channel is None:
        return f"{p}community = ?", [community]
    return f"{p}community = ? AND {p}channel = ?", [community, channel]


class TrendSQL:
    def activity(self, community: str, channel: str | None, since: str, until: str,
                 bucket: str) -> list[dict]:
        """Per bucket: messages, distinct members, counts per sentiment."""
        where, params = _scope(community, channel)
        rows = self._db().execute(
            f"SELECT {BUCKETS[bucket]} AS b, count(*), count(DISTINCT author_id),"
            " sum(sentiment = 'negative'), sum(sentiment = 'neutral'),"
            " sum(sentiment = 'positive'), sum(sentiment = 'uncertain')"
            f" FROM messages WHERE {where} AND ts >= ? AND ts < ? GROUP BY b ORDER BY b",
            [*params, since, until]).fetchall()
        return [{"start": r[0], "messages": r[1], "active_members": r[2],
                 "sentiment": {"negative": r[3], "neutral": r[4], "positive": r[5],
                               "uncertain": r[6]}} for r in rows]

    def distinct_members(self, community: str, channel: str | None, since: str,
                         until: str) -> int:
        where, params = _scope(community, channel)
        return self._db().execute(
            f"SELECT count(DISTINCT author_id) FROM messages WHERE {where} AND ts >= ?"
            " AND ts < ?", [*params, since, until]).fetchone()[0]

    def intent_mix(self, community: str, channel: str | None, since: str,
                   until: str) -> dict[str, int]:
        where, params = _scope(community, channel)
        return dict(self._db().execute(
            f"SELECT intent, count(*) FROM messages WHERE {where} AND ts >= ? AND ts < ?"
            " GROUP BY intent ORDER BY count(*) DESC, intent", [*params, since, until]).fetchall())

    def first_messages(self, community: str, channel: str | None, since: str,
                       until: str) -> list[str]:
        """Timestamps of members' first-ever messages that fall in the period."""
        where, params = _scope(community, channel)
        rows = self._db().execute(
            f"SELECT min(ts) AS first FROM messages WHERE {where} AND ts < ?"
            " GROUP BY author_id HAVING first >= ? ORDER BY first",
            [*params, until, since]).fetchall()
        return [r[0] for r in rows]

    def question_answers(self, community: str, channel: str | None, since: str,
                         until: str) -> list[tuple[str, str | None]]:
        """(asked at, first answer at or None) per question of the period.

        An answer is a later message by another member replying to the question or, for
        a question in a thread, any later message by another member in that thread.
        """
        where, params = _scope(community, channel, "q")
        rows = self._db().execute(  # two lookups, each on its own index
            "SELECT q.ts, (SELECT min(r.ts) FROM messages r INDEXED BY messages_reply"
            " WHERE r.community = q.community"
            " AND r.reply_to = q.external_id AND r.author_id != q.author_id AND r.ts >= q.ts),"
            " (SELECT min(r.ts) FROM messages r INDEXED BY messages_thread WHERE q.thread_id IS NOT NULL"
            " AND r.community = q.community AND r.thread_id = q.thread_id AND r.ts >= q.ts"
            " AND r.author_id != q.author_id)"
            f" FROM messages q WHERE {where} AND q.intent = 'question' AND q.ts >= ?"
            " AND q.ts < ? ORDER BY q.ts", [*params, since, until]).fetchall()
        return [(r[0], min((t for t in r[1:] if t is not None), default=None)) for r in rows]

    def topic_days(self, community: str, channel: str | None, since: str,
                   until: str) -> list[dict]:
        """Per topic and day: messages and negative messages (topics of any status)."""
        where, params = _scope(community, channel, "m")
        rows = self._db().execute(
            "SELECT m.topic_id, t.label, t.status, substr(m.ts, 1, 10), count(*),"
            " sum(m.sentiment = 'negative') FROM messages m JOIN topics t ON t.id = m.topic_id"
            f" WHERE {where} AND m.ts >= ? AND m.ts < ? GROUP BY m.topic_id, 4 ORDER BY 1, 4",
            [*params, since, until]).fetchall()
        return [{"topic_id": r[0], "label": r[1], "status": r[2], "day": r[3], "messages": r[4],
                 "negative": r[5]} for r in rows]

    def channels(self, community: str) -> list[str]:
        return [r[0] for r in self._db().execute(
            "SELECT DISTINCT channel FROM messages WHERE community = ? ORDER BY channel",
            [community]).fetchall()]

    def communities(self) -> list[str]:
        return [r[0] for r in self._db().execute(
            "SELECT DISTINCT community FROM messages ORDER BY community").fetchall()]

    def topic_quotes(self, topic_id: int, since: str, until: str, intents: tuple[str, ...],
                     limit: int = 3) -> list[dict]:
        """A topic's most confidently classified messages of the period with these intents."""
        marks = ",".join("?" * len(intents))
        rows = self._db().execute(
            "SELECT id, text, lang, intent, sentiment FROM messages WHERE topic_id = ?"
            f" AND ts >= ? AND ts < ? AND intent IN ({marks})"
            " ORDER BY json_extract(intent_probs, '$.' || intent) DESC, id LIMIT ?",
            [topic_id, since, until, *intents, limit]).fetchall()
        return [{"id": r[0], "text": r[1], "lang": r[2], "intent": r[3], "sentiment": r[4]}
                for r in rows]

    def topic_intents(self, community: str, since: str, until: str) -> dict[int, dict[str, int]]:
        """Per topic: message counts per intent in the period."""
        out: dict[int, dict[str, int]] = {}
        for topic_id, intent, n in self._db().execute(
                "SELECT topic_id, intent, count(*) FROM messages WHERE community = ?"
                " AND ts >= ? AND ts < ? AND topic_id IS NOT NULL GROUP BY 1, 2",
                [community, since, until]).fetchall():
            out.setdefault(topic_id, {})[intent] = n
        return out
