"""The engine: one object, built from one Settings, that the CLI, the chat page and the eval all call."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from functools import lru_cache

from rag import constraints
from rag.answerable import answerable, coverage, missing_constraints
from rag.context import widen
from rag.embed import Embedder
from rag.generate import Generator, make_generator
from rag.prompt import condense_messages
from rag.reader import Reader, Reading, passage_text, probability, reorder
from rag.retrieve import Bm25Index, fuse, fuse_runs
from rag.settings import Settings
from rag.steps import STEPS, Turn
from rag.store import ChromaStore, StoreError
from rag.text import normalise
from rag.types import Answer, Hit
from rag.verify import Verified, is_refusal

History = Sequence[tuple[str, str]] | Sequence[dict]
_DONE = object()


class Engine:
    def __init__(self, settings: Settings | None = None, models: Engine | None = None):
        """An engine over the store the settings name. With `models`, another engine's loaded
        models (embedder, reader, LLMs and the lock that keeps generation one at a time) serve
        this one too, so one process can ask many stores (an evaluation's store per question)
        without loading a model twice or running two generations at once."""
        self.settings = settings or Settings.from_env()
        self._store: ChromaStore | None = None
        self._bm25: Bm25Index | None = None
        self._article_words: tuple[str, dict[str, frozenset[str]]] = ("", {})  # for one store version
        if models is not None:
            self.embedder, self.reader, self._generators = models.embedder, models.reader, models._generators
            self._lock, self._making = models._lock, models._making
            return
        self.embedder = Embedder(self.settings.embed_batch, self.settings.model_dir)
        self.reader = Reader(folder=self.settings.model_dir)
        self._generators: dict[str, Generator] = {}
        self._lock = threading.Lock()  # llama.cpp is not re-entrant; one generation at a time
        self._making = threading.Lock()  # one generator per backend, also when `warm` races a question

    @property
    def store(self) -> ChromaStore:
        if self._store is None:
            self._store = ChromaStore(self.settings, self.embedder.name, self.embedder.dim)
        return self._store

    # -- after a change of the store ----------------------------------------------------------
    def update_keywords(self, before: str, changed: Iterable[str]) -> None:
        """Under the write lock, after a change: save the keyword index of the new version as
        the one of `before` with the `changed` articles' chunks as a new segment (rag.bm25), or
        build it from every chunk when `before`'s is not on disk or is unknown (""), or when other
        processes may write too (a Chroma server)."""
        changed = set(changed)
        cache = self.store.cache_dir / "bm25"
        if before and not self.settings.chroma_host:
            chunks = list(self.store.chunks_of(changed))
            if Bm25Index.extend(cache, before, self.store.version(), changed, chunks):
                return  # loaded by the next question, reusing the segments held in memory
        self.keywords()

    # -- retrieve -------------------------------------------------------------------------
    def retrieve(
        self, question: str | Sequence[str], k: int | None = None, exclude: frozenset[str] = frozenset()
    ) -> list[Hit]:
        """The top-k chunks for one query, or for several fused (a compound question is
        searched whole and part by part); articles in `exclude` (doc ids) are left out."""
        k = k or self.settings.k
        queries = [question] if isinstance(question, str) else list(question)
        n = max(k, self.settings.depth)
        return fuse_runs([self.candidates(q, n, exclude=exclude) for q in queries], k, self.settings.rrf_k)

    def candidates(
        self, question: str, n: int, vector: list[float] | None = None, exclude: frozenset[str] = frozenset()
    ):
        """The dense and BM25 candidate lists that `retrieve` fuses (a precomputed query
        vector may be passed, so a benchmark can embed its questions in batches)."""
        dense = self.store.query(vector or self.embedder.embed_query(question), n, exclude)
        return dense, self.keywords().search(question, n, exclude)

    def retrieve_bm25(self, question: str, k: int) -> list[Hit]:
        return fuse([], self.keywords().search(question, k), k, self.settings.rrf_k)

    def rerank(self, question: str, hits: Sequence[Hit], settings: Settings | None = None) -> list[Hit]:
        """The hits reordered with the reader's reading of the question and each passage
        (rag.reader.reorder), its logit kept on each hit; unchanged when reranking is off."""
        settings = settings or self.settings
        if not settings.rerank or not hits:
            return list(hits)
        scores = self.reader.score(question, [passage_text(h.chunk.header, h.chunk.text) for h in hits])
        return reorder(hits, scores, settings.rrf_k, settings.rerank_fused)

    def read(self, question: str, hits: Sequence[Hit]) -> list[Reading]:
        """The reader's view of each passage the model read: its logit that the passage answers,
        and the answer span it finds, in offsets of the chunk's text (None in the header)."""
        readings = self.reader.read(question, [passage_text(h.chunk.header, h.chunk.text) for h in hits])
        out = []
        for h, r in zip(hits, readings, strict=True):
            skip = len(h.chunk.header) + 1
            span = (r.span[0] - skip, r.span[1] - skip) if r.span and r.span[0] >= skip else None
            out.append(replace(r, span=span))
        return out

    def passages(self, hits: Sequence[Hit], settings: Settings | None = None) -> list[Hit]:
        """The hits as the model reads them: each widened to its neighbourhood (rag.context)."""
        settings = settings or self.settings
        return widen(hits, self.keywords().neighbour, settings.window_tokens)

    def article_words(self, doc_id: str) -> frozenset[str]:
        """An article's words as the constraints check compares names (rag.constraints), read from
        its chunks in the keyword index and kept for the store's current version."""
        index = self.keywords()
        version, cache = self._article_words
        if version != index.version or len(cache) > 256:
            version, cache = self._article_words = (index.version, {})
        if doc_id not in cache:
            texts, i = [], 0
            while (chunk := index.neighbour(doc_id, i)) is not None:
                texts.append(chunk.text)
                i += 1
            cache[doc_id] = constraints.article_words("\n".join(texts))
        return cache[doc_id]

    def keywords(self) -> Bm25Index:
        """The keyword index (rag.bm25) of the store's current version: loaded or built when the
        store changed. It also holds the articles' vocabulary (spelling) and chunk neighbours."""
        version = self.store.version()
        if self._bm25 is None or self._bm25.version != version:
            self._bm25 = Bm25Index.open(self.store.chunks, version, self.store.cache_dir / "bm25", self._bm25)
        return self._bm25

    # -- answer ---------------------------------------------------------------------------
    def answer(self, question: str, history: History | None = None, **overrides) -> Answer:
        for item in self.stream(question, history, **overrides):
            if isinstance(item, Answer):
                return item
        raise AssertionError("stream ended without an Answer")  # pragma: no cover

    def stream(
        self, question: str, history: History | None = None, *, exclude: frozenset[str] = frozenset(), **overrides
    ) -> Iterator[str | Answer]:
        """Yields text pieces as they are generated, then the verified `Answer`. Articles in
        `exclude` (doc ids) are not searched.

        Bad input raises here, before anything is yielded."""
        settings = self.settings.replace(**overrides)
        question = check_question(question, settings.max_question_chars)
        return self._stream(question, _pairs(history), settings, frozenset(exclude))

    def _stream(
        self, question: str, pairs: list[tuple[str, str]], settings: Settings, exclude: frozenset[str]
    ) -> Iterator[str | Answer]:
        """Runs the answer path's steps (rag.steps) in order, each timed under its own name."""
        turn = Turn(question, settings, pairs, exclude)
        for step in STEPS:
            t = time.perf_counter()
            out = step(self, turn)
            if isinstance(out, Iterator):  # a step that streams text: generation, a refusal
                out = yield from out
            turn = out
            turn.timings[f"{step.__name__}_s"] = time.perf_counter() - t
            if turn.stop:
                break
        turn.timings["total_s"] = time.perf_counter() - turn.started
        yield turn.answer()

    def exclusive(self, pieces: Iterator[str]) -> Iterator[str]:
        """Run a generation under the model lock in a worker thread and pass its pieces on.

        The lock is never held across a `yield` to the caller: a reader that stops early (a
        closed browser tab, an abandoned iterator) only tells the worker to stop, and the worker
        releases the model within one token, whether or not anyone closes this generator."""
        out: queue.Queue = queue.Queue()
        stop = threading.Event()

        def work():
            try:
                with self._lock:
                    try:
                        for piece in pieces:
                            if stop.is_set():
                                break
                            out.put(piece)
                    finally:
                        getattr(pieces, "close", lambda: None)()
            except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
                out.put(exc)
            finally:
                out.put(_DONE)

        threading.Thread(target=work, name="rag-generate", daemon=True).start()
        try:
            while (item := out.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    def signals(
        self,
        question: str,
        hits: Sequence[Hit],
        checked: Verified,
        readings: Sequence[Reading] | None = None,
        weigh_reader: bool = False,
    ) -> dict[str, float]:
        """What the answerability decision sees of a verified answer (rag.answerable); the best
        dense score is already among the signals, from retrieval. With `readings`, the reader's
        view of the cited passages is among them, and joins the answerability model when
        `weigh_reader` (RAG_READ)."""
        cited = {c.chunk_id for c in checked.citations}
        evidence = "\n".join(f"{h.chunk.header}\n{h.chunk.text}" for h in hits if h.chunk.id in cited)
        quotes = [c.quote for c in checked.citations]
        q, *vectors = self.embedder.embed([question, *quotes])
        out = {
            "coverage": coverage(question, evidence),
            "quote_coverage": max(coverage(question, quote) for quote in quotes),
            "quote_similarity": max(sum(a * b for a, b in zip(q, v)) for v in vectors),
            "missing_numbers": float(len(missing_constraints(question, [evidence]))),
            **constraints.signals(question, checked.text, checked.citations, hits, self.article_words),
        }
        if readings is not None:  # the reader's view of the cited passages
            read = [(h, r) for h, r in zip(hits, readings, strict=True) if h.chunk.id in cited]
            out["reader"] = max(probability(r.score) for _, r in read)
            out["reader_span"] = max(min(max(r.span_score, -10.0), 10.0) for _, r in read)
            answer = normalise(checked.text)
            out["reader_agrees"] = float(any(
                r.span and normalise(h.chunk.text[r.span[0] : r.span[1]]) in answer for h, r in read))
        out["answerable"] = answerable(out, reader=weigh_reader and readings is not None)
        return {k: round(v, 4) for k, v in out.items()}

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
        with self._making:
            if settings.backend not in self._generators:
                self._generators[settings.backend] = make_generator(settings)
            return self._generators[settings.backend]

    def require_articles(self) -> None:
        """For the commands that ask (`rag ask`, `rag chat`, `rag eval`): an empty store would
        refuse every question, so say what to do instead."""
        if self.store.count() == 0:
            raise StoreError(
                f"Nothing is indexed in {self.store.location} yet: run `rag ingest` first "
                f"(it indexes {self.settings.data_dir}), or `rag ingest PATH`."
            )

    def warm(self) -> threading.Thread:
        """Load the LLM and its cached prompt prefix in the background (under the model lock),
        so that a new process's first answer does not wait for the model after the embedder and
        the search: llama.cpp loads outside the GIL, in parallel with them."""

        def work():
            # A failure is raised again, with its message, by the first question.
            with self._lock, contextlib.suppress(Exception):
                getattr(self.generator(self.settings), "ready", lambda: None)()
            if self.settings.read or self.settings.rerank or self.settings.min_reader > 0:  # loaded while the embedder loads and searches
                with contextlib.suppress(Exception):
                    self.reader.ready()

        thread = threading.Thread(target=work, name="rag-warm", daemon=True)
        thread.start()
        return thread

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
