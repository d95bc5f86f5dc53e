"""ingest(batch): redact the new messages (if the community asks) → embed once → heads →
store. Classify without storing (and without redacting: nothing is kept).

The route handlers, the importer and the CLI all call these functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from service.nlp.batcher import MicroBatcher
from service.nlp.classifier import Classifier, Prediction
from service.nlp.custom import CustomHeads, CustomIntent
from service.nlp.redact import Redactor
from service.schemas import MessageIn
from service.store import Checkpoint, NewMessage, Store, format_ts
from service.topics.assign import TopicAssigner


@dataclass(frozen=True)
class ItemResult:
    external_id: str
    community: str
    id: int
    status: str  # "created" | "duplicate"


class Pipeline:
    # How long a community's redaction setting is trusted before it is read again: a PUT
    # through this process applies at once; a change from the CLI or another worker
    # process applies within this many seconds.
    redaction_ttl_s = 5.0

    def __init__(self, classifier: Classifier, store: Store,
                 assigner: TopicAssigner | None = None, batching: bool = False,
                 max_batch: int = 64, max_wait_ms: float = 0.0, timeout_s: float = 30.0):
        self.classifier = classifier
        self.timeout_s = timeout_s  # longest wait for a batched model call (TimeoutError)
        self.store = store
        self.assigner = assigner or TopicAssigner(store)
        self.custom = CustomHeads(store, classifier.embedder.name)  # active head per community
        self._redactors: dict[str, tuple[float, Redactor | None]] = {}
        # With batching, concurrent requests share model calls: classify batches embed +
        # heads, ingest batches the embedding (its heads run on the request's new rows).
        self._classify = self._embed = None
        if batching:
            self._classify = MicroBatcher(classifier.classify, max_batch, max_wait_ms)
            self._embed = MicroBatcher(classifier.embed, max_batch, max_wait_ms)

    def queue_depth(self) -> int:
        """Requests waiting for a model call (0 without batching)."""
        return sum(b.pending for b in (self._classify, self._embed) if b is not None)

    def close(self) -> None:
        for batcher in (self._classify, self._embed):
            if batcher is not None:
                batcher.close()

    def embed(self, texts: list[str]):
        if not texts or self._embed is None:
            return self.classifier.embed(texts)
        return self._embed(texts, timeout=self.timeout_s)

    def classify(self, texts: list[str]) -> list[Prediction]:
        """Stateless: embed once, then every head."""
        if not texts or self._classify is None:
            return self.classifier.classify(texts)
        return list(self._classify(texts, timeout=self.timeout_s))

    def classify_for(self, texts: list[str], community: str
                     ) -> tuple[list[Prediction], list[CustomIntent] | None]:
        """``classify`` plus the community's custom intents (None when it has no custom
        head), both from one embedding of the texts."""
        head = self.custom.get(community)
        if head is None or not texts:
            return self.classify(texts), None
        vectors = self.embed(texts)
        return self.classifier.predict(texts, vectors), head.predict(vectors, texts)

    def redactor(self, community: str) -> Redactor | None:
        """The community's redactor (None when redaction is off), cached briefly."""
        now = time.monotonic()
        cached = self._redactors.get(community)
        if cached is None or now - cached[0] > self.redaction_ttl_s:
            kinds = self.store.redaction_kinds(community)
            cached = (now, Redactor(kinds) if kinds else None)
            self._redactors[community] = cached
        return cached[1]

    def forget_redaction(self, community: str) -> None:
        """Read the community's setting again on its next message (after a change)."""
        self._redactors.pop(community, None)

    def ingest(
        self, messages: list[MessageIn], checkpoint: Checkpoint | None = None
    ) -> list[ItemResult]:
        """Store each message once per (community, external_id); results in input order.

        Messages already stored are not embedded again. New messages of a community with
        redaction on are redacted first (text and string values of metadata), so neither the
        stored text nor the embedding ever sees the original. The whole batch (and the
        import checkpoint, if any) is written in one transaction.
        """
        ids: dict[tuple[str, str], int] = {}
        for community in sorted({m.community for m in messages}):
            wanted = [m.external_id for m in messages if m.community == community]
            for external_id, mid in self.store.known_ids(community, wanted).items():
                ids[(community, external_id)] = mid
        todo: dict[tuple[str, str], MessageIn] = {}
        for m in messages:
            key = (m.community, m.external_id)
            if key not in ids:
                todo.setdefault(key, m)  # the first of in-batch repeats wins
        new = [self._redact(m) for m in todo.values()]
        vectors = self.embed([m.text for m in new])
        predictions = self.classifier.predict([m.text for m in new], vectors)
        topics = self._topics(new, vectors)
        versions = self.classifier.versions
        rows = [_new_message(m, p, versions, v, t)
                for m, p, v, t in zip(new, predictions, vectors, topics, strict=True)]
        rows = self._with_custom_intents(rows, vectors)
        created = set()
        if checkpoint is not None:
            checkpoint = replace(checkpoint, known=len(messages) - len(rows))
        stored = self.store.insert_messages(rows, checkpoint=checkpoint)
        for key, (mid, is_new) in zip(todo, stored, strict=True):
            ids[key] = mid
            if is_new:
                created.add(key)
        results = []
        for m in messages:
            key = (m.community, m.external_id)
            status = "created" if key in created else "duplicate"
            created.discard(key)  # a repeat later in the same batch is a duplicate
            results.append(ItemResult(m.external_id, m.community, ids[key], status))
        return results

    def _redact(self, m: MessageIn) -> MessageIn:
        """The message with PII replaced; metadata["redacted"] counts what was replaced."""
        redactor = self.redactor(m.community)
        if redactor is None:
            return m
        done = redactor.redact(m.text)
        metadata, counts = redactor.redact_json(m.metadata)
        for kind, n in done.counts.items():
            counts[kind] = counts.get(kind, 0) + n
        if not counts:
            return m
        return m.model_copy(update={"text": done.text, "metadata": metadata | {"redacted": counts}})

    def _with_custom_intents(self, rows: list[NewMessage], vectors) -> list[NewMessage]:
        """Each row with its community's custom intent, from the vectors already computed."""
        out = list(rows)
        for community in {r.community for r in rows}:
            head = self.custom.get(community)
            if head is None:
                continue
            idx = [i for i, r in enumerate(rows) if r.community == community]
            found = head.predict(vectors[idx], [rows[i].text for i in idx])
            for i, c in zip(idx, found, strict=True):
                out[i] = replace(rows[i], custom_intent=c.label, custom_intent_prob=c.prob,
                                 custom_intent_version=c.version)
        return out

    def _topics(self, messages: list[MessageIn], vectors) -> list[int | None]:
        """Current topic of each message (one matrix product per community)."""
        out: list[int | None] = [None] * len(messages)
        for community in {m.community for m in messages}:
            rows = [i for i, m in enumerate(messages) if m.community == community]
            for i, topic in zip(rows, self.assigner.assign(community, vectors[rows]), strict=True):
                out[i] = topic
        return out


def _new_message(m: MessageIn, p: Prediction, versions: dict, vector, topic) -> NewMessage:
    return NewMessage(
        community=m.community, channel=m.channel, author_id=m.author_id,
        external_id=m.external_id, text=m.text, ts=format_ts(m.ts), reply_to=m.reply_to,
        thread_id=m.thread_id, metadata=m.metadata, lang=p.lang, sentiment=p.sentiment,
        sentiment_probs=p.sentiment_probs, intent=p.intent, intent_probs=p.intent_probs,
        flag_scores=p.flag_scores, flags=p.flags, models=versions,
        embedder=versions["embedder"], embedding=vector, topic_id=topic,
    )
