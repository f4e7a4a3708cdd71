"""BM25 over every chunk in the store, updated in place when articles change.

bm25s (behind llama-index's BM25Retriever) stores scores computed with the whole corpus's
statistics, so any change meant rebuilding from every chunk: 16 s at 100,000 chunks, after an
ingest of a few articles that took seconds. This index stores term counts instead and scores at
query time (same tokenizer, stopwords, stemmer and Lucene BM25 formula as bm25s), so a change is a
new *segment* holding the changed articles' chunks plus a note of which older copies are dead.

On disk, beside the store: immutable segments (`segments/<name>/`) and one manifest per store
version (`<version>.json`: its segments in order, and `dead`: doc_id -> position, meaning
that article's chunks in the segments before that position are gone). Every file is written aside
and renamed, so a reader never sees half of one. Segments are merged when there are more than
MAX_SEGMENTS or a quarter of the rows are dead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Sequence
from functools import cache
from pathlib import Path

import numpy as np

from rag.embed import embedding_text
from rag.text import STOPWORDS, number_forms, stemmer, unaccented
from rag.types import Chunk

K1, B = 1.5, 0.75  # bm25s's defaults, which this index replaced
MAX_SEGMENTS = 8
MAX_DEAD = 0.25
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's (scikit-learn's) token pattern
_WORDS = re.compile(r"[^\W\d_]{4,}")  # candidates for the spelling correction (any script's letters)
WORDS_FORMAT = 2
"""The shape of a saved segment's `words.json`; a segment saved in another is built again. 2: words
of any letters in lower case, accents kept ("hervé", which 1 cut to "herv")."""
_DAMAGED = (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile)
"""What reading a missing, partly deleted or damaged saved index raises: it is then built again."""


@cache
def _stopwords() -> frozenset[str]:
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lowercased word tokens without English stopwords, stemmed (as bm25s.tokenize does)."""
    stop = _stopwords()
    split = [[t for t in _TOKEN.findall(text.lower()) if t not in stop] for text in texts]
    unique = sorted({t for tokens in split for t in tokens})
    stems = dict(zip(unique, stemmer().stemWords(unique), strict=True))
    return [[stems[t] for t in tokens] for tokens in split]


