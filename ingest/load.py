"""Turn a file into an `Article`: plain text, metadata, and which spans are prose.

Formats: .txt, .md, .html/.htm, .pdf. A file that cannot be read raises `LoadError` with a
reason a person can act on; the caller skips it and goes on with the rest.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.sections import find_sections
from rag.ids import doc_id_for
from rag.text import line_spans
from rag.types import Article

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")


@dataclass(frozen=True)
class Limits:
    """Bounds on one file, so a single input cannot take hours or all memory. A file over a
    bound is skipped with the bound named; the defaults hold a 500-page report."""

    bytes: int = 50 * 1024 * 1024
    chars: int = 3_000_000
    """About 750,000 tokens: some 8,000 chunks, a few minutes of embedding on 2 cores."""
    pages: int = 1500
    chunks: int = 10_000
    """Text without sentences or spaces splits into many small chunks: each is embedded."""
    seconds: float = 300.0
    """For reading a PDF, checked between pages."""


# Page furniture of news sites: kept in metadata, never in a chunk.
FURNITURE = re.compile(
    r"^\s*(editor in charge|responsible editor|editor:|sponsor\b|sponsored by|tel\b|telephone\b|"
    r"website id\b|public security record|record no\b|icp\b|technical support\b|copyright\b|"
    r"all rights reserved|\(?reporter\b[^)]*\)?\s*$|责任编辑|主办|版权所有)",
    re.IGNORECASE,
)
DATE = re.compile(r"(?<!\d)(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})(?!\d)日?")
SOURCE = re.compile(r"\bsource\s*[:：]\s*(.+?)\s*$", re.IGNORECASE)


class LoadError(Exception):
    """A file that cannot become an article; the message says why."""


def file_fingerprint(path: Path) -> str:
    """What decides whether a file must be read again: its bytes, its metadata sidecar's, and
    the reader itself (this module, the section finder and the parser libraries, so a better
    extractor re-reads everything once). Hashing runs at about 1 GB/s; parsing a paper takes seconds."""
    h = hashlib.sha256(_READER.encode())
    for part in (path, path.with_name(path.stem + ".meta.json")):
        if part is path or part.exists():
            with open(part, "rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
        h.update(b"\x00")
    return h.hexdigest()[:32]


def _reader_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return ""

    own = hashlib.sha256(b"".join(Path(__file__).with_name(f).read_bytes() for f in ("load.py", "sections.py"))).hexdigest()
    return f"{own} pypdf {installed('pypdf')} bs4 {installed('beautifulsoup4')}"


_READER = _reader_version()


def load_article(path: Path, limits: Limits = Limits(), fingerprint: str | None = None) -> Article:  # noqa: B008 - frozen, shared
    """`fingerprint`: the file's, when the caller has just taken it (it is taken here otherwise)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise LoadError(f"unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED)}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise LoadError("file is empty")
    if size > limits.bytes:
        raise LoadError(f"file is {size / 2**20:.0f} MiB; the limit is {limits.bytes // 2**20} MiB")
    fingerprint = fingerprint or file_fingerprint(path)  # before reading: a file changed meanwhile is read again next run

    if suffix == ".pdf":
        text, meta = _read_pdf(path, limits)
    elif suffix in (".html", ".htm"):
        text, meta = _read_html(_decode(path.read_bytes()))
    else:
        text, meta = _decode(path.read_bytes()), {}
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise LoadError("no text could be extracted")
    if len(text) > limits.chars:
        raise LoadError(f"{len(text):,} characters of text; the limit is {limits.chars:,} (RAG_MAX_FILE_CHARS)")

    sections = find_sections(text, suffix, meta.pop("headings", None))
    meta = {**meta, **_sidecar(path)}
    article = parse_article(text, source=str(path), doc_id=doc_id_for(path), meta=meta)
    return replace(article, file_hash=fingerprint, sections=sections)


