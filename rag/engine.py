"""The engine: one object, built from one Settings, that the CLI, the chat page and the eval all call."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

from rag.embed import Embedder
from rag.generate import Generator, make_generator
from rag.prompt import condense_messages
from rag.retrieve import Bm25Index, fuse
from rag.settings import Settings
from rag.store import ChromaStore
from rag.types import Answer, Hit
from rag.verify import REFUSAL, Verified, is_refusal, merge, verify

History = Sequence[tuple[str, str]] | Sequence[dict]


class Engine:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self.embedder = Embedder(self.settings.embed_batch)
        self._store: ChromaStore | None = None
        self._bm25: Bm25Index | None = None
        self._generators: dict[str, Generator] = {}
        self._lock = threading.Lock()  # llama.cpp is not re-entrant; one generation at a time

    @property
    def store(self) -> ChromaStore:
        if self._store is None:
            self._store = ChromaStore(self.settings, self.embedder.name, self.embedder.dim)
        return self._store

    # -- ingest ---------------------------------------------------------------------------
    def ingest(self, paths: Sequence[Path] | None = None, *, prune=False, rebuild=False, progress=True, on_file=None):
        from ingest.index import ingest_paths

        if rebuild:
            self.store.drop()
        return ingest_paths(
            self.store,
            self.embedder,
            self.settings,
            list(paths or [self.settings.data_dir]),
            prune=prune,
            progress=progress,
            on_file=on_file,
        )

    def delete_article(self, doc_id: str) -> None:
        self.store.delete_articles([doc_id])
        self.store.bump_generation()

    # -- retrieve -------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None) -> list[Hit]:
        k = k or self.settings.k
        return fuse(*self.candidates(question, max(k, self.settings.depth)), k, self.settings.rrf_k)

    def candidates(self, question: str, n: int, vector: list[float] | None = None):
        """The dense and BM25 candidate lists that `retrieve` fuses (a precomputed query
        vector may be passed, so a benchmark can embed its questions in batches)."""
        dense = self.store.query(vector or self.embedder.embed_query(question), n)
        return dense, self._bm25_index().search(question, n)

    def retrieve_bm25(self, question: str, k: int) -> list[Hit]:
        return fuse([], self._bm25_index().search(question, k), k, self.settings.rrf_k)

    def _bm25_index(self) -> Bm25Index:
        generation = self.store.generation()
        if self._bm25 is None or self._bm25.generation != generation:
            self._bm25 = Bm25Index(self.store.chunks(), generation)
        return self._bm25

    # -- answer ---------------------------------------------------------------------------
    def answer(self, question: str, history: History | None = None, **overrides) -> Answer:
        for item in self.stream(question, history, **overrides):
            if isinstance(item, Answer):
                return item
        raise AssertionError("stream ended without an Answer")  # pragma: no cover

    def stream(self, question: str, history: History | None = None, **overrides) -> Iterator[str | Answer]:
        """Yields text pieces as they are generated, then the verified `Answer`.

        Bad input raises here, before anything is yielded."""
        settings = self.settings.replace(**overrides)
        question = check_question(question, settings.max_question_chars)
        return self._stream(question, _pairs(history), settings)

    def _stream(self, question: str, pairs: list[tuple[str, str]], settings: Settings) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        searched = self.condense(question, pairs, settings) if pairs else question
        searched = self._bm25_index().correct(searched)  # "Nakqu" -> "Naqu"
        timings["condense_s"] = time.perf_counter() - t0
        parts: list[tuple[Verified, list[Hit]]] = []
        # "Who led X, and who led Y?": each part is retrieved and answered on its own, since one
        # retrieval for both tends to find only one and a small model answers only one.
        questions = split_question(searched)
        for i, part in enumerate(questions):
            if i:
                yield " "
            for item in self._answer_one(part, settings, timings, t0):
                if isinstance(item, str):
                    yield item
                else:
                    parts.append(item)
        checked = merge([v for v, _ in parts], questions)
        hits: dict[str, Hit] = {}  # each passage once, where it first came
        for _, part_hits in parts:
            for h in part_hits:
                hits.setdefault(h.chunk.id, h)
        timings["total_s"] = time.perf_counter() - t0
        yield Answer(question, checked.text, checked.citations, checked.refused, tuple(hits.values()), timings, searched)

    def _answer_one(self, question: str, settings: Settings, timings: dict[str, float], t0: float):
        """Yields the generated text pieces, then (verified answer, hits)."""
        t1 = time.perf_counter()
        hits = self.retrieve(question, settings.k)
        timings["retrieve_s"] = timings.get("retrieve_s", 0.0) + time.perf_counter() - t1
        best = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
        if best < settings.min_dense_score:
            yield REFUSAL
            yield Verified(REFUSAL, (), True), hits
            return
        t1 = time.perf_counter()
        pieces: list[str] = []
        with self._lock:
            for piece in self.generator(settings).stream(question, hits, settings):
                timings.setdefault("first_token_s", time.perf_counter() - t0)
                pieces.append(piece)
                yield piece
        timings["generate_s"] = timings.get("generate_s", 0.0) + time.perf_counter() - t1
        yield verify("".join(pieces), hits, question=question), hits

    def condense(self, question: str, history: Sequence[tuple[str, str]], settings: Settings) -> str:
        """A follow-up ("And how many projects?") rewritten to stand alone, for retrieval."""
        fallback = f"{history[-1][0]} {question}"
        if settings.backend == "extractive":
            return fallback
        with self._lock:
            text = "".join(
                self.generator(settings).chat(
                    condense_messages(question, history),
                    settings.replace(temperature=0.0, max_tokens=64),
                )
            )
        rewritten = text.strip().splitlines()[0].strip().strip('"') if text.strip() else ""
        if not rewritten or len(rewritten) > 300 or is_refusal(rewritten):
            return fallback
        return rewritten

    def generator(self, settings: Settings) -> Generator:
        if settings.backend not in self._generators:
            self._generators[settings.backend] = make_generator(settings)
        return self._generators[settings.backend]

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict:
        articles = self.store.articles()
        return {
            "articles": len(articles),
            "chunks": self.store.count(),
            "embedding_model": self.embedder.name,
            "store": self.store.location,
            "collection": self.settings.collection,
            "backend": self.settings.backend,
        }


def check_question(question: str, limit: int) -> str:
    if not isinstance(question, str) or not question.strip():
        raise ValueError("The question is empty: ask something about the articles.")
    question = question.strip()
    if len(question) > limit:
        raise ValueError(f"The question is {len(question)} characters long; the limit is {limit}.")
    return question


_COMPOUND = re.compile(r",?\s+and\s+(?=(?:who|whom|what|when|where|which|how|why)\b)", re.IGNORECASE)


def split_question(question: str, most: int = 3) -> list[str]:
    """ "Who led X, and who led Y?" -> ["Who led X?", "Who led Y?"]; anything else stays whole."""
    parts = [p.strip(" ,;?") for p in _COMPOUND.split(question)]
    if not 1 < len(parts) <= most or any(len(p.split()) < 3 for p in parts):
        return [question]
    return [p[0].upper() + p[1:] + "?" for p in parts]


def _pairs(history: History | None) -> list[tuple[str, str]]:
    """(question, answer) pairs from either tuples or chat messages ({'role', 'content'})."""
    if not history:
        return []
    if isinstance(history[0], dict):
        pairs, pending = [], None
        for msg in history:
            if msg.get("role") == "user":
                pending = str(msg.get("content", ""))
            elif msg.get("role") == "assistant" and pending is not None:
                pairs.append((pending, str(msg.get("content", ""))))
                pending = None
        return pairs
    return [(str(q), str(a)) for q, a in history]


@lru_cache(maxsize=4)
def get_engine(settings: Settings | None = None) -> Engine:
    """The one cached engine per settings: models load once per process."""
    return Engine(settings or Settings.from_env())
