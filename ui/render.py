"""HTML for the chat page: answers with clickable markers, source cards with the quote marked.

Pure functions of an `Answer` (plus the article text for the full-article view), so they are
tested without a browser. Everything from an article, a model or a user goes through
`safe_text`, so the markup in a bubble is only the markup built here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.text import CITED
from rag.types import Answer, Citation, Hit

# Characters that Markdown, autolinking or LaTeX could act on, written as character references:
# a planted "[x](javascript:...)" or "![](http://host/?q=...)" then shows as the text it is.
_INERT = str.maketrans({c: f"&#{ord(c)};" for c in "[]()!*_`~#|\\$:{}<>&\"'="})


def safe_text(text: str) -> str:
    """Untrusted text as inert HTML: escaped, and with nothing a Markdown renderer would parse."""
    return text.translate(_INERT)


def draft_html(text: str) -> str:
    """The model's text while it streams: marked as a draft, since it is not yet verified."""
    return f'<div class="draft"><span class="draft-label">Draft, not yet checked:</span> {safe_text(text)} ▍</div>'


def answer_html(answer: Answer) -> str:
    """The answer bubble: each `[n]` becomes a link to source card n."""
    if answer.refused:
        body = f'<div class="refusal">⚠ {safe_text(answer.text)}</div>'
        if answer.why_refused:
            body += f'<div class="why">{safe_text(answer.why_refused)}</div>'
    else:
        body = "".join(
            f'<a class="cite" href="#cite-{piece}" title="Show source {piece}">[{piece}]</a>' if i % 2 else safe_text(piece)
            for i, piece in enumerate(CITED.split(answer.text))
        )
    if answer.not_answered:
        body += f'<div class="why">{safe_text(answer.not_answered)}</div>'
    if answer.searched and answer.searched != answer.question:
        body += f'<div class="searched">Searched: {safe_text(answer.searched)}</div>'
    return body


def sources_html(answer: Answer, article_text: Callable[[str], str | None]) -> str:
    """The side panel: cited sources, or for a refusal the closest passages."""
    if answer.refused or not answer.citations:
        if not answer.hits:
            return '<div class="sources empty">No related passages.</div>'
        items = "".join(_related(i, h) for i, h in enumerate(answer.hits, 1))
        return f'<div class="sources"><h3>Related passages</h3>{items}</div>'
    hits = {h.chunk.id: h for h in answer.hits}
    cards = "".join(_card(c, hits.get(c.chunk_id), article_text(c.source)) for c in answer.citations)
    return f'<div class="sources"><h3>Sources</h3>{cards}</div>'


def error_html(message: str) -> str:
    return f'<div class="error">{safe_text(message)}</div>'


def highlight(text: str, start: int, end: int) -> str:
    """Escape text and wrap text[start:end] in <mark>; out-of-range spans mark nothing."""
    if not 0 <= start < end <= len(text):
        return safe_text(text)
    return (
        safe_text(text[:start])
        + f'<mark class="quote">{safe_text(text[start:end])}</mark>'
        + safe_text(text[end:])
    )


def _card(c: Citation, hit: Hit | None, full_text: str | None) -> str:
    meta = " · ".join(x for x in (c.section, c.date, Path(c.source).name) if x)
    if hit is not None:
        chunk = hit.chunk
        passage = highlight(chunk.text, c.start - chunk.start, c.end - chunk.start)
    else:
        passage = f'<mark class="quote">{safe_text(c.quote)}</mark>'
    article = ""
    if full_text is not None and full_text[c.start : c.end] == c.quote:
        article = (
            "<details><summary>Whole article</summary>"
            f'<div class="article">{highlight(full_text, c.start, c.end)}</div></details>'
        )
    return (
        f'<div class="source-card" id="cite-{c.n}"><div class="source-head"><b>[{c.n}]</b> '
        f"{safe_text(c.title)}</div><div class=\"source-meta\">{safe_text(meta)} · chars {c.start}–{c.end}</div>"
        f'<div class="passage">{passage}</div>{article}</div>'
    )


def _related(i: int, h: Hit) -> str:
    meta = " · ".join(x for x in (h.chunk.date, Path(h.chunk.source).name) if x)
    return (
        f'<div class="source-card related"><div class="source-head">{i}. {safe_text(h.chunk.title)}</div>'
        f'<div class="source-meta">{safe_text(meta)}</div>'
        f'<div class="passage">{safe_text(h.chunk.text)}</div></div>'
    )
