"""One machine at 100,000 chunks: what a store that size costs, measured side by side in one run.

The store is built from the SQuAD dev paragraphs and the PDFs of shared/corpus-pdf. Each distinct
chunk is embedded once (vectors cached in .rag/bench/), and the corpus is repeated as copies with
their own ids, titles and sources until the store holds the target, so the run fits in minutes.
A copy reuses its original's vector: the index has the real size and shape, but its near
neighbours are duplicates, so read the retrieval times, not its quality.

Reported: write throughput; store size on disk; BM25 build, load and merge of the saved index; hybrid
retrieval p50/p95 without the query embedding (dense query + BM25 + fusion), also at Chroma's default
HNSW search breadth beside the setting's (`RAG_EF_SEARCH`), as a ratio; a cold `rag ask` to
its first token, in a fresh process; ingest of new articles into the full store as a ratio to raw
embedding of the same chunks; peak memory; and the same retrieval against a Chroma server.

    .venv/bin/python -m bench.scale [--chunks 100000] [--server] [--out bench/out/scale.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import own_peak_mb
from eval.corpora import CACHE, PAPER_PDFS, squad_paragraphs, write_articles
from eval.metrics import percentile
from ingest.index import ingest_into

VECTORS = CACHE.parent / "bench" / "vectors.json"


def base_corpus(folder: Path, settings, paragraphs: int | None = None) -> list[tuple]:
    """(article, chunks) for the SQuAD paragraphs and corpus PDFs, chunked as ingest does."""
    from ingest.chunk import chunk_article
    from ingest.index import find_files
    from ingest.load import LoadError, load_article

    write_articles(squad_paragraphs()[:paragraphs], folder / "squad")
    if PAPER_PDFS.exists():
        shutil.copytree(PAPER_PDFS, folder / "pdf", ignore=shutil.ignore_patterns("*.md"))
    files, _ = find_files([folder])
    out = []
    for f in files:
        try:
            article = load_article(f)
        except LoadError:
            continue
        out.append((article, chunk_article(article, settings.chunk_tokens, settings.overlap_tokens)))
    return out


def cached_vectors(texts: list[str], embedder) -> dict[str, list[float]]:
    """Embedding per text, embedding only those not cached by an earlier run."""
    key = lambda t: hashlib.sha1(t.encode()).hexdigest()  # noqa: E731
    cache = json.loads(VECTORS.read_text()) if VECTORS.exists() else {}
    missing = [t for t in dict.fromkeys(texts) if key(t) not in cache]
    if missing:
        for t, v in zip(missing, embedder.embed(missing), strict=True):
            cache[key(t)] = [round(x, 6) for x in v]
        VECTORS.parent.mkdir(parents=True, exist_ok=True)
        VECTORS.write_text(json.dumps(cache))
    return {t: cache[key(t)] for t in texts}


def fill(store, corpus: list[tuple], vectors: dict, target: int) -> tuple[int, float]:
    """Write copies of the corpus until the store holds `target` chunks; (chunks, seconds)."""
    from rag.embed import embedding_text
    from rag.ids import chunk_id_for
    from rag.store import article_metadata

    col = store.collection()
    batch = min(5000, store.client.get_max_batch_size())
    ids, docs, metas, embs = [], [], [], []
    written, t = 0, time.perf_counter()
    copy = 0
    while written < target:
        for article, chunks in corpus:
            if written >= target:
                break
            doc_id = f"{article.doc_id}-{copy}"
            a = dataclasses.replace(article, doc_id=doc_id, title=f"{article.title} [{copy}]",
                                    source=f"{article.source}#{copy}")
            for c in chunks:
                c2 = dataclasses.replace(c, doc_id=doc_id, title=a.title, source=a.source)
                c2 = dataclasses.replace(c2, id=chunk_id_for(doc_id, c2.header, c2.text, c.index))
                ids.append(c2.id)
                docs.append(c2.text)
                metas.append(article_metadata(a, c2, len(chunks), f"{store.settings.chunk_tokens}/{store.settings.overlap_tokens}"))
                embs.append(vectors[embedding_text(c.header, c.text)])
                written += 1
            if len(ids) >= batch:
                col.upsert(ids=ids, documents=docs, metadatas=metas, embeddings=embs)
                ids, docs, metas, embs = [], [], [], []
        copy += 1
    if ids:
        col.upsert(ids=ids, documents=docs, metadatas=metas, embeddings=embs)
    store.bump_version()
    return written, time.perf_counter() - t


def retrieval_times(engine, questions: list[str], vectors: list[list[float]]) -> dict:
    from rag.retrieve import fuse_runs

    engine.keywords()  # built or loaded outside the timing
    times = []
    for q, v in zip(questions, vectors, strict=True):
        t = time.perf_counter()
        fuse_runs([engine.candidates(q, engine.settings.depth, v)], 3 * engine.settings.k, engine.settings.rrf_k)
        times.append(time.perf_counter() - t)
    return {"p50_ms": round(1000 * percentile(times, 50), 1), "p95_ms": round(1000 * percentile(times, 95), 1)}


COLD = """
import json, sys, time
t0 = time.perf_counter()
from bench.common import own_peak_mb
from rag.engine import Engine
engine = Engine()
engine.warm()  # as `rag ask` does
imported = time.perf_counter() - t0
engine.keywords()
bm25 = time.perf_counter() - t0 - imported
stream = engine.stream(sys.argv[1])
next(stream)  # the first token (or the refusal, when retrieval is too weak to try)
first = time.perf_counter() - t0
peak = own_peak_mb()
print(json.dumps({"first_token_s": round(first, 2), "imports_s": round(imported, 2),
                  "bm25_ready_s": round(bm25, 2), "peak_mb": round(peak)}))