def parse_article(text: str, *, source: str, doc_id: str, meta: dict | None = None) -> Article:
    """Split text into header, prose and furniture. Pure: no file access."""
    meta = meta or {}
    lines = list(line_spans(text))
    nonempty = [(s, e) for s, e in lines if text[s:e].strip()]
    if not nonempty:
        raise LoadError("no text could be extracted")

    title_span = nonempty[0]
    title = text[title_span[0] : title_span[1]].strip().lstrip("#").strip()
    excluded = {title_span}
    date, publisher = None, None
    for span in nonempty[1:4]:
        line = text[span[0] : span[1]]
        d, s = DATE.search(line), SOURCE.search(line)
        if (d or s) and len(line.split()) <= 20:
            excluded.add(span)
            if d and not date:
                date = f"{d.group(1)}-{int(d.group(2)):02d}-{int(d.group(3)):02d}"
            if s and not publisher:
                publisher = s.group(1)
    furniture = []
    for span in nonempty:
        line = text[span[0] : span[1]]
        if span not in excluded and FURNITURE.search(line) and len(line.split()) <= 40:
            excluded.add(span)
            furniture.append(line.strip())
    body = tuple(span for span in nonempty if span not in excluded)
    if not body:
        raise LoadError("the file has a title but no article text")

    return Article(
        doc_id=doc_id,
        source=source,
        title=meta.get("title") or title,
        date=meta.get("date", date),
        publisher=meta.get("publisher", publisher),
        text=text,
        body=body,
        furniture=tuple(furniture),
        original_file=meta.get("original_file") or Path(source).name,
    )


def _decode(data: bytes) -> str:
    for bom, encoding in ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):  # UTF-16 text has NULs
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoadError(f"starts as UTF-16 but is not ({exc.reason})") from exc
    if b"\x00" in data[:4096]:
        raise LoadError("binary data (NUL bytes): not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding in ("utf_8",):
        raise LoadError(
            f"not UTF-8 text ({utf8_error.reason} at byte {utf8_error.start}) and no other "
            "encoding fits; convert it, e.g. `iconv -f cp1252 -t utf-8`"
        )
    # Short Western texts fool the detector between cp1250/cp1252/latin-*; news in those
    # encodings is overwhelmingly cp1252. Multi-byte guesses (GB18030, Shift-JIS…) stand.
    if re.match(r"(cp125\d|latin_\d|iso8859_\d+|mac_)", best.encoding):
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            pass
    return str(best)


def _read_html(html: str) -> tuple[str, dict]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    meta: dict = {}
    for attr in ("article:published_time", "date", "pubdate", "publishdate"):
        tag = soup.find("meta", attrs={"property": attr}) or soup.find("meta", attrs={"name": attr})
        if tag and tag.get("content") and DATE.search(tag["content"]):
            d = DATE.search(tag["content"])
            meta["date"] = f"{d.group(1)}-{int(d.group(2)):02d}-{int(d.group(3)):02d}"
            break
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "aside", "form"]):
        tag.decompose()
    heading = soup.find("h1")
    title_tag = soup.find("title")
    title = (heading or title_tag).get_text(" ", strip=True) if (heading or title_tag) else ""
    if heading:
        heading.decompose()
    meta["headings"] = [h.get_text(" ", strip=True) for h in soup.find_all(["h2", "h3", "h4", "h5", "h6"])]
    if title_tag:
        title_tag.decompose()
    blocks = _html_blocks(soup.body or soup)
    if not blocks:
        blocks = [ln.strip() for ln in soup.get_text("\n").splitlines() if ln.strip()]
    return "\n\n".join([title, *blocks] if title else blocks), meta


_BLOCK_TAGS = frozenset({"p", "li", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "th", "dd", "dt"})


def _html_blocks(root) -> list[str]:
    """Each block element's own text (not its nested blocks'), in document order.

    One pass with an explicit stack: no recursion (deeply nested markup) and no per-element
    search of its descendants (which was quadratic on thousands of unclosed <li>)."""
    from bs4 import NavigableString, Tag
    from bs4.element import Comment

    texts: list[list[str]] = [[]]  # texts[0]: text outside any block
    stack = [(root, 0)]
    while stack:
        node, block = stack.pop()
        if isinstance(node, Tag):
            if node.name in _BLOCK_TAGS:
                texts.append([])
                block = len(texts) - 1
            stack.extend((child, block) for child in reversed(node.contents))
        elif isinstance(node, NavigableString) and not isinstance(node, Comment):
            texts[block].append(str(node))
    blocks = [re.sub(r"\s+", " ", " ".join(parts)).strip() for parts in texts[1:]]
    return [b for b in blocks if b]


