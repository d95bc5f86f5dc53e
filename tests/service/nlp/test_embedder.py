import numpy as np
import pytest

from service.nlp.embedder import load_embedder


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown embedder"):
        load_embedder("word2vec")


@pytest.mark.slow
def test_default_embedder_is_multilingual_and_cross_lingual():
    emb = load_embedder("use-m3")
    v = emb.embed(["The app crashes when I log in", "登录的时候应用崩溃了", "I love this cake recipe",
                   "这个蛋糕食谱太棒了"])
    assert v.shape == (4, 512) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-4)
    sims = v @ v.T
    assert sims[0, 1] > sims[0, 3] and sims[2, 3] > sims[2, 1]  # topic beats language
    # batching and order do not change vectors
    np.testing.assert_allclose(emb.embed(["登录的时候应用崩溃了"])[0], v[1], atol=1e-4)
