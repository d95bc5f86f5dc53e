from service.topics.label import ctfidf_keywords, name_of, tokenize


def test_tokenize_segments_chinese_and_drops_stop_words():
    words = tokenize("更新之后登录就闪退了 the app crashes on login")
    assert "闪退" in words and "登录" in words and "crashes" in words
    assert "the" not in words and "之后" not in words and "了" not in words


def test_ctfidf_prefers_distinctive_words():
    docs = {0: ["支付 失败 payment failed", "支付失败了 payment error", "payment failed again"],
            1: ["dark mode please", "求夜间模式 dark mode", "dark theme dark mode"]}
    kw = ctfidf_keywords(docs, top=3)
    assert "payment" in kw[0] and "dark" in kw[1]
    assert name_of(kw[1]) == "dark / mode" and name_of([]) == "(unnamed)"
