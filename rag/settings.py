"""One typed settings object. Every field can be set from the environment as RAG_<FIELD>."""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path

# Off in code, not in docs: nothing here may reach a hub or a telemetry host.
for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_name, _value)

BACKENDS = ("llamacpp", "openai", "extractive")


@dataclass(frozen=True)
class Settings:
    # where things live
    data_dir: Path = Path("data")
    store_dir: Path = Path(".rag/chroma")
    model_dir: Path = Path.home() / ".cache" / "rag-news" / "models"
    collection: str = "articles"
    chroma_host: str | None = None
    """Set to use a Chroma server (`chroma run --path DIR --host H --port P`) instead of the embedded store."""
    chroma_port: int = 8000
    cache_dir: Path = Path(".rag/cache")
    """Derived indexes (BM25) of a Chroma server's collections; an embedded store keeps them beside it."""

    # ingest
    max_file_mb: int = 50
    max_file_chars: int = 3_000_000
    max_file_pages: int = 1500
    max_file_chunks: int = 10_000
    max_file_seconds: float = 300.0
    """Bounds on one file (ingest.load.Limits); a file over one is skipped with the reason."""
    chunk_tokens: int = 100
    overlap_tokens: int = 20
    embed_batch: int = 32

    # retrieval
    k: int = 3
    """Passages retrieved and given to the model: k=4 measured worse (0.833 vs 0.896 accuracy), and
    slower; k=2 faster and worse on every set (README, "Public sets")."""
    rrf_k: int = 60
    depth: int = 40
    """Candidates each retriever offers to the fusion: a passage one retriever ranks first but the
    other ranks below a shallow cut-off would otherwise get only half its score."""
    rerank: bool = False
    """Order the fused candidates by the cross-encoder (rag.rerank) before the cut to k. Off by
    default: it helps on SQuAD's held-out articles and on papers, but on the machine-translated news
    of the starting articles it ranks the wrong passage first (README, "The reader")."""
    rerank_fused: bool = True
    """Order by reciprocal rank fusion of the retrieval order and the cross-encoder's, instead of
    the cross-encoder's alone, so one misreading moves a passage a few places, not out of the top k."""
    rerank_candidates: int = 12
    """Fused candidates the cross-encoder reads (about 20 ms each on 2 cores)."""
    read: bool = False
    """Read the passages with the reader (rag.rerank) after generation: its probability joins the
    answerability signals, and its answer span picks the sentence the fallback quotes. Off by
    default: on SQuAD's held-out articles it refuses far more unanswerable questions (0.733 ->
    0.867), but it refuses answers on the machine-translated starting articles and on papers, text
    unlike the Wikipedia it was trained on (README, "The reader")."""
    min_dense_score: float = 0.25
    """Below this cosine similarity of the best passage, retrieval is too weak to answer from."""
    window_tokens: int = 160
    """Each retrieved chunk is widened to about this many tokens of its article for the model."""
    min_answerable: float = 0.35
    """Refuse when `rag.answerable.answerable(signals)` is below this (0 turns the check off).
    On 150 + 150 SQuAD dev questions 0.35 refused 0.79 of unanswerable ones (0.48 with 0) for 0.65
    answers holding the gold span (0.69 with 0); it is the highest threshold at which the news sets
    and the papers lose no right answer (README, "The threshold, on every set")."""
    check_constraints: bool = True
    """Refuse an answer when a year, quarter, number or name of the question is not stated where
    it is cited: in the cited sentence, or its passage or title while the sentence states no other
    value of the same kind (rag.constraints)."""
    check_answer_type: bool = True
    """Refuse an answer of the wrong type: a when-question without an absolute date, a
    who-question without a name the question does not hold (rag.constraints)."""
    min_extractive: float = 0.55
    """When the model refuses, answer with the best-matching passage sentence (quoted, cited) if its
    answerability is at least this (0 turns it off). On the SQuAD dev halves it answered 2 more of
    60 answerable questions right and no unanswerable one."""

    # generation
    backend: str = "llamacpp"
    temperature: float = 0.1
    max_tokens: int = 150
    n_ctx: int = 4096
    n_threads: int = max(1, os.cpu_count() or 1)
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_model: str = "qwen2.5:1.5b-instruct"
    openai_api_key: str = ""
    request_timeout_s: float = 120.0

    # input limits
    max_question_chars: int = 2000
    max_upload_mb: int = 50
    """Files uploaded through the page above this size are refused before they are saved."""

    # chat page
    ui_host: str = "127.0.0.1"
    ui_port: int = 7860
    ui_auth: str = ""
    """user:password (password of 12+ characters), required when the page binds to anything but loopback."""
    ui_allowed_hosts: str = ""
    """Comma-separated extra host names the page answers to (e.g. its DNS name behind a proxy)."""
    ui_queue_per_client: int = 8
    """Questions one client (user name, or address) may have waiting; the whole queue holds 32."""

    @classmethod
    def from_env(cls, env: typing.Mapping[str, str] | None = None, **overrides) -> Settings:
        env = os.environ if env is None else env
        values = {}
        hints = _hints(cls)
        for f in fields(cls):
            raw = env.get(f"RAG_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _parse(raw, hints[f.name], f.name)
        if "openai_api_key" not in values and env.get("OPENAI_API_KEY"):
            values["openai_api_key"] = env["OPENAI_API_KEY"]
        return cls(**values).replace(**overrides)

    def replace(self, **overrides) -> Settings:
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        hints = _hints(type(self))  # every question replaces its settings: read once
        # A string for a typed field is read as the environment variable would be ("data", "3").
        values = {
            k: _parse(v, hints[k], k) if isinstance(v, str) and str not in _kinds(hints[k]) else v
            for k, v in overrides.items()
            if v is not None
        }
        new = dataclasses.replace(self, **values)
        new.validate()
        return new

    def validate(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.k < 1:
            raise ValueError("k must be at least 1")
        if not 0 <= self.overlap_tokens < self.chunk_tokens:
            raise ValueError("overlap_tokens must be >= 0 and smaller than chunk_tokens")


@cache
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _kinds(hint) -> list:
    return [t for t in typing.get_args(hint) if t is not type(None)] or [hint]


def _parse(raw: str, hint, name: str):
    kind = _kinds(hint)[0]
    if raw == "" and type(None) in typing.get_args(hint):
        return None
    try:
        if kind is bool:
            return raw.strip().lower() in ("1", "true", "yes", "on")
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"RAG_{name.upper()}={raw!r} is not a valid {kind.__name__}") from exc
