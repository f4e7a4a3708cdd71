"""Stable identifiers: derived from content or location, never from time or order."""

from __future__ import annotations

import hashlib
from pathlib import Path


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def doc_id_for(path: Path) -> str:
    """An article is identified by where it lives, so an edited file replaces its old chunks."""
    return _digest(str(Path(path).resolve()))[:16]


def content_hash(*parts: str) -> str:
    return _digest(*parts)[:32]


def chunk_id_for(doc_id: str, header: str, text: str, occurrence: int = 0) -> str:
    """Same text under the same header in the same article gives the same id on every run.

    `occurrence` counts earlier chunks of the article with the same text (a paragraph or table
    repeated in a paper), so ids are unique within an article by construction."""
    parts = (header, text, str(occurrence)) if occurrence else (header, text)
    return f"{doc_id}-{_digest(*parts)[:16]}"
