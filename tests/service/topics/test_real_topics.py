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
               "refund 申请了好久都没有到账", "still waiting on my refund, any update?",
               "申请退款半个月了还没退回来", "refund was approved but the money never came",
               "客服说退款已经处理了但我没收到钱", "how long does a refund usually take?",
               "退款到底要等多久", "got an email saying refund issued, bank shows nothing",
               "我的退款是不是被卡住了", "is anyone else still waiting for refunds?"],
    "crash": ["更新之后打开就闪退", "the app crashes right after the splash screen",
              "新版本一打开就崩溃", "app keeps crashing since the last update",
              "iOS 上启动就闪退了", "crash on launch after updating to 3.2",
              "升级后 app 一直 crash", "it force closes every time I open it",
              "安卓手机打开app直接闪退", "since yesterday's update the app won't even open",
              "一点开就闪退，重装也没用", "reinstalled twice, still crashes on startup",
              "打开三秒就自动退出了", "the app closes itself immediately after launch",
              "闪退问题什么时候修复", "crashing on my pixel after the new version"],
    "darkmode": ["希望增加夜间模式", "please add a dark mode", "能不能出个深色模式",
                 "dark mode would be great for night use", "求一个暗黑主题",
                 "any plans for a dark theme?", "夜间模式什么时候上线", "we need dark mode badly",
                 "晚上看屏幕太亮了，求深色主题", "the white background hurts my eyes at night",
                 "建议加一个跟随系统的深色模式", "please support the system dark theme",
                 "有没有暗色模式的计划", "a dark mode toggle in settings would be nice",
                 "深色模式安排一下吧", "dark theme please, my eyes will thank you"],
}


def test_mixed_language_issues_cluster_into_topics(tmp_path):
    pipeline = Pipeline(load_classifier(Settings()), Store(tmp_path / "t.db"))
    start = datetime(2026, 11, 1, tzinfo=UTC)
    msgs = [MessageIn(community="c", channel="help", author_id=f"u{i}", external_id=f"{name}-{i}",
                      text=text, ts=start + timedelta(hours=i))
            for name, texts in ISSUES.items() for i, text in enumerate(texts)]
    pipeline.ingest(msgs)
    summary = recluster(pipeline.store, "c", until=start + timedelta(days=2), log=lambda m: None)
    assert summary.n_topics >= 3 and summary.unassigned <= len(msgs) * 0.15
    rows = pipeline.store._db().execute(
        "SELECT external_id, topic_id, lang FROM messages").fetchall()
    main = {}
    for name in ISSUES:
        topics = [t for e, t, _ in rows if e.startswith(name)]
        main[name] = max(set(topics), key=topics.count)
        # the issue's main topic holds it in both languages
        langs = [lang for e, t, lang in rows if e.startswith(name) and t == main[name]]
        assert langs.count("zh") >= 3 and langs.count("en") >= 3, (name, langs)
    assert len(set(main.values())) == 3 and None not in main.values()
    new = pipeline.ingest([MessageIn(community="c", channel="help", author_id="x", external_id="n1",
                                     text="退款到现在还没收到，怎么回事", ts=start)])
    assert pipeline.store.get_message(new[0].id)["topic_id"] == main["refund"]
