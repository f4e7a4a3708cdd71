"""Hybrid retrieval: dense (Chroma) and BM25 (llama-index over bm25s), fused by reciprocal rank."""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import os
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from rag.embed import embedding_text
from rag.text import STOPWORDS
from rag.types import Chunk, Hit

_WORDS = re.compile(r"[A-Za-z]{4,}")


def _quiet() -> None:
    """bm25s sets its own logger to DEBUG on import: with any log handler configured (the eval's,
    a user's script), every build would print its notes."""
    logging.getLogger("bm25s").setLevel(logging.WARNING)


class Bm25Index:
    """BM25 over every chunk in the store, tagged with the store generation it was built from.

    Building it reads every chunk and indexes it: seconds at 100,000 chunks. `open` keeps one
    built index per generation on disk beside the store, so each further process (`rag ask`, the
    page, a second worker) loads it instead of building it again."""

    def __init__(self, chunks: Iterable[Chunk], generation: str, retriever=None, words: Iterable[str] | None = None):
        self.generation = generation
        self.chunks = {c.id: c for c in chunks}
        self._positions = {(c.doc_id, c.index): c for c in self.chunks.values()}
        self._retriever = retriever
        if words is None:  # saved with the index: reading every chunk again took 3 s at 100,000 chunks
            words = {w for c in self.chunks.values() for w in _WORDS.findall(f"{c.title} {c.text}".lower())}
        self._vocabulary: dict[str, set[str]] = defaultdict(set)  # by first letter
        for w in words:
            self._vocabulary[w[0]].add(w)
        if self.chunks and self._retriever is None:
            import Stemmer
            from llama_index.core.schema import TextNode
            from llama_index.retrievers.bm25 import BM25Retriever

            _quiet()
            nodes = [
                TextNode(id_=c.id, text=embedding_text(c.header, c.text)) for c in self.chunks.values()
            ]
            self._retriever = BM25Retriever.from_defaults(
                nodes=nodes, stemmer=Stemmer.Stemmer("english"), language="english"
            )

    @classmethod
    def open(cls, read_chunks: Callable[[], Iterable[Chunk]], generation: str, cache: Path | None) -> Bm25Index:
        """The index for `generation`: loaded from `cache` when built there before, else built
        from `read_chunks()` and saved (written aside, then renamed, so a reader never sees half)."""
        if cache is None or not generation:
            return cls(read_chunks(), generation)
        folder = cache / generation
        try:
            return cls._load(folder, generation)
        except (OSError, ValueError, KeyError):
            pass
        index = cls(read_chunks(), generation)
        if index._retriever is not None:
            with contextlib.suppress(OSError):  # a read-only or full disk: it works, it is not kept
                index._save(folder)
        return index

    def _save(self, folder: Path) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".building-"))
        try:
            self._retriever.persist(str(tmp / "bm25"), show_progress=False)  # no bar on a question
            rows = [[c.id, c.doc_id, c.index, c.title, c.date, c.source, c.text, c.start, c.end]
                    for c in self.chunks.values()]
            (tmp / "chunks.json").write_text(json.dumps(rows), encoding="utf-8")
            words = sorted(w for group in self._vocabulary.values() for w in group)
            (tmp / "words.json").write_text(json.dumps(words), encoding="utf-8")
            shutil.rmtree(folder, ignore_errors=True)  # a damaged copy of this generation
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in folder.parent.iterdir():  # earlier generations are never asked for again
            if old != folder and not old.name.startswith("."):
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def _load(cls, folder: Path, generation: str) -> Bm25Index:
        import Stemmer
        from llama_index.retrievers.bm25 import BM25Retriever

        _quiet()
        rows = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
        chunks = [Chunk(*row) for row in rows]
        retriever = BM25Retriever.from_persist_dir(str(folder / "bm25"), mmap=True, show_progress=False)
        retriever.stemmer = Stemmer.Stemmer("english")
        words = json.loads((folder / "words.json").read_text(encoding="utf-8"))
        return cls(chunks, generation, retriever, words)

    def correct(self, query: str) -> str:
        """The query with names the articles never use replaced by a close spelling that they do
        ("Nakqu" -> "Naqu"). Only capitalised words: a lowercase word that is not in the articles
        is more often absent ("tourists") or inflected ("hoped") than misspelled."""
        def fix(m: re.Match) -> str:
            word = m.group()
            lower = word.lower()
            if not word[0].isupper() or lower in STOPWORDS or lower in self._vocabulary[lower[0]]:
                return word
            close = difflib.get_close_matches(lower, self._vocabulary[lower[0]], n=1, cutoff=0.8)
            return close[0].capitalize() if close else word

        return _WORDS.sub(fix, query)

    def search(self, query: str, k: int, exclude: frozenset[str] = frozenset()) -> list[tuple[Chunk, float]]:
        """Top-k chunks by BM25, leaving out the articles in `exclude` (doc ids)."""
        if self._retriever is None or not query.strip():
            return []
        self._retriever.similarity_top_k = min(k + (50 if exclude else 0), len(self.chunks))
        found = [
            (self.chunks[r.node.node_id], float(r.score))
            for r in self._retriever.retrieve(query)
            if r.score and r.score > 0
        ]
        return [(c, s) for c, s in found if c.doc_id not in exclude][:k]

    def neighbour(self, doc_id: str, index: int) -> Chunk | None:
        """The chunk at `index` in its article, if there is one."""
        return self._positions.get((doc_id, index))


Ranked = Sequence[tuple[Chunk, float]]


def fuse(dense: Ranked, sparse: Ranked, k: int, rrf_k: int = 60) -> list[Hit]:
    """Reciprocal rank fusion of one dense and one BM25 list."""
    return fuse_runs([(dense, sparse)], k, rrf_k)


def fuse_runs(runs: Sequence[tuple[Ranked, Ranked]], k: int, rrf_k: int = 60) -> list[Hit]:
    """Reciprocal rank fusion over (dense, BM25) lists, one pair per query (a compound question
    is searched whole and part by part): score = sum over lists of 1 / (rrf_k + rank). Pure."""
    scores: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    dense_rank: dict[str, tuple[int, float]] = {}
    bm25_rank: dict[str, int] = {}
    for dense, sparse in runs:
        for rank, (chunk, sim) in enumerate(dense, 1):
            scores[chunk.id] = scores.get(chunk.id, 0.0) + 1.0 / (rrf_k + rank)
            chunks[chunk.id] = chunk
            if chunk.id not in dense_rank or sim > dense_rank[chunk.id][1]:
                dense_rank[chunk.id] = (rank, sim)
        for rank, (chunk, _) in enumerate(sparse, 1):
            scores[chunk.id] = scores.get(chunk.id, 0.0) + 1.0 / (rrf_k + rank)
            chunks.setdefault(chunk.id, chunk)
            bm25_rank[chunk.id] = min(rank, bm25_rank.get(chunk.id, rank))
    order = sorted(scores, key=lambda cid: (-scores[cid], cid))[:k]
    return [
        Hit(
            chunk=chunks[cid],
            score=scores[cid],
            dense_score=dense_rank[cid][1] if cid in dense_rank else None,
            dense_rank=dense_rank[cid][0] if cid in dense_rank else None,
            bm25_rank=bm25_rank.get(cid),
        )
        for cid in order
    ]
