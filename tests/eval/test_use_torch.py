"""The trainable torch copy of USE reproduces the package's vectors before any tuning."""

from __future__ import annotations

import numpy as np
import pytest

TEXTS = ["hello world", "这个酒店很好，服务热情", "the app crashes when I upload 图片 again", "a",
         "登录后闪退了，怎么办？ is there a fix for v2.3.1 yet?"]


@pytest.mark.slow
def test_torch_copy_matches_the_numpy_encoder():
    import torch

    from eval import use_torch

    backend = use_torch.load_backend()
    model = use_torch.build(backend)
    with torch.inference_mode():
        z, inner = model(*model.tokens(TEXTS), inner=True)
    reference = backend.encode(TEXTS)
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    assert (z.numpy() * reference).sum(axis=1).min() > 0.9999
    assert inner.shape == (len(TEXTS), 1280)
    # padding never leaks: a text alone and in a batch with a longer one agree
    with torch.inference_mode():
        alone = model(*model.tokens(["a"]))
    assert float((alone[0] * z[3]).sum()) > 0.9999


@pytest.mark.slow
def test_every_weight_after_the_token_table_is_trainable():
    from eval import use_torch

    model = use_torch.build()
    assert all(p.requires_grad for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == 3_386_112
