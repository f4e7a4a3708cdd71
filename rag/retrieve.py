"""Hybrid retrieval: dense (Chroma) and BM25 (llama-index over bm25s), fused by reciprocal rank."""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from rag.embed import embedding_text
from rag.text import STOPWORDS
from rag.types import Chunk, Hit

_WORDS = re.compile(r"[A-Za-z]{4,}")


class Bm25Index:
    """BM25 over every chunk in the store, tagged with the store generation it was built from."""

    def __init__(self, chunks: Iterable[Chunk], generation: str):
        self.generation = generation
        self.chunks = {c.id: c for c in chunks}
        self._retriever = None
        self._vocabulary: dict[str, set[str]] = defaultdict(set)  # by first letter
        for c in self.chunks.values():
            for w in _WORDS.findall(f"{c.title} {c.text}".lower()):
                self._vocabulary[w[0]].add(w)
        if self.chunks:
            import Stemmer
            from llama_index.core.schema import TextNode
            from llama_index.retrievers.bm25 import BM25Retriever

            nodes = [
                TextNode(id_=c.id, text=embedding_text(c.header, c.text)) for c in self.chunks.values()
            ]
            self._retriever = BM25Retriever.from_defaults(
                nodes=nodes, stemmer=Stemmer.Stemmer("english"), language="english"
            )

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

    def search(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        if self._retriever is None or not query.strip():
            return []
        self._retriever.similarity_top_k = min(k, len(self.chunks))
        return [
            (self.chunks[r.node.node_id], float(r.score))
            for r in self._retriever.retrieve(query)
            if r.score and r.score > 0
        ]


def fuse(
    dense: Sequence[tuple[Chunk, float]],
    sparse: Sequence[tuple[Chunk, float]],
    k: int,
    rrf_k: int = 60,
) -> list[Hit]:
    """Reciprocal rank fusion: score = sum over lists of 1 / (rrf_k + rank). Pure."""
    scores: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    dense_rank: dict[str, tuple[int, float]] = {}
    bm25_rank: dict[str, int] = {}
    for rank, (chunk, sim) in enumerate(dense, 1):
        scores[chunk.id] = scores.get(chunk.id, 0.0) + 1.0 / (rrf_k + rank)
        chunks[chunk.id] = chunk
        dense_rank[chunk.id] = (rank, sim)
    for rank, (chunk, _) in enumerate(sparse, 1):
        scores[chunk.id] = scores.get(chunk.id, 0.0) + 1.0 / (rrf_k + rank)
        chunks.setdefault(chunk.id, chunk)
        bm25_rank[chunk.id] = rank
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