@dataclasses.dataclass(frozen=True)
class Segment:
    """An immutable batch of chunks with their term counts (rows: chunks, columns: terms)."""

    name: str
    chunks: tuple[Chunk, ...]
    terms: dict[str, int]
    counts: object  # scipy.sparse.csc_matrix, float32
    words: frozenset[str]

    @property
    def lengths(self) -> np.ndarray:
        return np.asarray(self.counts.sum(axis=1)).ravel()

    @classmethod
    def build(cls, chunks: Sequence[Chunk]) -> Segment:
        from scipy import sparse

        tokens = tokenize([embedding_text(c.header, c.text) for c in chunks])
        terms: dict[str, int] = {}
        rows, cols = [], []
        for row, doc in enumerate(tokens):
            for t in doc:
                rows.append(row)
                cols.append(terms.setdefault(t, len(terms)))
        counts = sparse.coo_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(chunks), len(terms))
        ).tocsc()  # duplicates summed: term counts
        words = {w for c in chunks for w in _WORDS.findall(f"{c.title} {c.text}".lower())}
        return cls(uuid.uuid4().hex, tuple(chunks), terms, counts, frozenset(words))

    @classmethod
    def merge(cls, parts: Sequence[tuple[Segment, np.ndarray]]) -> Segment:
        """One segment of the live rows (`alive` masks) of several, without tokenizing again."""
        from scipy import sparse

        terms: dict[str, int] = {}
        blocks, chunks, words = [], [], set()
        for seg, alive in parts:
            local = np.array([terms.setdefault(t, len(terms)) for t in seg.terms], dtype=np.int64)
            blocks.append((seg.counts[np.flatnonzero(alive)].tocoo(), local))
            chunks += [c for c, a in zip(seg.chunks, alive, strict=True) if a]
            words |= seg.words
        counts = sparse.vstack(
            [sparse.coo_matrix((b.data, (b.row, local[b.col])), shape=(b.shape[0], len(terms))) for b, local in blocks]
        ).tocsc()
        return cls(uuid.uuid4().hex, tuple(chunks), terms, counts.astype(np.float32), frozenset(words))

    def save(self, folder: Path) -> None:
        from scipy import sparse

        target = folder / self.name
        if target.exists():
            return
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder, prefix=".building-"))
        try:
            rows = [dataclasses.astuple(c) for c in self.chunks]  # read back as Chunk(*row)
            (tmp / "chunks.json").write_text(json.dumps(rows), encoding="utf-8")
            (tmp / "terms.json").write_text(json.dumps(list(self.terms)), encoding="utf-8")
            words = {"format": WORDS_FORMAT, "words": sorted(self.words)}
            (tmp / "words.json").write_text(json.dumps(words), encoding="utf-8")
            docs = Counter(c.doc_id for c in self.chunks)
            (tmp / "docs.json").write_text(json.dumps(docs), encoding="utf-8")  # read by `extend`
            sparse.save_npz(tmp / "counts.npz", self.counts, compressed=False)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, name: str) -> Segment:
        from scipy import sparse

        path = folder / name
        chunks = tuple(Chunk(*row) for row in json.loads((path / "chunks.json").read_text(encoding="utf-8")))
        terms = {t: i for i, t in enumerate(json.loads((path / "terms.json").read_text(encoding="utf-8")))}
        words = json.loads((path / "words.json").read_text(encoding="utf-8"))
        if not isinstance(words, dict) or words.get("format") != WORDS_FORMAT:
            raise ValueError(f"segment {name} is of an older format")
        words = frozenset(words["words"])
        counts = sparse.load_npz(path / "counts.npz").tocsc()
        if counts.shape != (len(chunks), len(terms)):
            raise ValueError(f"segment {name} is damaged")
        return cls(name, chunks, terms, counts, words)


