import pytest

from service.nlp.lang import detect_language


@pytest.mark.parametrize("text,lang", [
    ("The app crashes on login", "en"), ("登录后闪退了", "zh"), ("这个 feature 什么时候上线啊", "mixed"),
    ("这个app更新以后一直闪退，客服也不回复", "zh"), ("12345 !!!", "unknown"), ("😀", "unknown"),
    ("thanks 大佬 problem solved now, really appreciate it", "mixed"),
])
def test_detect_language(text, lang):
    assert detect_language(text) == lang
