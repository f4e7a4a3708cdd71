"""HTML for the chat page: answers with clickable markers, source cards with the quote marked.

Pure functions of an `Answer` (plus the article text for the full-article view), so they are
tested without a browser. Everything from an article or a model is escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

from rag.types import Answer, Citation, Hit

_MARKER = re.compile(r"\[(\d+)\]")


def answer_html(answer: Answer) -> str:
    """The answer bubble: each `[n]` becomes a link to source card n."""
    if answer.refused:
        body = f'<div class="refusal">⚠ {html.escape(answer.text)}</div>'
    else:
        body = _MARKER.sub(
            lambda m: f'<a class="cite" href="#cite-{m.group(1)}" title="Show source {m.group(1)}">[{m.group(1)}]</a>',
            html.escape(answer.text),
        )
    if answer.searched and answer.searched != answer.question:
        body += f'<div class="searched">Searched: {html.escape(answer.searched)}</div>'
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
    return f'<div class="error">{html.escape(message)}</div>'


def highlight(text: str, start: int, end: int) -> str:
    """Escape text and wrap text[start:end] in <mark>; out-of-range spans mark nothing."""
    if not 0 <= start < end <= len(text):
        return html.escape(text)
    return (
        html.escape(text[:start])
        + f'<mark class="quote">{html.escape(text[start:end])}</mark>'
        + html.escape(text[end:])
    )


def _card(c: Citation, hit: Hit | None, full_text: str | None) -> str:
    meta = " · ".join(x for x in (c.date, Path(c.source).name) if x)
    if hit is not None:
        chunk = hit.chunk
        passage = highlight(chunk.text, c.start - chunk.start, c.end - chunk.start)
    else:
        passage = f'<mark class="quote">{html.escape(c.quote)}</mark>'
    article = ""
    if full_text is not None and full_text[c.start : c.end] == c.quote:
        article = (
            "<details><summary>Whole article</summary>"
            f'<div class="article">{highlight(full_text, c.start, c.end)}</div></details>'
        )
    return (
        f'<div class="source-card" id="cite-{c.n}"><div class="source-head"><b>[{c.n}]</b> '
        f"{html.escape(c.title)}</div><div class=\"source-meta\">{html.escape(meta)} · chars {c.start}–{c.end}</div>"
        f'<div class="passage">{passage}</div>{article}</div>'
    )


def _related(i: int, h: Hit) -> str:
    meta = " · ".join(x for x in (h.chunk.date, Path(h.chunk.source).name) if x)
    return (
        f'<div class="source-card related"><div class="source-head">{i}. {html.escape(h.chunk.title)}</div>'
        f'<div class="source-meta">{html.escape(meta)}</div>'
        f'<div class="passage">{html.escape(h.chunk.text)}</div></div>'
    )
