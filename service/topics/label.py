"""Topic names from a class-based TF-IDF over Chinese (jieba) and English tokens.

Each topic's messages form one document; a word scores high when it is frequent in the
topic and rare across topics (BERTopic's c-TF-IDF: tf_{t,c} * log(1 + A / f_t), with A
the mean number of words per topic and f_t the word's count over all topics).
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9'+#.-]*[A-Za-z0-9+#]|[A-Za-z]{2,}")

EN_STOP = frozenset("""
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each few for from further get got had hadn't has hasn't have
haven't having he her here hers herself him himself his how i if im i'm in into is isn't it
it's its itself just let's like me more most mustn't my myself no nor not now of off on once
only or other ought our ours ourselves out over own same shan't she should shouldn't so some
such than that that's the their theirs them themselves then there there's these they they're
this those through to too under until up very was wasn't we we're were weren't what what's
when where which while who whom why will with won't would wouldn't you you're your yours
yourself yourselves u ur pls plz thx lol ok okay yeah yes hi hey hello thanks thank really
still even one two anyone someone something anything everyone guys guy also would get got
re edu com www http https article writes wrote says said know think go going make want need
""".split())

ZH_STOP = frozenset("""
的 了 是 我 你 他 她 它 们 我们 你们 他们 这 那 这个 那个 这些 那些 就 都 也 还 又 在 有 和 与 及
或 但 但是 而 而且 因为 所以 如果 虽然 可以 可能 应该 会 能 要 想 把 被 让 给 对 从 到 向 为 为了 跟
吗 呢 吧 啊 呀 哦 嗯 哈 哈哈 哈哈哈 么 什么 怎么 怎么办 为什么 哪 哪里 哪个 谁 多少 几 一 一个 一下 一些
一直 已经 现在 今天 昨天 明天 时候 然后 还是 就是 不是 没有 没 不 很 太 更 最 非常 真的 其实 只是
自己 大家 有人 什么样 这样 那样 怎样 请问 谢谢 感谢 知道 觉得 问题 一样 东西 出来 起来 上 下 里 中
之 其 等 着 过 得 地 个 些 再 才 却 并 很多 多 少 好 大 小 呀 哇 啦 嘛 吧 喔 呗 诶 欸 哎
这种 那种 是不是 有没有 能不能 会不会 之后 以后 之前 以前 一般 一步 不能 不用 不想 不会 这么 那么
终于 各位 大概 可能 还有 只有 所有 每次 有点 一点 直接 然后 以及 或者 其他 别的 需要 到底 怎么样
""".split())


def tokenize(text: str) -> list[str]:
    """Words of a message: jieba for Chinese runs, a word pattern for Latin script."""
    import jieba

    words = [w.lower() for w in _LATIN.findall(text)]
    words = [w for w in words if w not in EN_STOP and not w.isdigit()]
    for run in _CJK_RUN.findall(text):
        words += [w for w in jieba.lcut(run) if len(w) > 1 and w not in ZH_STOP]
    return words


def ctfidf_keywords(docs_by_topic: dict[int, list[str]], top: int = 8) -> dict[int, list[str]]:
    """Top ``top`` keywords per topic id."""
    counts = {tid: Counter(w for doc in docs for w in tokenize(doc))
              for tid, docs in docs_by_topic.items()}
    total = Counter()
    for c in counts.values():
        total.update(c)
    if not total:
        return {tid: [] for tid in docs_by_topic}
    mean_words = sum(total.values()) / max(len(counts), 1)
    out = {}
    for tid, c in counts.items():
        size = sum(c.values()) or 1
        scored = [(n / size * np.log1p(mean_words / total[w]), w) for w, n in c.items() if n > 1
                  or len(c) < top]
        out[tid] = [w for _, w in sorted(scored, key=lambda x: (-x[0], x[1]))[:top]]
    return out


def name_of(keywords: list[str]) -> str:
    return " / ".join(keywords[:3]) if keywords else "(unnamed)"
