"""Ingest files into the store: idempotent, batched, with a progress bar and a closing summary.

An article is unchanged when its file's fingerprint (its bytes and the reader's version) and the
chunking settings match what the store holds: then the file is not even parsed. A file with other
bytes but the same text and title is unchanged too, and nothing is embedded. A changed article
replaces its chunks. A file that cannot be read is skipped with its reason and the rest still goes
in. Each batch of articles is written under the store's `pending` marker (rag.store), and what an
interrupted run left is removed first. A file that is not indexed under its path but has the bytes
of an indexed article whose file is gone (the file was moved or renamed, or the whole project
folder was) takes that article over: its chunks and vectors are moved, nothing is read or embedded.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.chunk import chunk_article
from ingest.load import SUPPORTED, Limits, LoadError, file_fingerprint, load_article
from rag.embed import Embedder, embedding_text
from rag.ids import doc_id_for
from rag.settings import Settings
from rag.store import ChromaStore
from rag.types import Article, Chunk

if TYPE_CHECKING:
    from rag.engine import Engine

STATUSES = ("added", "updated", "moved", "unchanged", "skipped", "removed")
FLUSH_BATCHES = 16
"""Embedding batches gathered before one embed-and-write: the embedder sorts them by length
together (less padding), and the write runs while the next ones are embedded."""


@dataclass(frozen=True)
class FileResult:
    path: str
    status: str
    reason: str = ""
    chunks: int = 0
    title: str = ""


@dataclass(frozen=True)
class IngestReport:
    results: tuple[FileResult, ...] = ()
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    recovered: int = 0
    """Articles an interrupted earlier run left half-written, removed before this run."""
    keyword_index_s: float = 0.0
    """Of `seconds`, updating the BM25 index after a change (rag.bm25)."""
    touched: frozenset[str] = frozenset()
    """Doc ids of the articles whose chunks this run wrote or deleted (a recovered one too)."""

    @property
    def chunks_written(self) -> int:
        return sum(r.chunks for r in self.results if r.status in ("added", "updated"))

    @property
    def changed(self) -> bool:
        return any(r.status in ("added", "updated", "moved", "removed") for r in self.results)

    def summary(self) -> str:
        parts = ", ".join(f"{self.counts.get(s, 0)} {s}" for s in STATUSES)
        recovered = f" Cleared {self.recovered} half-written by an interrupted run." if self.recovered else ""
        bm25 = f" (keyword index {self.keyword_index_s:.1f} s)" if self.keyword_index_s >= 0.1 else ""
        return f"Articles: {parts}. Chunks written: {self.chunks_written}. {self.seconds:.1f} s{bm25}.{recovered}"


def find_files(paths: Iterable[Path]) -> tuple[list[Path], list[FileResult]]:
    """Supported files under the given paths, sorted; everything else that a person put there
    (another file type, a broken or looping link, a missing path) as a skip with its reason.
    Hidden files and folders and `.meta.json` sidecars are neither indexed nor reported."""
    found, skipped = [], []

    def consider(path: Path) -> None:
        if path.is_symlink() and not path.exists():
            skipped.append(FileResult(str(path), "skipped", "broken or looping symbolic link"))
        elif not path.is_file() or path.name.endswith(".meta.json"):
            return
        elif path.suffix.lower() in SUPPORTED:
            found.append(path)
        else:
            skipped.append(FileResult(str(path), "skipped", f"unsupported file type {path.suffix or '(none)'}"))

    for path in map(Path, paths):
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if not any(part.startswith(".") for part in p.relative_to(path).parts):
                    consider(p)
        elif path.is_file() or path.is_symlink():
            consider(path)
        else:
            skipped.append(FileResult(str(path), "skipped", "no such file or directory"))
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique, skipped


def ingest_paths(
    store: ChromaStore,
    embedder: Embedder,
    settings: Settings,
    paths: Sequence[Path],
    *,
    prune: bool = False,
    progress: bool = True,
    on_file: Callable[[FileResult], None] | None = None,
    rebuilt: bool = False,
) -> IngestReport:
    t0 = time.perf_counter()
    recovered = store.recover()
    limits = Limits(settings.max_file_mb * 1024 * 1024, settings.max_file_chars, settings.max_file_pages,
                    settings.max_file_chunks, settings.max_file_seconds)
    files, results = find_files(paths)
    # Look up just these files' articles; listing every article is needed only to prune.
    listed = store.articles() if prune else store.articles(doc_id_for(f) for f in files)
    known = {m["doc_id"]: m for m in listed}
    chunking = f"{settings.chunk_tokens}/{settings.overlap_tokens}"
    pending: list[tuple[Article, list[Chunk], str]] = []
    rehashed: dict[str, dict] = {}  # doc_id -> new file_hash of articles whose text did not change
    touched: set[str] = set(recovered)
    bar = _bar(len(files), progress)

    def emit(result: FileResult) -> None:
        results.append(result)
        if on_file:
            on_file(result)

    # Files new to the store by path: hashed now (they are read anyway) to find those that moved.
    fingerprints = {f: h for f in files if doc_id_for(f) not in known and (h := _fingerprint(f, limits.bytes))}
    moved = _moved_from(store, fingerprints, chunking, {str(f) for f in files})
    if moved:
        store.set_pending(doc_id_for(p) for p in moved)  # a kill mid-move: undone, the old article stays
        for path, old in moved.items():
            new = doc_id_for(path)
            n = store.move_article(old, new, str(path))
            touched.update((old["doc_id"], new))
            emit(FileResult(str(path), "moved", chunks=n, title=old.get("title", "")))
        store.set_pending((), bump=True)

    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-write")
    writing: list[Future] = []  # at most one batch in flight: the one under the pending marker

    def settle() -> None:
        """Wait for the batch being written (a store failure is raised here), then report its files."""
        if writing:
            for article, chunks, status in writing.pop().result():
                touched.add(article.doc_id)
                emit(FileResult(article.source, status, chunks=len(chunks), title=article.title))

    def flush() -> None:
        """Embed the pending batch, then write it in the background while the next one is read
        and embedded (Chroma writes outside the GIL: the store's time hides behind the model's)."""
        texts = [embedding_text(c.header, c.text) for _, chunks, _ in pending for c in chunks]
        vectors = iter(embedder.embed(texts))
        batch = list(pending)
        items = [(article, chunks, [next(vectors) for _ in chunks], status == "added") for article, chunks, status in batch]
        pending.clear()
        settle()
        store.set_pending(a.doc_id for a, _, _ in batch)  # a kill from here on is undone next run

        def write():
            # an added article has no old chunks: recover() cleared any a killed run left
            store.write_articles(items, chunking)
            return batch

        writing.append(writer.submit(write))

    with writer:  # on any exit, also an error, the batch in flight finishes first
        for path in files:
            bar.set_postfix_str(path.name[-40:], refresh=False)
            if path in moved:
                bar.update(1)
                continue
            try:
                # known only from a complete write: recover() removed any half-written one
                old = known.get(doc_id_for(path))
                # a new file is size-checked first (one too large was not hashed above)
                fingerprint = file_fingerprint(path) if old else fingerprints.get(path)
                if old and old.get("chunking") == chunking and old.get("file_hash") == fingerprint:
                    emit(FileResult(str(path), "unchanged", chunks=int(old["n_chunks"]), title=old.get("title", "")))
                    bar.update(1)
                    continue
                article = load_article(path, limits, fingerprint)
                if old and old.get("content_hash") == article.content_hash and old.get("chunking") == chunking:
                    # other bytes, same text (a PDF saved again): remember these bytes, skip the read next time
                    rehashed[article.doc_id] = {"file_hash": article.file_hash}
                    emit(FileResult(str(path), "unchanged", chunks=int(old.get("n_chunks", 0)), title=article.title))
                else:
                    chunks = chunk_article(article, settings.chunk_tokens, settings.overlap_tokens)
                    if not chunks:
                        raise LoadError("no article text to index")
                    if len(chunks) > limits.chunks:
                        raise LoadError(f"{len(chunks):,} chunks; the limit is {limits.chunks:,} (RAG_MAX_FILE_CHUNKS)")
                    pending.append((article, chunks, "updated" if old else "added"))
            except LoadError as exc:
                emit(FileResult(str(path), "skipped", str(exc)))
            except OSError as exc:
                emit(FileResult(str(path), "skipped", f"cannot read file: {exc.strerror or exc}"))
            except Exception as exc:  # a parser or chunker failing on one file must not stop the rest
                emit(FileResult(str(path), "skipped", f"could not be read ({type(exc).__name__}: {exc})"))
            if sum(len(c) for _, c, _ in pending) >= settings.embed_batch * FLUSH_BATCHES:
                flush()
            bar.update(1)
        if pending:
            flush()
        settle()
    if rehashed:
        store.annotate(rehashed)
    wrote = any(r.status in ("added", "updated") for r in results)
    if wrote:  # settled batches left the marker set; cleared with the version change (rag.store)
        store.set_pending((), bump=True)
    bar.close()

    if prune:
        seen = {str(p) for p in files}
        dirs = [p for p in paths if Path(p).is_dir()]
        taken = {m["doc_id"] for m in moved.values()}
        gone = [
            m for m in articles_under(known.values(), dirs)
            if m.get("source") not in seen and not Path(m.get("source", "")).exists() and m["doc_id"] not in taken
        ]
        store.delete_articles(m["doc_id"] for m in gone)
        touched.update(m["doc_id"] for m in gone)
        for m in gone:
            emit(FileResult(m["source"], "removed", title=m.get("title", "")))

    report = IngestReport(
        tuple(results), time.perf_counter() - t0, dict(Counter(r.status for r in results)), len(recovered),
        touched=frozenset(touched),
    )
    if report.changed or rebuilt:  # again: the deletes of `prune` came after
        store.bump_version()
    return report


def _fingerprint(path: Path, most: int) -> str | None:
    """A new file's fingerprint; None for one too large or unreadable (reported in its turn)."""
    try:
        return file_fingerprint(path) if 0 < path.stat().st_size <= most else None
    except OSError:
        return None


