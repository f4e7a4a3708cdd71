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


def chunk_id_for(doc_id: str, header: str, text: str) -> str:
    """Same text under the same header in the same article gives the same id on every run."""
    return f"{doc_id}-{_digest(header, text)[:16]}"
