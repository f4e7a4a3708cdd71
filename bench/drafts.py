"""Writing with drafts from the prompt (rag.drafts, `RAG_DRAFT_TOKENS`) against without, side by side.

Each question's prompt (the article set's questions, then the papers' if asked) is answered by
the bundled LLM without drafts and with them, alternately, `--rounds` times; the prompt is read
once and reused, so the figures are the writing's alone: llama.cpp's seconds for it (best of the
rounds), tokens written, and how many answers come out word for word the same.

    .venv/bin/python -m bench.drafts [--questions 16] [--papers 8] [--draft-tokens 3] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def drafts(n_questions: int, n_papers: int, k: int, rounds: int) -> dict:
    from eval.run import load_questions
    from rag.engine import Engine
    from rag.types import Usage

    engine = Engine()
    asked = [(engine, q.question) for q in load_questions() if not q.history][:n_questions]
    if n_papers:
        from eval import corpora
        from eval.public import corpus_engine

        papers = corpus_engine("papers", progress=False)
        asked += [(papers, q.question) for q in corpora.papers_set()[:n_papers]]
    base = engine.settings
    modes = {"plain": base.replace(draft_tokens=0), "drafts": base.replace(draft_tokens=k)}
    rows = []
    for eng, question in asked:
        hits = eng.passages(eng.retrieve(question))[: base.k]
        generator = eng.generator(base)
        row: dict = {"question": question}
        for _ in range(rounds):
            for name, settings in modes.items():
                usage = Usage()
                text = "".join(generator.stream(question, hits, settings, usage=usage))
                best = row.setdefault(name, {"text": text, "write_s": usage.decode_s, "read_while_writing": usage.decoded})
                best["write_s"] = round(min(best["write_s"], usage.decode_s), 3)
        row["same"] = row["plain"]["text"] == row["drafts"]["text"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    plain = sum(r["plain"]["write_s"] for r in rows)
    drafted = sum(r["drafts"]["write_s"] for r in rows)
    return {
        "answers": len(rows),
        "draft_tokens": k,
        "rounds": rounds,
        "write_s_plain": round(plain, 2),
        "write_s_drafts": round(drafted, 2),
        "drafts_over_plain_write_s": round(drafted / plain, 3) if plain else None,
        "same_text": sum(r["same"] for r in rows),
        "differ": [{"question": r["question"], "plain": r["plain"]["text"], "drafts": r["drafts"]["text"]} for r in rows if not r["same"]],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=int, default=16)
    p.add_argument("--papers", type=int, default=8)
    p.add_argument("--draft-tokens", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("bench/out"))
    args = p.parse_args()
    result = drafts(args.questions, args.papers, args.draft_tokens, args.rounds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "drafts.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "differ"}, indent=2))


if __name__ == "__main__":
    main()
