"""Where each section of a document starts, so a passage can say which section it is from.

A citation of "We find that removing the NSP loss matches or slightly improves downstream task
performance" says more with "4.2 Model Input Format and Next Sentence Prediction" beside it, and
a chunk that stops at a heading reads as one piece: a heading starts a new chunk
(ingest.chunk.prose_blocks), and each chunk keeps its section's heading.

The headings come from what the file says about itself where it can: a PDF's outline (the
bookmarks LaTeX and word processors write), HTML's h2-h6, Markdown's `#` lines. A PDF without
an outline falls back to the typographic convention of papers and reports (`numbered`). Plain
text has no headings: a numbered line in a news story is more often a list item.
"""

from __future__ import annotations

import re

from rag.text import line_spans

Sections = tuple[tuple[int, str], ...]
"""(offset in the article text where a section starts, its heading), ascending."""

_NUMBERED = re.compile(r"(?P<num>(?:\d{1,2}|[A-H])(?:\.\d{1,2})*)\.?\s+(?P<name>[A-Z][^\n]*)")
_UNNUMBERED = re.compile(
    r"(abstract|references|bibliography|acknowledge?ments?|conclusions?)\s*",
    re.IGNORECASE,
)
_SECTION_NUMBER = re.compile(r"(?:\d{1,2}|[A-Z])(?:\.\d{1,2})*\.?")
_MARKDOWN = re.compile(r"#{1,6}\s+(?P<name>\S[^\n]*?)\s*#*\s*")
MAX_HEADING_WORDS = 14
MAX_HEADING_CHARS = 200


def section_at(sections: Sections, offset: int) -> str:
    """The heading of the section holding `offset` ("" before the first heading)."""
    import bisect

    i = bisect.bisect_right([s for s, _ in sections], offset) - 1
    return sections[i][1] if i >= 0 else ""


def find_sections(text: str, kind: str, headings: list[str] | None = None) -> Sections:
    """`kind` is the file's suffix; `headings`, the titles the file lists (PDF outline, HTML h2-h6).
    A heading is stored with every chunk of its section, so one longer than `MAX_HEADING_CHARS`
    (a Markdown line can be anything) is cut."""
    return tuple((start, _short(" ".join(title.split()))) for start, title in _find(text, kind, headings))


def _short(title: str) -> str:
    return title if len(title) <= MAX_HEADING_CHARS else title[: MAX_HEADING_CHARS - 1].rstrip() + "…"


def _find(text: str, kind: str, headings: list[str] | None) -> Sections:
    if kind == ".pdf":
        if not headings:
            return numbered(text)
        return tuple(sorted({*locate(text, headings), *standard(text)}))  # outlines often omit these
    if headings:
        return locate(text, headings)
    if kind in (".md", ".markdown"):
        return tuple((start, m.group("name")) for start, end in line_spans(text) if (m := _MARKDOWN.fullmatch(text[start:end])))
    return ()


def locate(text: str, headings: list[str]) -> Sections:
    """Each heading found as the start of a line, in order, after the previous one. A heading
    may wrap over lines in the text; one that is not found (a figure title in an outline, a
    heading inside a dropped running head) is skipped, and the search goes on from where it was.
    Case and a section number's trailing dot may differ between outline and text."""
    out: list[tuple[int, str]] = []
    pos = 0
    for heading in headings:
        words = heading.split()
        if not words or len(words) > 3 * MAX_HEADING_WORDS:
            continue
        parts = [re.escape(w) for w in words]
        if _SECTION_NUMBER.fullmatch(words[0]):
            parts[0] = re.escape(words[0].rstrip(".")) + r"\.?"  # "1 Introduction" is "1. Introduction" in the text
        pattern = re.compile(r"(?im)^[ \t]*(" + r"\s+".join(parts) + r")(?![^\n]*?(\.\s*){3})(?!\s*\d{1,4}\s*$)")
        found = pattern.search(text, pos)  # not a table-of-contents line: no dot leaders, no page number after
        if found:
            out.append((found.start(1), " ".join(words)))
            pos = found.end()
    return tuple(out)


def numbered(text: str) -> Sections:
    """Headings of papers and reports without an outline: a short line that starts with a
    section number and a capitalised name ("4.1 Static vs. Dynamic Masking", "A.2 ERROR
    ANALYSIS"), accepted only when its number continues the sequence of those before it (so
    "2018), GPT (Radford ..." and table rows are not headings), plus the unnumbered sections
    papers share (Abstract, References, Acknowledgments, Appendix). Table-of-contents lines
    (ending in a page number) are not headings, so the body's own "1 Introduction" still is."""
    out = list(standard(text))
    last: tuple[str, ...] | None = None
    for start, line in _content_lines(text):
        h = _NUMBERED.fullmatch(line)
        if (
            not h
            or len(line.split()) > MAX_HEADING_WORDS
            or line.endswith((".", ",", ";", ":"))
            or _PAGE_REFERENCE.search(line)
            or sum(c.isalpha() for c in h.group("name")) < 3
        ):
            continue
        number = tuple(h.group("num").split("."))
        if _follows(last, number):
            out.append((start, line))
            last = number
    return tuple(sorted(out))


def standard(text: str) -> Sections:
    """The unnumbered sections papers share, each alone on its line: Abstract, Acknowledgments,
    References (so a passage from the bibliography says so), Conclusion."""
    return tuple((start, name) for start, line in _content_lines(text) if _UNNUMBERED.fullmatch(name := line.rstrip(".:")))


_PAGE_REFERENCE = re.compile(r"(\.\s*){3,}\d*$|\s\d{1,4}$")


def _follows(last: tuple[str, ...] | None, number: tuple[str, ...]) -> bool:
    """Whether section `number` can come next after `last`: 1 first; after 2.1, one of 2.1.1,
    2.2 or 3; an appendix letter (A or A.1) after any numbered section, then B after A."""
    if last is None:
        return number == ("1",)
    if number[0].isalpha() != last[0].isalpha():
        return number[0] == "A" and number[1:] in ((), ("1",))  # into the appendices, never back
    for depth in range(len(last)):
        if number[:depth] == last[:depth] and len(number) == depth + 1 and _next(last[depth], number[depth]):
            return True
    return number[: len(last)] == last and len(number) == len(last) + 1 and number[-1] == "1"


def _next(a: str, b: str) -> bool:
    return ord(b) == ord(a) + 1 if a.isalpha() else b.isdigit() and int(b) == int(a) + 1


def _content_lines(text: str):
    """(offset of its first non-blank character, the line stripped) for each line."""
    for start, end in line_spans(text):
        line = text[start:end]
        yield start + len(line) - len(line.lstrip()), line.strip()
