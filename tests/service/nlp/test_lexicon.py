from dataclasses import replace

import numpy as np
import pytest

from service.nlp import lexicon
from service.nlp.heads import HeadError, load_head, save_head
from service.nlp.lexicon import FEATURES, LexiconLayer, scores
from tests.fakes import fake_heads


def test_vader_scores_english_words_and_leaves_chinese_at_zero():
    s = scores(["I love this, it's great!", "this is awful, I hate it", "电池太差了，很失望"])
    compound = FEATURES.index("compound")
    assert s.shape == (3, len(FEATURES))
    assert s[0, compound] > 0.5 and s[1, compound] < -0.5
    assert not s[2].any()


def test_lexicon_layer_moves_only_texts_with_lexicon_words_and_survives_save_and_load(tmp_path):
    head = fake_heads()["sentiment"]
    weights = np.zeros((len(head.labels), len(FEATURES)), np.float32)
    weights[-1, FEATURES.index("compound")] = 10.0  # positive words push the last label
    with_lex = replace(head, lexicon=LexiconLayer(weights))
    x = np.random.default_rng(0).normal(size=(3, head.dim)).astype(np.float32)
    texts = ["what a wonderful, lovely day", "the bus leaves at noon", "今天天气不错"]
    plain, moved = head.predict_proba(x, texts), with_lex.predict_proba(x, texts)
    assert moved[0, -1] > plain[0, -1]
    np.testing.assert_allclose(moved[1:], plain[1:], rtol=1e-5)  # no lexicon word: unchanged
    with pytest.raises(ValueError, match="pass texts"):
        with_lex.predict_proba(x)
    save_head(tmp_path / "sentiment", with_lex)
    np.testing.assert_allclose(load_head(tmp_path / "sentiment").predict_proba(x, texts), moved,
                               rtol=1e-5)
    save_head(tmp_path / "broken", replace(with_lex, lexicon=LexiconLayer(weights[:, :2])))
    with pytest.raises(HeadError, match="lexicon layer"):
        load_head(tmp_path / "broken")


def test_fit_learns_the_direction_the_lexicon_points():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)  # 0 negative, 1 positive; the head's own logits know nothing
    features = np.zeros((n, len(FEATURES)), np.float32)
    features[:, FEATURES.index("compound")] = np.where(y == 1, 0.6, -0.6) + rng.normal(0, 0.3, n)
    w = lexicon.fit(np.zeros((n, 2)), features, y, np.ones(n))
    c = FEATURES.index("compound")
    assert w[1, c] - w[0, c] > 1.0
