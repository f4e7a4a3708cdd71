"""SQuAD v1.1 dev as a closed corpus: hit@1/5/10 and MRR@10 for dense, BM25 and the hybrid,
side by side in one run over the same index. Optionally answer EM/F1 with the bundled LLM on a
fixed random sample.

    .venv/bin/python -m bench.squad [--answers N] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import squad_paragraphs, write_articles
from eval.metrics import hit_at_k, reciprocal_rank
from ingest.index import ingest_into

KS = (1, 5, 10)


def retrieval(engine, paragraphs: list[dict]) -> dict:
    """Each question's dense and BM25 candidates, fused exactly as Engine.retrieve does."""
    from tqdm import tqdm

    from rag.retrieve import fuse

    pairs = [(q, p["id"]) for p in paragraphs for q in p["questions"]]
    vectors = engine.embedder.embed([q for q, _ in pairs])
    names = ("dense", "bm25", "hybrid")
    scores = {name: {f"hit@{k}": 0 for k in KS} | {"mrr@10": 0.0} for name in names}
    for (question, gold), vector in tqdm(zip(pairs, vectors, strict=True), total=len(pairs), desc="SQuAD", unit="q"):
        dense, sparse = engine.candidates(question, max(10, engine.settings.depth), vector)
        runs = {
            "dense": [c for c, _ in dense[:10]],
            "bm25": [c for c, _ in sparse[:10]],
            "hybrid": [h.chunk for h in fuse(dense, sparse, 10, engine.settings.rrf_k)],
        }
        for name, chunks in runs.items():
            ranked = list(dict.fromkeys(Path(c.source).stem for c in chunks))  # a split paragraph counts once
            for k in KS:
                scores[name][f"hit@{k}"] += hit_at_k(ranked, {gold}, k)
            scores[name]["mrr@10"] += reciprocal_rank(ranked, {gold}, 10)
    n = len(pairs)
    return {name: {key: round(v / n, 4) for key, v in s.items()} for name, s in scores.items()} | {"questions": n}


def answers(paragraphs: list[dict], n: int, seed: int = 7) -> dict:
    """EM/F1 of the full pipeline (hybrid retrieval + bundled LLM + verification) on a sample."""
    import rag

    pool = [(q, a) for p in paragraphs for q, a in zip(p["questions"], p["answers"], strict=True)]
    sample = random.Random(seed).sample(pool, n)
    em = f1 = refused = contains = 0.0
    t = time.perf_counter()
    from tqdm import tqdm

    for question, golds in tqdm(sample, desc="answers", unit="q"):
        a = rag.answer(question)
        text = re.sub(r"\s*\[\d+\]", "", a.text)
        refused += a.refused
        em += max(_em(text, g) for g in golds)
        f1 += max(_f1(text, g) for g in golds)
        contains += any(" ".join(_norm(g)) in " ".join(_norm(text)) for g in golds)
    # Answers are cited sentences, not bare spans, so EM is low by design; "contains" counts an
    # answer that holds a gold span anywhere.
    return {"n": n, "seed": seed, "exact_match": round(em / n, 4), "f1": round(f1 / n, 4),
            "contains_gold": round(contains / n, 4),
            "refused": round(refused / n, 4), "seconds_per_answer": round((time.perf_counter() - t) / n, 1)}


def _norm(s: str) -> list[str]:
    s = "".join(ch for ch in s.lower() if ch not in set(string.punctuation))
    return re.sub(r"\b(a|an|the)\b", " ", s).split()


def _em(pred: str, gold: str) -> float:
    return float(_norm(pred) == _norm(gold))


def _f1(pred: str, gold: str) -> float:
    p, g = _norm(pred), _norm(gold)
    common = sum((Counter(p) & Counter(g)).values())
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def main() -> None:
    import os

    from rag.engine import Engine
    from rag.settings import Settings

    p = argparse.ArgumentParser()
    p.add_argument("--answers", type=int, default=0, help="also answer N sampled questions with the LLM")
    p.add_argument("--limit", type=int, help="only the first N paragraphs (a quick smoke run)")
    p.add_argument("--out", type=Path, default=Path("bench/out"))
    args = p.parse_args()
    paragraphs = squad_paragraphs()[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "squad"
        write_articles(paragraphs, folder)
        os.environ["RAG_STORE_DIR"] = str(Path(tmp) / "chroma")
        engine = Engine(Settings.from_env(data_dir=folder))
        t = time.perf_counter()
        report = ingest_into(engine)
        result = {"paragraphs": len(paragraphs), "ingest_s": round(time.perf_counter() - t, 1),
                  "chunks": report.chunks_written, "retrieval": retrieval(engine, paragraphs)}
        if args.answers:
            result["answers"] = answers(paragraphs, args.answers)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "squad.json").write_text(json.dumps(result, indent=2))
    rows = ["| retriever | hit@1 | hit@5 | hit@10 | MRR@10 |", "|---|---|---|---|---|"]
    for name in ("dense", "bm25", "hybrid"):
        r = result["retrieval"][name]
        rows.append(f"| {name} | {r['hit@1']:.3f} | {r['hit@5']:.3f} | {r['hit@10']:.3f} | {r['mrr@10']:.3f} |")
    (args.out / "squad.md").write_text("\n".join(rows) + "\n")
    print(json.dumps(result, indent=2))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