def _moved_from(store: ChromaStore, fingerprints: dict[Path, str], chunking: str, seen: set[str]) -> dict[Path, dict]:
    """The files (of `fingerprints`, new to the store by path) that hold the bytes of an indexed
    article whose file is gone, each with that article's record; chunked as now, or it is read again."""
    if not fingerprints:
        return {}
    by_hash: dict[str, list[dict]] = {}
    for m in store.articles_with(fingerprints.values()):
        source = m.get("source", "")
        if m.get("chunking") == chunking and source not in seen and not Path(source).exists():
            by_hash.setdefault(m["file_hash"], []).append(m)
    return {path: by_hash[h].pop() for path, h in fingerprints.items() if by_hash.get(h)}


def ingest_into(engine: Engine, paths: Sequence[Path] | None = None, *, prune=False, rebuild=False, progress=True,
                on_file=None) -> IngestReport:
    """Index files into the engine's store (default: its data folder). `rebuild` drops what is
    indexed from `paths` first (everything when no paths are given). One writer at a time: see
    ChromaStore.writing."""
    store = engine.store
    with store.writing():
        everything = rebuild and not paths  # which may change the embedding model: nothing to read
        before = "" if everything else store.version()
        dropped: list[str] = []
        if rebuild and paths:
            dropped = [m["doc_id"] for m in articles_under(store.articles(), paths)]
            store.delete_articles(dropped)
        elif rebuild:
            store.drop()
        report = ingest_paths(
            store,
            engine.embedder,
            engine.settings,
            list(paths or [engine.settings.data_dir]),
            prune=prune,
            progress=progress,
            on_file=on_file,
            rebuilt=rebuild,
        )
        if store.version() == before:
            return report
        # The keyword index follows here, once per change, and is saved for every process:
        # otherwise the first question after an ingest waits for it (25 s at 100,000 chunks).
        t = time.perf_counter()
        if progress:
            print("Updating the keyword index…", file=sys.stderr, flush=True)
        # What an interrupted run wrote is not known: then it is built from every chunk.
        engine.update_keywords("" if report.recovered else before, {*dropped, *report.touched})
        spent = time.perf_counter() - t
        return replace(report, seconds=report.seconds + spent, keyword_index_s=spent)


def delete_article(engine: Engine, doc_id: str, file: Path | None = None) -> None:
    """Remove an article's chunks, and its `file` too when given (an upload): the file first,
    under the write lock, so a crash between the two cannot bring the article back."""
    store = engine.store
    with store.writing():
        before = store.version()
        if file is not None:
            Path(file).unlink(missing_ok=True)
        store.delete_articles([doc_id])
        store.bump_version()
        engine.update_keywords(before, {doc_id})  # now, as after an ingest, not by the next question


def articles_under(articles: Iterable[dict], paths: Iterable[Path]) -> list[dict]:
    """The indexed articles whose source file is one of `paths` or inside one of them."""
    roots = [Path(p).resolve() for p in paths]
    return [m for m in articles if any(Path(m.get("source", "")).is_relative_to(r) for r in roots)]


def _bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="file", desc="Ingesting", disable=not enabled, leave=False)
