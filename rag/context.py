"""What the model reads: each retrieved chunk widened to its neighbourhood in its article.

Small chunks rank well (one fact, little noise) but are too little to answer "how" or "why",
or a fact whose subject sits one sentence earlier. So ranking stays on small chunks, and each
of the top hits is widened with the chunks before and after it, up to a token budget; windows
of one article that meet are merged into one passage. A window is itself an exact slice of the
article (`text == article.text[start:end]`), so citations still quote one sentence of it with
exact offsets. A window that repeats one already kept from another article (the same wire story
filed by several papers, a file indexed twice) is dropped, so the k passages are k texts. Pure
functions.
"""

from __future__ import annotations

import re
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
    better-ranked one, and one that repeats the text of a better-ranked one is dropped. Order and
    scores are kept."""
    out: list[Hit] = []
    for hit in hits:
        chunk = _grow(hit.chunk, neighbour, window_tokens)
        for i, kept in enumerate(out):
            merged = _merge(kept.chunk, chunk)
            if merged is not None:
                out[i] = replace(kept, chunk=merged)
                break
        else:
            if not any(repeats(chunk.text, kept.chunk.text) for kept in out):
                out.append(replace(hit, chunk=chunk))
    return out


def repeats(text: str, other: str, share: float = 0.8) -> bool:
    """Whether most of the shorter text's five-word sequences are in the other: the same text
    filed twice, also under another headline, cut at other places or with a line changed."""
    a, b = _shingles(text), _shingles(other)
    return bool(a and b) and len(a & b) >= share * min(len(a), len(b))


def _shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))} if words else set()


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
