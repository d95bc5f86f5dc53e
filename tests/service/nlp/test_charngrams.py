from dataclasses import replace

import numpy as np
import pytest

from service.nlp.charngrams import CharNgramLayer, counts, fit_idf, tfidf_rows
from service.nlp.heads import load_head, save_head
from service.nlp.lang import detect_language
from tests.fakes import HashEmbedder, fake_heads

TEXTS = ["退款还没到账", "refund not received", "dark mode please", "求夜间模式", "退款进度"]


def layer(k: int = 2) -> CharNgramLayer:
    features, idf = fit_idf(TEXTS)
    rng = np.random.default_rng(0)
    return CharNgramLayer(features, idf, rng.normal(size=(k, len(features))).astype(np.float32),
                          np.zeros(k, np.float32))


def test_features_are_normalised_and_unknown_grams_ignored():
    chars = layer()
    x = chars.features_of(["退款到账", "zzzz qqqq"])
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    assert np.isclose(norms[0], 1.0) and x[0].nnz > 3
    assert x[1].nnz <= 1  # of an unseen text only the word-boundary space is known
    np.testing.assert_allclose(chars.logits(["退款到账"]), chars.logits(x=counts(["退款到账"])))


def test_head_with_text_layer_roundtrips_and_needs_texts(tmp_path):
    head = fake_heads()["spam"]
    chars = layer()
    mixed = replace(head, chars=chars, mix=0.5)
    save_head(tmp_path / "spam", mixed)
    loaded = load_head(tmp_path / "spam")
    vectors = HashEmbedder().embed(TEXTS)
    np.testing.assert_allclose(loaded.predict_proba(vectors, TEXTS),
                               mixed.predict_proba(vectors, TEXTS), rtol=1e-3)
    assert not np.allclose(loaded.predict_proba(vectors, TEXTS), head.predict_proba(vectors))
    with pytest.raises(ValueError, match="pass texts"):
        loaded.predict_proba(vectors)


def test_classifier_with_text_layers_handles_an_empty_batch(tmp_path):
    from service.nlp.classifier import Classifier

    heads = {name: replace(h, chars=layer(len(h.labels)), mix=0.5)
             for name, h in fake_heads().items()}
    classifier = Classifier(HashEmbedder(), heads)
    assert classifier.classify([]) == []
    assert counts([]).shape[0] == 0
    (pred,) = classifier.classify(["退款还没到账"])
    assert abs(sum(pred.intent_probs.values()) - 1) < 1e-3


def test_per_language_mix_roundtrips_and_applies_by_language(tmp_path):
    head = replace(fake_heads()["spam"], chars=layer(), mix=0.5)
    per_lang = replace(head, mix_by_lang={"zh": 0.0})
    save_head(tmp_path / "spam", per_lang)
    loaded = load_head(tmp_path / "spam")
    assert loaded.mix_by_lang == {"zh": 0.0}
    vectors = HashEmbedder().embed(TEXTS)
    zh = [i for i, t in enumerate(TEXTS) if not t.isascii()]
    en = [i for i, t in enumerate(TEXTS) if t.isascii()]
    text_only = replace(head, mix=0.0)
    np.testing.assert_allclose(loaded.predict_proba(vectors, TEXTS)[zh],
                               text_only.predict_proba(vectors, TEXTS)[zh], rtol=1e-3)
    np.testing.assert_allclose(loaded.predict_proba(vectors, TEXTS)[en],
                               head.predict_proba(vectors, TEXTS)[en], rtol=1e-3)
    with pytest.raises(ValueError, match="pass texts"):  # the language needs the text itself
        loaded.predict_proba(vectors, ngram_counts=counts(TEXTS))


def test_languages_given_by_the_caller_are_used_instead_of_detecting_again():
    head = replace(fake_heads()["spam"], chars=layer(), mix=0.5, mix_by_lang={"zh": 0.0})
    vectors = HashEmbedder().embed(TEXTS)
    detected = [detect_language(t) for t in TEXTS]
    np.testing.assert_array_equal(head.predict_proba(vectors, TEXTS, counts(TEXTS), detected),
                                  head.predict_proba(vectors, TEXTS))
    # counts and languages are all the character layer needs
    np.testing.assert_array_equal(head.predict_proba(vectors, None, counts(TEXTS), detected),
                                  head.predict_proba(vectors, TEXTS))
    all_zh = head.predict_proba(vectors, TEXTS, counts(TEXTS), ["zh"] * len(TEXTS))
    np.testing.assert_allclose(all_zh, replace(head, mix_by_lang={}, mix=0.0)
                               .predict_proba(vectors, TEXTS), rtol=1e-5)


def test_tfidf_rows_are_the_rows_a_fitted_layer_reads():
    features, idf = fit_idf(TEXTS)
    np.testing.assert_array_equal(tfidf_rows(features, idf, TEXTS).toarray(),
                                  layer().features_of(TEXTS).toarray())
