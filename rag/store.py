"""Chroma adapter: embedded PersistentClient by default, HttpClient when a host is set.

We always pass our own vectors: chromadb's default embedding function would download a model.
The collection's metadata records the embedding model and dimension (a mismatch is an error
that says how to re-index), a `version` that changes on every write, so caches built
from the collection (BM25) know when they are stale, and `pending`: the articles being written.

Crash safety: an article's id goes into `pending` before any of its chunks are written and out
after the last write. Readers leave pending articles out of every search, and the next writer
deletes their chunks (`recover`) before it ingests, so an article killed half-way (between pages
of a long article, or between an update's upsert and its delete) is absent, then re-added whole.
The embedded store has one writer at a time (`writing`, a lock file); a Chroma server orders
concurrent writes itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from rag.settings import Settings
from rag.types import Article, Chunk

PAGE = 1000
READ_PAGE = 5000  # each offset read rescans: 1,000 a page read 100,000 chunks in 16 s, 5,000 in 8 s


class StoreError(RuntimeError):
    """The vector store cannot be used; the message names the fix."""


class ChromaStore:
    def __init__(self, settings: Settings, embed_model: str, embed_dim: int):
        self.settings = settings
        self.embed_model = embed_model
        self.embed_dim = embed_dim
        self.client = _client(settings)
        self._collection = None

    @property
    def cache_dir(self) -> Path:
        """Where indexes derived from this collection are kept: beside an embedded store, or
        under RAG_CACHE_DIR (one folder per server and collection) for a Chroma server."""
        s = self.settings
        if s.chroma_host:
            return Path(s.cache_dir) / f"{s.chroma_host}-{s.chroma_port}" / s.collection
        return Path(f"{s.store_dir}-cache") / s.collection

    @property
    def location(self) -> str:
        s = self.settings
        return f"http://{s.chroma_host}:{s.chroma_port}" if s.chroma_host else str(s.store_dir)

    # -- the collection -------------------------------------------------------------------
    def collection(self):
        if self._collection is None:
            with _translate_errors(self):
                col = self.client.get_or_create_collection(
                    self.settings.collection,
                    metadata={
                        "embed_model": self.embed_model,
                        "embed_dim": self.embed_dim,
                        "generation": uuid.uuid4().hex,
                    },
                    configuration={"hnsw": {"space": "cosine", "ef_search": self.settings.ef_search}},
                    embedding_function=None,
                )
            meta = col.metadata or {}
            if meta.get("embed_model") != self.embed_model or meta.get("embed_dim") != self.embed_dim:
                raise StoreError(
                    f"The index at {self.location} was built with {meta.get('embed_model')} "
                    f"({meta.get('embed_dim')} dims) but the settings use {self.embed_model} "
                    f"({self.embed_dim} dims). Re-index everything with `rag ingest --rebuild` (no paths)."
                )
            self._collection = col
        return self._collection

    def version(self) -> str:
        """Changes whenever the collection's content changes (read fresh: another process may
        write). Kept in the collection's metadata under its first name, "generation", so stores
        made before the rename keep their caches."""
        return str(self._metadata().get("generation", ""))

    def bump_version(self) -> None:
        self._modify(generation=uuid.uuid4().hex)

    def pending(self) -> frozenset[str]:
        """Articles whose writing began and did not finish: not to be searched."""
        return frozenset(filter(None, str(self._metadata().get("pending", "")).split(",")))

    def set_pending(self, doc_ids: Iterable[str], bump: bool = False) -> None:
        """Mark the articles being written. `bump`: also change the version, in the same
        metadata write, so no kill can leave finished writes under the version before them
        (indexes saved for that version would then stand for other content)."""
        changes = {"pending": ",".join(sorted(set(doc_ids)))}
        if bump:
            changes["generation"] = uuid.uuid4().hex
        self._modify(**changes)

    def recover(self) -> list[str]:
        """Delete what interrupted writes left (their articles are re-added by the ingest that
        follows); returns their doc ids."""
        left = sorted(self.pending())
        if left:
            self.delete_articles(left)
            self.set_pending((), bump=True)
        return left

    @contextlib.contextmanager
    def writing(self):
        """Hold the embedded store's write lock (no-op for a Chroma server): two processes
        writing one embedded Chroma folder at once can corrupt it, so the second is refused."""
        if self.settings.chroma_host:
            yield
            self._search_breadth()
            return
        path = Path(self.settings.store_dir) / "write.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "another process"
                raise StoreError(
                    f"The store at {self.location} is busy: {holder} is writing to it. "
                    "Wait for it to finish, then run this again."
                ) from None
            lock.seek(0)
            lock.truncate()
            lock.write(f"pid {os.getpid()} ({' '.join(sys.argv[:2]) or 'python'})")
            lock.flush()
            try:
                yield
                self._search_breadth()  # after the write: a rebuild may have made the collection anew
            finally:
                lock.truncate(0)

    def _search_breadth(self) -> None:
        """Give a collection made before `ef_search` was a setting, or with another value, the
        settings' value: a query-time setting, changed in place by a writer (a reader that wrote
        could meet a writer's lock)."""
        col = self.collection()
        with _translate_errors(self):  # read fresh: another process may have changed it
            hnsw = self.client.get_collection(self.settings.collection).configuration_json.get("hnsw") or {}
        if hnsw.get("ef_search") != self.settings.ef_search:
            with _translate_errors(self):
                col.modify(configuration={"hnsw": {"ef_search": self.settings.ef_search}})

    def _metadata(self) -> dict:
        """The collection's metadata, read fresh (another process may have written)."""
        self.collection()
        with _translate_errors(self):
            return dict(self.client.get_collection(self.settings.collection).metadata or {})

    def _modify(self, **changes) -> None:
        col = self.collection()
        meta = self._metadata() | changes
        with _translate_errors(self):
            col.modify(metadata=meta)

    def drop(self) -> None:
        with _translate_errors(self):
            names = [getattr(c, "name", c) for c in self.client.list_collections()]
            if self.settings.collection in names:
                self.client.delete_collection(self.settings.collection)
        self._collection = None

    # -- reads ----------------------------------------------------------------------------
    def count(self) -> int:
        with _translate_errors(self):
            return self.collection().count()

    def articles(self, doc_ids: Iterable[str] | None = None) -> list[dict]:
        """One metadata record per article (held on its first chunk); only those of `doc_ids`
        when given. Read in pages: one read of 16,000 articles exceeds SQLite's limit on query
        variables inside Chroma, and a large store is far slower to list than to look up in."""
        col, out = self.collection(), []
        if doc_ids is not None:
            for _, metadatas in self._first_chunks("doc_id", doc_ids):
                out += metadatas
        else:
            offset = 0
            while True:
                with _translate_errors(self):
                    got = col.get(where={"chunk_index": 0}, include=["metadatas"], limit=PAGE, offset=offset)
                out += got["metadatas"]
                if len(got["ids"]) < PAGE:
                    break
                offset += PAGE
        return sorted(out, key=lambda m: (m.get("title", ""), m.get("source", "")))

    def chunks(self, where: dict | None = None) -> Iterator[Chunk]:
        """Every chunk, paged, so a large collection never arrives in one response."""
        col = self.collection()
        offset = 0
        while True:
            with _translate_errors(self):
                got = col.get(
                    where=where, limit=READ_PAGE, offset=offset, include=["documents", "metadatas"]
                )
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                yield chunk_from_record(cid, text, meta)
            if len(got["ids"]) < READ_PAGE:
                return
            offset += READ_PAGE

    def chunks_of(self, doc_ids: Iterable[str]) -> Iterator[Chunk]:
        """Every chunk of these articles, asked for in groups small enough for SQLite's limit on
        query variables inside Chroma."""
        wanted = sorted(set(doc_ids))
        for i in range(0, len(wanted), PAGE // 2):
            yield from self.chunks({"doc_id": {"$in": wanted[i : i + PAGE // 2]}})

    def query(
        self, vector: Sequence[float], k: int, exclude: frozenset[str] = frozenset()
    ) -> list[tuple[Chunk, float]]:
        """Top-k chunks by cosine similarity (1 - distance), leaving out the articles in `exclude`."""
        col = self.collection()
        with _translate_errors(self):
            n = col.count()
            if n == 0:
                return []
            got = col.query(
                query_embeddings=[list(vector)],
                n_results=min(k, n),
                where={"doc_id": {"$nin": sorted(exclude)}} if exclude else None,
                include=["documents", "metadatas", "distances"],
            )
        return [
            (chunk_from_record(cid, text, meta), 1.0 - dist)
            for cid, text, meta, dist in zip(
                got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0]
            )
        ]

    # -- writes ---------------------------------------------------------------------------
    def write_articles(self, items: Sequence[tuple[Article, Sequence[Chunk], Sequence[Sequence[float]], bool]],
                       chunking: str = "") -> None:
        """Put each (article, chunks, vectors, fresh) in the store, replacing what it had.

        All chunks go in one upsert per PAGE: each Chroma write call costs about 25 ms whatever
        its size, so one call per article made writing slower than embedding. Adds first, then
        deletes each updated article's leftovers, so a failure half-way leaves the old version
        searchable rather than nothing (and the caller's `pending` marker undoes it next run).
        A `fresh` article (not in the store before) has no leftovers to look up: that lookup is a
        filtered read of the whole collection, the slowest step in a large store."""
        col = self.collection()
        rows = [
            (c.id, c.text, list(v), article_metadata(article, c, len(chunks), chunking))
            for article, chunks, vectors, _ in items
            for c, v in zip(chunks, vectors, strict=True)
        ]
        with _translate_errors(self):
            _upsert(col, rows)
            for article, chunks, _, fresh in items:
                if fresh:
                    continue
                keep = {c.id for c in chunks}
                stale = [cid for cid in col.get(where={"doc_id": article.doc_id}, include=[])["ids"] if cid not in keep]
                if stale:
                    col.delete(ids=stale)

    def articles_with(self, file_hashes: Iterable[str]) -> list[dict]:
        """The records of the articles read from files with these fingerprints (ingest.load),
        wherever those files were: how a moved or renamed file is recognised."""
        return [m for _, metadatas in self._first_chunks("file_hash", file_hashes) for m in metadatas]

    def move_article(self, old: dict, doc_id: str, source: str) -> int:
        """Give an article whose file moved (or was renamed) its new doc id and source: its
        chunks are copied under the new id with their vectors, nothing is read or embedded, then
        the old ones deleted. Returns the number of chunks."""
        col, prefix = self.collection(), old["doc_id"]
        with _translate_errors(self):
            got = col.get(where={"doc_id": prefix}, include=["documents", "metadatas", "embeddings"])
        renamed = {"original_file": Path(source).name} if old.get("original_file") == Path(old.get("source", "")).name else {}
        rows = [
            (doc_id + cid[len(prefix):], text, list(vector),
             meta | {"doc_id": doc_id, "source": source} | (renamed if meta.get("chunk_index") == 0 else {}))
            for cid, text, meta, vector in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True)
        ]
        with _translate_errors(self):
            _upsert(col, rows)
            col.delete(ids=got["ids"])
        return len(rows)

    def annotate(self, changes: dict[str, dict]) -> None:
        """Merge metadata into articles' records (doc_id -> fields), leaving their chunks alone."""
        for ids, metadatas in self._first_chunks("doc_id", changes):
            if ids:
                with _translate_errors(self):
                    self.collection().update(ids=ids, metadatas=[changes[m["doc_id"]] for m in metadatas])

    def _first_chunks(self, key: str, values: Iterable[str]) -> Iterator[tuple[list[str], list[dict]]]:
        """(ids, metadatas) of the first chunks, which hold the articles' records, whose `key`
        is one of `values`, in pages small enough for SQLite's limit on query variables inside Chroma."""
        col, wanted = self.collection(), sorted(set(values))
        for i in range(0, len(wanted), PAGE // 2):
            where = {"$and": [{"chunk_index": 0}, {key: {"$in": wanted[i : i + PAGE // 2]}}]}
            with _translate_errors(self):
                got = col.get(where=where, include=["metadatas"])
            yield got["ids"], got["metadatas"]

    def delete_articles(self, doc_ids: Iterable[str]) -> None:
        """Delete the articles' chunks. The version changes first: a kill half-way leaves the
        store at a version no saved index was built for, so none is trusted for it."""
        doc_ids = list(doc_ids)
        if not doc_ids:
            return
        col = self.collection()
        self.bump_version()
        with _translate_errors(self):
            for doc_id in doc_ids:
                col.delete(where={"doc_id": doc_id})


def _upsert(col, rows: Sequence[tuple]) -> None:
    """(id, text, vector, metadata) rows into the collection, PAGE to a call (each Chroma write
    call costs about 25 ms whatever its size, so few and large)."""
    for i in range(0, len(rows), PAGE):
        ids, docs, embs, metas = zip(*rows[i : i + PAGE], strict=True)
        col.upsert(ids=list(ids), documents=list(docs), embeddings=list(embs), metadatas=list(metas))


def article_metadata(article: Article, chunk: Chunk, n_chunks: int, chunking: str = "") -> dict:
    meta = {
        "doc_id": article.doc_id,
        "chunk_index": chunk.index,
        "title": article.title,
        "date": article.date or "",
        "source": article.source,
        "start": chunk.start,
        "end": chunk.end,
        "section": chunk.section,
    }
    if chunk.index == 0:  # article-level facts, stored once
        meta.update(
            content_hash=article.content_hash,
            file_hash=article.file_hash,
            n_chunks=n_chunks,
            chunking=chunking,
            publisher=article.publisher or "",
            original_file=article.original_file,
            furniture="\n".join(article.furniture),
        )
    return meta


def chunk_from_record(cid: str, text: str, meta: dict) -> Chunk:
    return Chunk(
        id=cid,
        doc_id=meta["doc_id"],
        index=int(meta["chunk_index"]),
        title=meta.get("title", ""),
        date=meta.get("date") or None,
        source=meta.get("source", ""),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        section=meta.get("section", ""),
    )


def _client(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        except Exception as exc:  # chromadb raises ValueError/ConnectionError variants
            raise StoreError(_unreachable(settings, exc)) from exc
    settings.store_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.store_dir), settings=chroma_settings)


def _unreachable(settings: Settings, exc: Exception) -> str:
    return (
        f"Cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} ({exc}). "
        f"Start it with `chroma run --path DIR --host {settings.chroma_host} --port "
        f"{settings.chroma_port}`, or unset RAG_CHROMA_HOST to use the embedded store."
    )


class _translate_errors:
    """Turn a dropped server connection into a StoreError that names the fix."""

    def __init__(self, store: ChromaStore):
        self.store = store

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, StoreError):
            return False
        import httpx

        if isinstance(exc, (httpx.TransportError, ConnectionError)) or "Could not connect" in str(exc):
            raise StoreError(_unreachable(self.store.settings, exc)) from exc
        return False
