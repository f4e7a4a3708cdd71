"""One typed settings object. Every field can be set from the environment as RAG_<FIELD>."""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field, fields
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


GROUPS = {
    "paths": "Where things live",
    "retrieval": "Retrieval",
    "generation": "Generation",
    "checks": "Checks (when to refuse)",
    "ingest": "Ingest limits",
    "page": "Chat page and input limits",
}


def cores(cgroup: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup CPU quota. In a
    container, os.cpu_count() is the host's count; llama.cpp with more threads than cores spins
    its threads against each other (measured here: two 2-thread generations on 2 cores spent half
    their CPU time in the kernel and answered several times slower)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = cgroup.read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, n)


def _setting(default, group: str, help: str):
    """A field with its group (GROUPS) and one line on what it does: docs/configuration.md is
    generated from them (`rag config --markdown`)."""
    return field(default=default, metadata={"group": group, "help": help})


@dataclass(frozen=True)
class Settings:
    """Every setting, each also read from the environment as RAG_<NAME> (Settings.from_env).
    Why each default is what it is: docs/decisions.md."""

    data_dir: Path = _setting(Path("data"), "paths", "Folder of articles that `rag ingest` indexes.")
    store_dir: Path = _setting(Path(".rag/chroma"), "paths", "The embedded Chroma store.")
    model_dir: Path = _setting(Path.home() / ".cache" / "rag-news" / "models", "paths",
                               "Where the LLM is assembled and the ONNX models are exported, once.")
    collection: str = _setting("articles", "paths", "Chroma collection name.")
    chroma_host: str | None = _setting(None, "paths", "A Chroma server to use instead of the embedded store.")
    chroma_port: int = _setting(8000, "paths", "The Chroma server's port.")
    cache_dir: Path = _setting(Path(".rag/cache"), "paths",
                               "Keyword indexes of a Chroma server's collections (an embedded store keeps them beside it).")

    k: int = _setting(3, "retrieval", "Passages given to the model (one more for a compound question).")
    rrf_k: int = _setting(60, "retrieval", "Reciprocal rank fusion constant for dense + keyword results.")
    depth: int = _setting(40, "retrieval", "Candidates each retriever offers to the fusion.")
    window_tokens: int = _setting(160, "retrieval", "Each retrieved chunk is widened to about this many tokens.")
    ef_search: int = _setting(400, "retrieval", "Candidates Chroma's HNSW search explores per query: Chroma's 100 missed 1.3% of the exact top 40 and differed between processes.")
    rerank: bool = _setting(False, "retrieval", "Order the fused candidates by the reader (rag.reader) before the cut to k.")
    rerank_fused: bool = _setting(True, "retrieval", "Fuse the reader's order with the retrieval order instead of replacing it.")
    rerank_candidates: int = _setting(12, "retrieval", "Candidates the reader orders when `rerank` is on.")

    backend: str = _setting("llamacpp", "generation", "llamacpp (bundled model), openai (any compatible server) or extractive (no LLM).")
    temperature: float = _setting(0.1, "generation", "Sampling temperature.")
    max_tokens: int = _setting(150, "generation", "Longest answer, in tokens.")
    n_ctx: int = _setting(4096, "generation", "llama.cpp context size.")
    n_threads: int = _setting(cores(), "generation", "llama.cpp threads (default: the cores this process may use).")
    draft_tokens: int = _setting(3, "generation", "Bundled model: tokens drafted from the prompt and checked in one batch per step of writing (rag.drafts); 0: off. At 3, writing took 0.72x as long (bench.drafts); an answer can differ in a word, as on another CPU: on 200 SQuAD dev questions no set had used, 194 came out the same, one more right (docs/evaluation.md).")
    openai_base_url: str = _setting("http://127.0.0.1:11434/v1", "generation", "Base URL of the openai backend.")
    openai_model: str = _setting("qwen2.5:1.5b-instruct", "generation", "Model name sent to the openai backend.")
    openai_api_key: str = _setting("", "generation", "Its key (OPENAI_API_KEY is read too); never logged.")
    request_timeout_s: float = _setting(120.0, "generation", "Timeout of one openai backend request.")

    min_dense_score: float = _setting(0.25, "checks", "Refuse before generation when no passage is this close (cosine).")
    min_answerable: float = _setting(0.0, "checks", "Refuse a verified answer whose answerability (rag.answerable) is below this; 0: off (the default: beside the other checks, every threshold that refused more on dev also cost right answers).")
    check_constraints: bool = _setting(True, "checks", "Refuse when a year, month, quarter, ordinal, number or name of the question is not stated where the answer is cited, or no cited sentence shares a word with the question.")
    check_answer_type: bool = _setting(True, "checks", "Refuse a when-answer without an absolute date, a who-answer without a new name.")
    min_reader: float = _setting(0.1, "checks", "Refuse when the reader (rag.reader) gives every cited passage a lower probability of stating the answer; 0: off.")
    read: bool = _setting(False, "checks", "Read the passages with the reader: its probability joins answerability, its span picks the fallback's sentence.")
    recheck_below: float = _setting(0.3, "checks", "An answer whose cited passages the reader gives less than this is asked again with the passages in reverse order and refused unless the two agree; 0: off.")
    min_extractive: float = _setting(0.55, "checks", "When the model's answer fails verification, quote the best sentence instead if its answerability is at least this; 0: off.")

    max_file_mb: int = _setting(50, "ingest", "A larger file is skipped with the reason.")
    max_file_chars: int = _setting(3_000_000, "ingest", "A file with more text is skipped.")
    max_file_pages: int = _setting(1500, "ingest", "A PDF with more pages is skipped.")
    max_file_chunks: int = _setting(10_000, "ingest", "A file that makes more chunks is skipped.")
    max_file_seconds: float = _setting(300.0, "ingest", "A file that takes longer to read is skipped.")
    chunk_tokens: int = _setting(100, "ingest", "Chunk size, in tokens.")
    overlap_tokens: int = _setting(20, "ingest", "Overlap of consecutive chunks, in tokens.")
    embed_batch: int = _setting(32, "ingest", "Chunks embedded per batch.")

    max_question_chars: int = _setting(2000, "page", "A longer question is refused with its length.")
    max_upload_mb: int = _setting(50, "page", "A larger upload through the page is refused before it is saved.")
    ui_host: str = _setting("127.0.0.1", "page", "Address the page binds to.")
    ui_port: int = _setting(7860, "page", "Port of the page.")
    ui_auth: str = _setting("", "page", "user:password (12+ characters), required when the page binds beyond loopback.")
    ui_allowed_hosts: str = _setting("", "page", "Comma-separated extra host names the page answers to (behind a proxy).")
    ui_queue_per_client: int = _setting(8, "page", "Questions one client may have waiting (the queue holds 32).")

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
        if self.draft_tokens < 0:
            raise ValueError("draft_tokens must be 0 (off) or more")
        if self.k < 1:
            raise ValueError("k must be at least 1")
        if self.ef_search < self.depth:
            raise ValueError(f"ef_search ({self.ef_search}) must be at least depth ({self.depth})")
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


def markdown() -> str:
    """docs/configuration.md: every setting by group, with its variable, default and description."""
    home = str(Path.home())
    lines = ["# Configuration", "",
             "Every setting is a field of `rag.settings.Settings` and an environment variable `RAG_<NAME>`.",
             "This page is generated from them: `rag config --markdown > docs/configuration.md`;",
             "`rag config` prints the values in force.", ""]
    for group, heading in GROUPS.items():
        lines += [f"## {heading}", "", "| variable | default | what it does |", "|---|---|---|"]
        for f in fields(Settings):
            if f.metadata.get("group") == group:
                default = "every core" if f.name == "n_threads" else str(f.default).replace(home, "~")
                lines.append(f"| `RAG_{f.name.upper()}` | `{default}` | {f.metadata['help']} |")
        lines.append("")
    return "\n".join(lines)
