"""Benchmarks, measured side by side in one run (not timed tests: these machines are noisy).

1. Ingest throughput vs raw embedding throughput of the very same chunks: the ratio says how
   much the pipeline (loading, chunking, Chroma writes) costs on top of the model.
2. Answer latency over questions from the eval set: every step of the answer path (rag.steps),
   first token and total, p50 and p95.
3. The machine's raw llama.cpp speed with the bundled model: prompt tokens/s and decode tokens/s,
   to read beside any latency (the same code is 2x slower on a machine that reads prompts at half
   the speed).

    .venv/bin/python -m bench.run [--paragraphs N] [--questions N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.common import squad_paragraphs, write_articles
from eval.metrics import percentile
from ingest.index import ingest_into


def ingest_vs_embed(n_paragraphs: int) -> dict:
    from ingest.chunk import chunk_article
    from ingest.index import find_files
    from ingest.load import load_article
    from rag.embed import embedding_text
    from rag.engine import Engine
    from rag.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "articles"
        write_articles(squad_paragraphs()[:n_paragraphs], folder)
        engine = Engine(Settings.from_env(store_dir=Path(tmp) / "chroma", data_dir=folder))
        files, _ = find_files([folder])
        chunks = [c for f in files for c in chunk_article(load_article(f), engine.settings.chunk_tokens, engine.settings.overlap_tokens)]
        texts = [embedding_text(c.header, c.text) for c in chunks]
        engine.embedder.embed(texts[:64])  # load the model outside both timings
        engine.store.count()  # and open the store

        t = time.perf_counter()
        engine.embedder.embed(texts)
        embed_s = time.perf_counter() - t

        t = time.perf_counter()
        report = ingest_into(engine, progress=False)
        ingest_s = time.perf_counter() - t

        t = time.perf_counter()
        again = ingest_into(engine, progress=False)
        reingest_s = time.perf_counter() - t
    assert report.chunks_written == len(chunks) and again.counts == {"unchanged": n_paragraphs}
    return {
        "articles": n_paragraphs,
        "chunks": len(chunks),
        "raw_embed_chunks_per_s": round(len(chunks) / embed_s, 1),
        "ingest_chunks_per_s": round(len(chunks) / ingest_s, 1),
        "ingest_over_raw_embed": round(embed_s / ingest_s, 3),
        "keyword_index_s": round(report.keyword_index_s, 2),
        "reingest_unchanged_s": round(reingest_s, 2),
    }


def answer_latency(n_questions: int) -> dict:
    import rag
    from eval.run import load_questions

    questions = [q for q in load_questions() if q.answerable and not q.history][:n_questions]
    rag.answer(questions[0].question)  # warm: load both models once
    rows = [rag.answer(q.question).timings for q in questions]
    out = {"questions": len(rows)}
    for key in dict.fromkeys(k for r in rows for k in r):
        values = [r[key] for r in rows if key in r]
        out[f"{key}_p50"] = round(percentile(values, 50), 3)
        out[f"{key}_p95"] = round(percentile(values, 95), 3)
    return out


def llm_speed(prompt_tokens: int = 400, decode_tokens: int = 64) -> dict:
    """Raw llama.cpp speed of the bundled model on this machine, outside the engine."""
    from rag.generate import LlamaCppGenerator
    from rag.settings import Settings

    llm = LlamaCppGenerator(Settings.from_env()).llm
    text = " ".join(["The delegation visited the province to study aid projects."] * 60)
    tokens = llm.tokenize(text.encode())[:prompt_tokens]
    llm.reset()
    t = time.perf_counter()
    llm.eval(tokens)
    prompt_s = time.perf_counter() - t
    t, n = time.perf_counter(), 0
    for _ in llm.generate(tokens, temp=0.0):  # the prompt is kept: only new tokens are read
        n += 1
        if n >= decode_tokens:
            break
    decode_s = time.perf_counter() - t
    return {"prompt_tokens_per_s": round(len(tokens) / prompt_s, 1), "decode_tokens_per_s": round(n / decode_s, 1),
            "threads": Settings.from_env().n_threads}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--paragraphs", type=int, default=400)
    p.add_argument("--questions", type=int, default=10)
    p.add_argument("--out", type=Path, default=Path("bench/out"))
    args = p.parse_args()
    results = {"llm": llm_speed(), "ingest": ingest_vs_embed(args.paragraphs)}
    if args.questions:  # 0 skips the LLM part (rag eval reports the same latencies over its set)
        results["latency"] = answer_latency(args.questions)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