class Bm25Index:
    """BM25 over the live chunks of a list of segments, tagged with the store version it matches.

    `open` loads the version's manifest from disk (segments already in memory are reused),
    or builds one segment from every chunk and saves it; `extend` records a change as a new
    segment without reading the others."""

    def __init__(self, segments: Sequence[Segment], version: str, dead: dict[str, int] | None = None):
        self.version = version
        self.segments = tuple(segments)
        self.dead = dict(dead or {})
        self._alive = [
            np.array([not (c.doc_id in self.dead and i < self.dead[c.doc_id]) for c in seg.chunks], dtype=bool)
            for i, seg in enumerate(self.segments)
        ]
        self._rows = [c for seg in self.segments for c in seg.chunks]
        alive = np.concatenate(self._alive) if self._alive else np.zeros(0, dtype=bool)
        self._alive_all = alive
        self._lengths = [seg.lengths for seg in self.segments]
        self._offsets = np.cumsum([0] + [len(seg.chunks) for seg in self.segments])[:-1]
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0)
        self._n = int(alive.sum())
        self._avgdl = float(lengths[alive].sum() / self._n) if self._n else 1.0
        self.chunks = {c.id: c for c, a in zip(self._rows, alive, strict=True) if a}
        self._positions = {(c.doc_id, c.index): c for c in self.chunks.values()}
        # by the first letter of the word without accents: the unaccented word -> the articles'
        # spelling (of several, the first in sorted order); built on every load, so ASCII words,
        # most of an English corpus, skip the Unicode decomposition
        self._vocabulary: dict[str, dict[str, str]] = defaultdict(dict)
        self._words = frozenset().union(*(seg.words for seg in self.segments))
        for w in self._words:
            bare = w if w.isascii() else unaccented(w)
            known = self._vocabulary[bare[0]]
            if bare not in known or w < known[bare]:
                known[bare] = w

    # -- disk -----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        read_chunks: Callable[[], Iterable[Chunk]],
        version: str,
        cache: Path | None,
        previous: Bm25Index | None = None,
    ) -> Bm25Index:
        """The index for `version`: loaded from `cache` when saved there, else built from
        `read_chunks()` and saved. Segments of `previous` (an index this process holds) are reused."""
        if cache is not None and version:
            try:
                return cls.load(cache, version, previous)
            except _DAMAGED:
                pass
        chunks = list(read_chunks())
        index = cls([Segment.build(chunks)] if chunks else [], version)
        if cache is not None and version and chunks:
            with contextlib.suppress(OSError):  # a read-only or full disk: it works, it is not kept
                index.save(cache)
        return index

    @classmethod
    def load(cls, cache: Path, version: str, previous: Bm25Index | None = None) -> Bm25Index:
        names, dead = _read_manifest(cache, version)
        held = {s.name: s for s in previous.segments} if previous else {}
        segments = [held.get(name) or Segment.load(cache / "segments", name) for name in names]
        return cls(segments, version, dead)

    def save(self, cache: Path) -> None:
        """Write the segments not on disk yet and this version's manifest (rag.bm25 docstring)."""
        for seg in self.segments:
            seg.save(cache / "segments")
        _save_manifest(cache, self.version, [s.name for s in self.segments], self.dead)

    @classmethod
    def extend(
        cls, cache: Path, before: str, version: str, changed: Iterable[str], chunks: Sequence[Chunk]
    ) -> bool:
        """Save `version` as `before` with the articles `changed` replaced by `chunks` (their
        chunks now; none for a deleted article), reading only `before`'s manifest and its
        segments' article counts. False when that manifest is not on disk: the caller builds
        from the store instead."""
        try:
            names, dead = _read_manifest(cache, before)
            docs = [json.loads((cache / "segments" / n / "docs.json").read_text(encoding="utf-8")) for n in names]
        except _DAMAGED:
            return False
        # every older copy of a changed article (a new article has none to mark)
        dead.update({doc: len(names) for doc in changed if any(doc in d for d in docs)})
        total = sum(sum(d.values()) for d in docs) + len(chunks)
        gone = sum(n for i, d in enumerate(docs) for doc, n in d.items() if i < dead.get(doc, -1))
        if chunks:
            new = Segment.build(chunks)
            new.save(cache / "segments")
            names.append(new.name)
        if len(names) > MAX_SEGMENTS or (total and gone / total > MAX_DEAD):
            segments = [Segment.load(cache / "segments", n) for n in names]
            cls(segments, version, dead).compacted().save(cache)
        else:
            _save_manifest(cache, version, names, dead)
        return True

    def compacted(self) -> Bm25Index:
        """The same live chunks in one segment, with nothing dead."""
        if not self.segments:
            return self
        return Bm25Index([Segment.merge(list(zip(self.segments, self._alive, strict=True)))], self.version)

    # -- queries --------------------------------------------------------------------------
    def correct(self, query: str, common: Container[str] = frozenset()) -> str:
        """The query with names the articles never use replaced by the spelling they do use:
        written without its accents ("Herve" -> "Hervé"), in the singular or plural where they
        use the other ("Bronco's" -> "Broncos's": the constraints step compares names as
        written), or misspelled ("Nakqu" -> "Naqu"). Only capitalised words: a lowercase word
        that is not in the articles is more often absent ("tourists") or inflected ("hoped") than
        misspelled. A word in `common`, the ordinary words of the language, is no misspelling of a
        rarer one and stays ("Relegation" is not "Relation", "Sept" not "Swept")."""

        def fix(m: re.Match) -> str:
            word = m.group()
            lower = word.lower()
            if not word[0].isupper() or lower in STOPWORDS or lower in self._words:
                return word
            bare = unaccented(lower)
            known = self._vocabulary[bare[0]]
            found = next((w for w in (bare, *number_forms(bare)) if w in known), None)
            if found is None and lower not in common:
                found = next(iter(difflib.get_close_matches(bare, known, n=1, cutoff=0.8)), None)
            return known[found].capitalize() if found else word

        return _WORDS.sub(fix, query)

    def scores(self, query: str) -> np.ndarray:
        """BM25 (Lucene variant) of every row for `query`; 0 for dead rows."""
        out = np.zeros(len(self._rows), dtype=np.float32)
        if not self._n:
            return out
        columns = []
        for term in tokenize([query])[0]:
            postings, df = [], 0
            for seg, alive, offset, lengths in zip(self.segments, self._alive, self._offsets, self._lengths, strict=True):
                col = seg.terms.get(term)
                if col is None:
                    continue
                lo, hi = seg.counts.indptr[col], seg.counts.indptr[col + 1]
                rows, tf = seg.counts.indices[lo:hi], seg.counts.data[lo:hi]
                df += int(alive[rows].sum())
                postings.append((offset + rows, lengths[rows], tf))
            columns.append((df, postings))  # df over every segment first: the idf needs it
        for df, postings in columns:
            if not df:
                continue
            idf = np.log(1 + (self._n - df + 0.5) / (df + 0.5))
            for rows, lengths, tf in postings:
                out[rows] += idf * tf / (K1 * ((1 - B) + B * lengths / self._avgdl) + tf)
        out[~self._alive_all] = 0
        return out

    def search(self, query: str, k: int, exclude: frozenset[str] = frozenset()) -> list[tuple[Chunk, float]]:
        """Top-k chunks by BM25, leaving out the articles in `exclude` (doc ids)."""
        if not self._n or not query.strip() or k <= 0:
            return []
        scores = self.scores(query)
        hits = np.flatnonzero(scores > 0)
        want = k + (64 if exclude else 0)
        if len(hits) > want:
            hits = hits[np.argpartition(-scores[hits], want)[:want]]
        found = self._sorted(hits, scores, exclude)
        if len(found) < k and len(hits) == want:  # more than 64 chunks of excluded articles
            found = self._sorted(np.flatnonzero(scores > 0), scores, exclude)
        return found[:k]

    def _sorted(self, rows: np.ndarray, scores: np.ndarray, exclude: frozenset[str]) -> list[tuple[Chunk, float]]:
        """Best first; ties by chunk id, so the order does not depend on how segments fell."""
        found = [(self._rows[i], float(scores[i])) for i in rows if self._rows[i].doc_id not in exclude]
        return sorted(found, key=lambda cs: (-cs[1], cs[0].id))

    def neighbour(self, doc_id: str, index: int) -> Chunk | None:
        """The chunk at `index` in its article, if there is one."""
        return self._positions.get((doc_id, index))


def _read_manifest(cache: Path, version: str) -> tuple[list[str], dict[str, int]]:
    """(segment names in order, dead: doc_id -> position) saved for `version`."""
    manifest = json.loads((cache / f"{version}.json").read_text(encoding="utf-8"))
    return [str(n) for n in manifest["segments"]], {str(k): int(v) for k, v in manifest["dead"].items()}


def _save_manifest(cache: Path, version: str, names: list[str], dead: dict[str, int]) -> None:
    """Write `version`'s manifest (aside, then renamed), then remove the manifests of earlier
    versions and the segments it does not name: they are never asked for again."""
    (cache / "segments").mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=".manifest-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"segments": names, "dead": dead}, f)
    os.replace(tmp, cache / f"{version}.json")
    for old in cache.iterdir():
        if old.name.startswith(".") or old.name in (f"{version}.json", "segments"):
            continue
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    for seg in (cache / "segments").iterdir():
        if seg.name not in names and not seg.name.startswith("."):
            shutil.rmtree(seg, ignore_errors=True)
