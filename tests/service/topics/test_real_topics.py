"""Real default embedder: a mixed-language recurring issue becomes one topic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.models_setup import load_classifier
from service.pipeline import Pipeline
from service.schemas import MessageIn
from service.settings import Settings
from service.store import Store
from service.topics.recluster import recluster

pytestmark = pytest.mark.slow

ISSUES = {
    "refund": ["退款申请提交了一周还没到账", "my refund still has not arrived after two weeks",
               "退款什么时候能到账啊", "requested a refund 10 days ago, nothing yet",
               "退款进度一直显示处理中", "when will I get my refund back?",
               "refund 申请了好久都没有到账", "still waiting on my refund, any update?"],
    "crash": ["更新之后打开就闪退", "the app crashes right after the splash screen",
              "新版本一打开就崩溃", "app keeps crashing since the last update",
              "iOS 上启动就闪退了", "crash on launch after updating to 3.2",
              "升级后 app 一直 crash", "it force closes every time I open it"],
    "darkmode": ["希望增加夜间模式", "please add a dark mode", "能不能出个深色模式",
                 "dark mode would be great for night use", "求一个暗黑主题",
                 "any plans for a dark theme?", "夜间模式什么时候上线", "we need dark mode badly"],
}


def test_mixed_language_issues_cluster_into_topics(tmp_path):
    pipeline = Pipeline(load_classifier(Settings()), Store(tmp_path / "t.db"))
    start = datetime(2026, 11, 1, tzinfo=UTC)
    msgs = [MessageIn(community="c", channel="help", author_id=f"u{i}", external_id=f"{name}-{r}-{i}",
                      text=f"{text}" + ("" if r == 0 else " " + "!" * r),
                      ts=start + timedelta(hours=i))
            for name, texts in ISSUES.items() for i, text in enumerate(texts) for r in range(3)]
    pipeline.ingest(msgs)
    summary = recluster(pipeline.store, "c", until=start + timedelta(days=2), log=lambda m: None)
    assert summary.n_topics >= 3 and summary.unassigned <= len(msgs) * 0.15
    rows = pipeline.store._db().execute(
        "SELECT external_id, topic_id FROM messages").fetchall()
    by_issue: dict[str, set] = {}
    for external_id, topic in rows:
        by_issue.setdefault(external_id.split("-")[0], set()).add(topic)
    # each issue, in both languages, is mostly one topic, and issues do not share topics
    main = {name: max(topics, key=lambda t: sum(1 for e, tt in rows if tt == t and e.startswith(name)))
            for name, topics in by_issue.items()}
    assert len(set(main.values())) == 3 and None not in main.values()
    new = pipeline.ingest([MessageIn(community="c", channel="help", author_id="x", external_id="n1",
                                     text="退款到现在还没收到，怎么回事", ts=start)])
    assert pipeline.store.get_message(new[0].id)["topic_id"] == main["refund"]
