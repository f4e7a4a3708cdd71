"""Sentence-aware chunks with exact offsets into the article text.

llama-index's SentenceSplitter does the splitting; we run it on each block of prose (runs of
body lines not interrupted by header or furniture), so furniture never lands in a chunk, and
we hold every chunk to `article.text[start:end] == chunk.text`.
"""

from __future__ import annotations

import bisect
from functools import lru_cache

from ingest.sections import section_at
from rag.ids import chunk_id_for
from rag.text import line_spans
from rag.types import Article, Chunk


def chunk_article(article: Article, chunk_tokens: int = 160, overlap_tokens: int = 30) -> list[Chunk]:
    from llama_index.core import Document

    splitter = _splitter(chunk_tokens, overlap_tokens)
    chunks: list[Chunk] = []
    for block_start, block_end in prose_blocks(article):
        block = article.text[block_start:block_end]
        section = section_at(article.sections, block_start)  # a heading starts a block: one per block
        cursor = 0
        for node in splitter.get_nodes_from_documents([Document(text=block)]):
            piece = node.get_content()
            start = _locate(block, piece, node.start_char_idx, cursor)
            cursor = start + 1
            begin, end = block_start + start, block_start + start + len(piece)
            text = article.text[begin:end]
            chunks.append(
                Chunk(
                    id="",
                    doc_id=article.doc_id,
                    index=len(chunks),
                    title=article.title,
                    date=article.date,
                    source=article.source,
                    text=text,
                    start=begin,
                    end=end,
                    section=section,
                )
            )
    return with_ids(chunks)


def prose_blocks(article: Article) -> list[tuple[int, int]]:
    """Merge body lines into blocks; a header or furniture line between two lines splits them,
    and a section heading starts a new one (so every chunk lies in one section)."""
    body = sorted(article.body)
    excluded = _excluded_line_starts(article)  # ascending
    headings = {article.text.rfind("\n", 0, start) + 1 for start, _ in article.sections}  # their lines' starts
    blocks: list[list[int]] = []
    for start, end in body:
        # Is there an excluded line between the block so far and this line? One bisection
        # instead of a scan keeps a file of alternating prose and furniture linear.
        i = bisect.bisect_right(excluded, blocks[-1][1]) if blocks else 0
        if blocks and start not in headings and not (i < len(excluded) and excluded[i] < start):
            blocks[-1][1] = end
        else:
            blocks.append([start, end])
    return [(s, e) for s, e in blocks]


def _excluded_line_starts(article: Article) -> list[int]:
    body = set(article.body)
    starts = []
    for span in line_spans(article.text):
        if article.text[span[0] : span[1]].strip() and span not in body:
            starts.append(span[0])
    return starts


def _locate(block: str, piece: str, hint: int | None, cursor: int) -> int:
    if hint is not None and hint >= 0 and block[hint : hint + len(piece)] == piece:
        return hint
    found = block.find(piece, max(0, cursor - 1))
    if found < 0:
        found = block.find(piece)
    if found < 0:
        raise ValueError("chunker produced text that is not in the article")
    return found


def with_ids(chunks: list[Chunk]) -> list[Chunk]:
    """Content-derived ids, unique within the article even where a passage repeats."""
    from collections import Counter
    from dataclasses import replace

    seen: Counter[str] = Counter()
    out = []
    for c in chunks:
        out.append(replace(c, id=chunk_id_for(c.doc_id, c.header, c.text, seen[c.text])))
        seen[c.text] += 1
    return out


@lru_cache(maxsize=8)
def _splitter(chunk_tokens: int, overlap_tokens: int):
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(
        chunk_size=chunk_tokens, chunk_overlap=overlap_tokens, include_metadata=False
    )
