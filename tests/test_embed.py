"""The embedder run by onnxruntime gives sentence-transformers' own vectors for the bundled model."""

import os

import numpy as np
import pytest
from conftest import ARTICLES

from rag import embed
from rag.embed import Embedder, base_model_path, onnx_model
from rag.model_files import ModelFileError


def test_vectors_are_sentence_transformers_vectors():
    from sentence_transformers import SentenceTransformer

    article = next(ARTICLES.glob("*.txt")).read_text(encoding="utf-8")
    texts = [
        "How much aid has Zhejiang given Qinghai since 2010?",
        "Ünïcödé, emoji 🚀 and CAPITALS",
        article[:300],
        article,  # longer than the model's 256 tokens: cut there, as sentence-transformers does
        "x",
    ]
    ours = np.array(Embedder(batch_size=2).embed(texts))  # batches mix lengths: padding must not matter
    theirs = SentenceTransformer(str(base_model_path()), device="cpu").encode(texts, normalize_embeddings=True)
    assert ours.shape == (5, 384)
    assert np.abs(ours - theirs).max() < 1e-4


def test_a_changed_export_is_made_again(tmp_path):
    path = onnx_model(folder=tmp_path)
    assert onnx_model(folder=tmp_path) == path  # trusted by its stamp
    made = path.stat().st_mtime_ns
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        f.write(b"\0" * 64)
    assert onnx_model(folder=tmp_path) == path and path.stat().st_mtime_ns != made
    query = Embedder(folder=tmp_path).embed_query("aid to Qinghai")
    assert abs(np.linalg.norm(query) - 1) < 1e-5


def test_a_failed_export_is_one_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    def broken(weights, out):
        out.write_bytes(b"half")
        raise ImportError("No module named 'onnx'")

    monkeypatch.setattr(embed, "_export", broken)
    with pytest.raises(ModelFileError, match=r"could not be exported to ONNX \(ImportError: No module named 'onnx'\)"):
        Embedder(folder=tmp_path).embed_query("aid")
    assert [p.suffix for p in tmp_path.iterdir()] == [".lock"]
