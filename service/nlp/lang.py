"""Language of a message: zh, en, mixed or unknown, from its script mix.

A script count is enough for the languages this product serves and costs microseconds;
it is what the per-language metrics and filters group by.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: str) -> str:
    cjk = len(_CJK.findall(text))
    latin = sum(len(w) for w in _LATIN_WORD.findall(text))
    if cjk == 0 and latin == 0:
        return "unknown"
    if cjk == 0:
        return "en"
    if latin == 0:
        return "zh"
    # One Latin letter carries about a third of what one Chinese character does.
    share = latin / (latin + 3 * cjk)
    if share < 0.1:
        return "zh"
    if share > 0.9:
        return "en"
    return "mixed"
