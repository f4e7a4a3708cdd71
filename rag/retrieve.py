"""Hybrid retrieval: dense (Chroma) and BM25 (rag.bm25), fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence

from rag.bm25 import Bm25Index
from rag.types import Chunk, Hit

__all__ = ["Bm25Index", "Ranked", "fuse", "fuse_runs"]

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