"""


def cold_ask(env: dict, question: str) -> dict:
    out = subprocess.run([sys.executable, "-c", COLD, question], env=env, capture_output=True, text=True, timeout=900)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def ingest_ratio(engine, folder: Path, n: int) -> dict:
    """Ingest `n` new articles into the full store, against raw embedding of the same chunks."""
    from ingest.chunk import chunk_article
    from ingest.index import find_files
    from ingest.load import load_article
    from rag.embed import embedding_text

    paragraphs = squad_paragraphs()[:n]
    for p in paragraphs:
        p["title"] = f"New {p['title']}"
    write_articles(paragraphs, folder)
    files, _ = find_files([folder])
    s = engine.settings
    texts = [embedding_text(c.header, c.text) for f in files for c in chunk_article(load_article(f), s.chunk_tokens, s.overlap_tokens)]
    t = time.perf_counter()
    engine.embedder.embed(texts)
    raw = time.perf_counter() - t
    t = time.perf_counter()
    report = ingest_into(engine, [folder], progress=False)
    full = time.perf_counter() - t
    articles = full - report.keyword_index_s
    t = time.perf_counter()
    engine.keywords()  # the next question: loads the new segment, keeps the ones it holds
    reload = time.perf_counter() - t
    return {"articles": n, "chunks": len(texts), "raw_embed_s": round(raw, 1), "ingest_s": round(full, 1),
            "keyword_index_s": round(report.keyword_index_s, 2), "next_question_index_s": round(reload, 2),
            "raw_embed_over_ingest_without_keyword_index": round(raw / articles, 3),
            "raw_embed_over_ingest": round(raw / full, 3), "written": report.chunks_written}


def du(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def main(argv: list[str] | None = None) -> int:
    from rag.engine import Engine
    from rag.settings import Settings

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--paragraphs", type=int, help="fewer distinct SQuAD paragraphs (a quick trial run)")
    p.add_argument("--server", action="store_true", help="also measure against a Chroma server on loopback")
    p.add_argument("--out", type=Path, default=Path("bench/out/scale.json"))
    args = p.parse_args(argv)
    result: dict = {"target_chunks": args.chunks}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings = Settings.from_env(store_dir=tmp / "chroma", data_dir=tmp / "none")
        engine = Engine(settings)
        corpus = base_corpus(tmp / "base", settings, args.paragraphs)
        from rag.embed import embedding_text

        texts = [embedding_text(c.header, c.text) for _, chunks in corpus for c in chunks]
        t = time.perf_counter()
        vectors = cached_vectors(texts, engine.embedder)
        result["distinct_chunks"] = len(texts)
        result["embed_distinct_s"] = round(time.perf_counter() - t, 1)
        print(json.dumps(result), flush=True)

        written, seconds = fill(engine.store, corpus, vectors, args.chunks)
        result["write"] = {"chunks": written, "seconds": round(seconds, 1), "chunks_per_s": round(written / seconds)}
        result["store_mb"] = du(tmp / "chroma")
        print(json.dumps(result), flush=True)

        from rag.retrieve import Bm25Index

        cache = engine.store.cache_dir / "bm25"
        gen = engine.store.version()
        t = time.perf_counter()
        Bm25Index.open(engine.store.chunks, gen, cache)
        build = time.perf_counter() - t
        t = time.perf_counter()
        index = Bm25Index.open(engine.store.chunks, gen, cache)
        load = time.perf_counter() - t
        t = time.perf_counter()
        index.compacted()  # what the merge after MAX_SEGMENTS changes costs, without saving it
        merge = time.perf_counter() - t
        result["bm25"] = {"build_and_save_s": round(build, 1), "load_s": round(load, 1),
                          "merge_all_s": round(merge, 1), "mb_on_disk": du(cache)}
        print(json.dumps(result), flush=True)

        paragraphs = squad_paragraphs()
        questions = [q for para in paragraphs for q in para["questions"]][: args.questions]
        qvectors = engine.embedder.embed(questions)
        result["retrieval_embedded"] = retrieval_times(engine, questions, qvectors)
        # The HNSW search breadth side by side on this store: Chroma's default against the setting's.
        col = engine.store.collection()
        col.modify(configuration={"hnsw": {"ef_search": 100}})
        result["retrieval_embedded_ef_search_100"] = retrieval_times(engine, questions, qvectors)
        col.modify(configuration={"hnsw": {"ef_search": settings.ef_search}})
        result["ef_search"] = settings.ef_search
        result["retrieval_ratio_to_ef_search_100"] = round(
            result["retrieval_embedded"]["p50_ms"] / result["retrieval_embedded_ef_search_100"]["p50_ms"], 2)
        print(json.dumps(result), flush=True)

        env = {**os.environ, "RAG_STORE_DIR": str(tmp / "chroma"), "RAG_DATA_DIR": str(tmp / "none")}
        result["cold_ask_embedded"] = cold_ask(env, questions[0])
        print(json.dumps(result), flush=True)

        result["ingest_into_full_store"] = ingest_ratio(engine, tmp / "new", min(200, args.paragraphs or 200))
        result["peak_mb_bench_process"] = round(own_peak_mb())
        print(json.dumps(result), flush=True)

        if args.server:
            result["server"] = server_side(corpus, vectors, args.chunks, questions, qvectors, tmp)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


def server_side(corpus, vectors, target, questions, qvectors, tmp: Path) -> dict:
    import socket

    import httpx

    from rag.engine import Engine
    from rag.settings import Settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp / "server"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        settings = Settings.from_env(chroma_host="127.0.0.1", chroma_port=port, cache_dir=tmp / "cache")
        engine = Engine(settings)
        written, seconds = fill(engine.store, corpus, vectors, target)
        out = {"write": {"chunks": written, "seconds": round(seconds, 1), "chunks_per_s": round(written / seconds)}}
        t = time.perf_counter()
        engine.keywords()
        out["bm25_build_and_save_s"] = round(time.perf_counter() - t, 1)
        out["retrieval"] = retrieval_times(engine, questions, qvectors)
        env = {**os.environ, "RAG_CHROMA_HOST": "127.0.0.1", "RAG_CHROMA_PORT": str(port), "RAG_CACHE_DIR": str(tmp / "cache")}
        out["cold_ask"] = cold_ask(env, questions[0])
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=60)


if __name__ == "__main__":
    raise SystemExit(main())
