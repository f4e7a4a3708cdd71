"""What the model reads: each retrieved chunk widened to its neighbourhood in its article.

Small chunks rank well (one fact, little noise) but are too little to answer "how" or "why",
or a fact whose subject sits one sentence earlier. So ranking stays on small chunks, and each
of the top hits is widened with the chunks before and after it, up to a token budget; windows
of one article that meet are merged into one passage. A window is itself an exact slice of the
article (`text == article.text[start:end]`), so citations still quote one sentence of it with
exact offsets. Pure functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from rag.types import Chunk, Hit

Neighbour = Callable[[str, int], Chunk | None]


def tokens(text: str) -> int:
    """A cheap token estimate (about four characters a token for English with this tokenizer)."""
    return (len(text) + 3) // 4


def widen(hits: Sequence[Hit], neighbour: Neighbour, window_tokens: int) -> list[Hit]:
    """Each hit's chunk grown to at most `window_tokens` with contiguous neighbours (the next one
    first, then the previous one, in turn); hits whose windows overlap are merged into the
    better-ranked one. Order and scores are kept."""
    out: list[Hit] = []
    for hit in hits:
        chunk = _grow(hit.chunk, neighbour, window_tokens)
        for i, kept in enumerate(out):
            merged = _merge(kept.chunk, chunk)
            if merged is not None:
                out[i] = replace(kept, chunk=merged)
                break
        else:
            out.append(replace(hit, chunk=chunk))
    return out


def _grow(centre: Chunk, neighbour: Neighbour, budget: int) -> Chunk:
    window = centre
    edge = {+1: centre.index + 1, -1: centre.index - 1}  # the next chunk to try on each side
    while edge:
        for step in (+1, -1):
            if step not in edge:
                continue
            other = neighbour(centre.doc_id, edge[step])
            grown = _merge(window, other) if other else None
            if grown is None or tokens(grown.text) > budget:
                del edge[step]
            else:
                window, edge[step] = grown, edge[step] + step
    return window


def _merge(a: Chunk, b: Chunk) -> Chunk | None:
    """One chunk covering both when they are slices of one article that overlap or touch;
    None otherwise (a gap may hold page furniture, which never reaches the model)."""
    if a.doc_id != b.doc_id:
        return None
    first, second = (a, b) if a.start <= b.start else (b, a)
    if second.start > first.end:
        return None
    if second.end <= first.end:
        return replace(a, start=first.start, end=first.end, text=first.text)
    text = first.text + second.text[first.end - second.start :]
    return replace(a, start=first.start, end=second.end, text=text)