def _read_pdf(path: Path, limits: Limits) -> tuple[str, dict]:
    import logging

    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise LoadError("reading PDF needs the pypdf package") from exc
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes are not the user's business
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise LoadError("PDF is encrypted")
        if len(reader.pages) > limits.pages:
            raise LoadError(f"{len(reader.pages)} pages; the limit is {limits.pages} (RAG_MAX_FILE_PAGES)")
        deadline = time.monotonic() + limits.seconds
        pages, chars = [], 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            chars += len(pages[-1])
            if chars > limits.chars:
                raise LoadError(f"more than {limits.chars:,} characters of text (RAG_MAX_FILE_CHARS)")
            if time.monotonic() > deadline:
                raise LoadError(f"reading it took more than {limits.seconds:g} s (RAG_MAX_FILE_SECONDS)")
        title = str((reader.metadata or {}).get("/Title") or "")
    except (PyPdfError, ValueError, KeyError, OSError, RecursionError) as exc:
        raise LoadError(f"corrupt or unreadable PDF: {exc}") from exc
    meta = {"title": " ".join(title.split())} if _plausible_title(title) else {}
    meta["headings"] = _outline(reader)
    return pdf_text(pages), meta


def _outline(reader) -> list[str]:
    """The PDF's bookmarks in reading order, flattened; none when it has none or they are broken
    (the text's own numbered headings are used instead, ingest.sections)."""
    out: list[str] = []
    try:
        stack = [iter(reader.outline)]
        while stack and len(out) < 2000:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
            elif isinstance(item, list):
                stack.append(iter(item))
            else:
                out.append(str(item.title or ""))
    except Exception:  # noqa: BLE001 - a broken outline costs the section names, never the file
        return []
    return [t for t in out if t.strip()]


_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                            "\ufb05": "st", "\ufb06": "st", "\u00ad": ""})
_HYPHENATED = re.compile(r"([a-z])-\n([a-z])")
# arXiv's side stamp ("arXiv:1907.11692v1 [cs.CL] 26 Jul 2019") and a venue banner ("Published as
# a conference paper at ICLR 2021") are page furniture, not prose and not the title.
_PDF_FURNITURE = re.compile(
    r"^\s*(arxiv:\d{4}\.\d{4,5}|(published|accepted) (as|at|in)\b.{0,80}\b(conference|workshop|journal|proceedings)\b"
    r"|under review as\b|preprint\.? under review)",
    re.IGNORECASE,
)


def pdf_text(pages: list[str]) -> str:
    """Page texts as prose: ligatures spelled out, words hyphenated across lines joined, and
    furniture dropped (arXiv stamps, venue banners, lines repeated on many pages such as running
    heads, bare page numbers). Pure."""
    pages = [p.translate(_LIGATURES) for p in pages]
    counts: dict[str, int] = {}
    for page in pages:
        lines = [ln for ln in page.splitlines() if ln.strip()]
        for key in {_line_key(ln) for ln in lines[:3] + lines[-3:]}:  # where running heads sit
            counts[key] = counts.get(key, 0) + 1
    repeated = {k for k, n in counts.items() if len(pages) >= 4 and n >= max(3, len(pages) // 3)}
    out = []
    for page in pages:
        lines = [
            ln.rstrip()
            for ln in page.splitlines()
            if not (_PDF_FURNITURE.search(ln) or _line_key(ln) in repeated or re.fullmatch(r"\s*\d{1,4}\s*", ln))
        ]
        text = _HYPHENATED.sub(r"\1\2", "\n".join(lines)).strip()
        if text:
            out.append(text)
    return "\n\n".join(out)


def _line_key(line: str) -> str:
    """A line with its digits masked, so "Page 3" and "Page 4" are the same running line."""
    return re.sub(r"\d+", "#", " ".join(line.split())).lower()


def _plausible_title(title: str) -> bool:
    """PDF metadata titles are often empty, a file name, or "untitled"."""
    words = title.split()
    return (
        2 <= len(words) <= 40
        and not re.search(r"\.(dvi|tex|docx?|pdf|ps)\b|^untitled|^microsoft word", title, re.IGNORECASE)
    )


def _sidecar(path: Path) -> dict:
    """Metadata a person wrote down beside the file (`name.meta.json`) beats what we guess."""
    side = path.with_name(path.stem + ".meta.json")
    if not side.exists():
        return {}
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LoadError(f"metadata file {side.name} is not valid JSON: {exc}") from exc
    return {k: data[k] for k in ("title", "date", "publisher", "original_file") if k in data}
