import numpy as np
import pytest

from service.nlp.heads import HeadError, load_head, load_heads
from tests.fakes import fake_heads


def test_save_load_roundtrip_and_probabilities(tmp_path):
    heads = fake_heads(tmp_path)
    loaded = load_head(tmp_path / "intent")
    assert loaded.labels == heads["intent"].labels
    x = np.random.default_rng(0).normal(size=(5, 64)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict_proba(x), heads["intent"].predict_proba(x), rtol=1e-6)
    np.testing.assert_allclose(loaded.predict_proba(x).sum(axis=1), 1.0, rtol=1e-5)


def test_heads_for_another_embedder_are_refused(tmp_path):
    fake_heads(tmp_path, embedder="other-space")
    with pytest.raises(HeadError, match="retrain"):
        load_heads(tmp_path, "hash-64")


def test_missing_or_broken_head_is_a_clear_error(tmp_path):
    with pytest.raises(HeadError, match="cannot load head"):
        load_head(tmp_path / "nothing")
    fake_heads(tmp_path)
    (tmp_path / "spam" / "weights.npz").write_bytes(b"garbage")
    with pytest.raises(HeadError):
        load_head(tmp_path / "spam")


def test_temperature_softens_and_uncertain_label():
    from dataclasses import replace

    from service.nlp.classifier import Classifier
    from tests.fakes import HashEmbedder

    heads = fake_heads()
    x = np.random.default_rng(0).normal(size=(3, 64)).astype(np.float32)
    sharp = heads["intent"].predict_proba(x).max(axis=1)
    soft = replace(heads["intent"], temperature=10.0).predict_proba(x).max(axis=1)
    assert (soft < sharp).all()
    heads["intent"] = replace(heads["intent"], uncertain_below=1.01)
    (pred,) = Classifier(HashEmbedder(), heads).classify(["anything"])
    assert pred.intent == "uncertain" and max(pred.intent_probs.values()) < 1.01
