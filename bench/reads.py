"""Prompt reads cut at fixed places (rag.kvcache.AlignedReads) against llama-cpp-python's own.

The article set's questions are read one after another, as people ask them, by the bundled LLM
in both ways, alternately, in one run: tokens read, seconds reading, and how many prompts the
model scores differently from a read of the same prompt from the prefix alone (the next-token
scores compared to the bit). Only the prompts are read (one token written), so the figures are
the reading's alone.

    .venv/bin/python -m bench.reads [--questions 16] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _plain(llm) -> None:
    """llama-cpp-python's own reads: the instance's wrappers removed."""
    for name in ("eval", "generate"):
        llm.__dict__.pop(name, None)


def reads(n_questions: int, rounds: int) -> dict:
    import llama_cpp
    import numpy as np

    from eval.run import load_questions
    from rag.engine import Engine
    from rag.kvcache import AlignedReads
    from rag.prompt import answer_messages

    engine = Engine()
    questions = [q.question for q in load_questions() if not q.history][:n_questions]
    prompts = [answer_messages(q, engine.passages(engine.retrieve(q))[: engine.settings.k]) for q in questions]
    generator = engine.generator(engine.settings)
    llm = generator.llm
    prefix = generator._prefix

    def read(messages) -> tuple[np.ndarray, int, float]:
        prefix.ready(llm)
        llama_cpp.llama_perf_context_reset(llm.ctx)
        llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=1, seed=0)
        perf = llama_cpp.llama_perf_context(llm.ctx)
        scores = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(llm.n_vocab(),)).copy()
        return scores, perf.n_p_eval, perf.t_p_eval_ms / 1000

    def alone(messages) -> np.ndarray:
        llm.n_tokens = start  # the prefix alone: llama-cpp-python drops the rest on its next read
        return read(messages)[0]

    generator.ready()
    start = len(prefix.tokens)
    modes = {"llama-cpp-python": lambda: _plain(llm), "aligned": lambda: AlignedReads(llm, lambda: start)}
    out: dict[str, dict] = {}
    for _ in range(rounds):
        for name, install in modes.items():
            _plain(llm)
            install()
            llm.n_tokens = start
            seen = [read(m) for m in prompts]
            differ = sum(not np.array_equal(s, alone(m)) for (s, _, _), m in zip(seen, prompts, strict=True))
            row = out.setdefault(name, {"tokens_read": 0, "read_s": [], "differ_from_alone": []})
            row["tokens_read"] = sum(n for _, n, _ in seen)
            row["read_s"].append(round(sum(t for _, _, t in seen), 2))
            row["differ_from_alone"].append(differ)
    _plain(llm)
    AlignedReads(llm, lambda: start)
    plain, aligned = out["llama-cpp-python"], out["aligned"]
    return {
        "questions": len(prompts),
        "rounds": rounds,
        **out,
        "aligned_over_plain_tokens": round(aligned["tokens_read"] / plain["tokens_read"], 3),
        "aligned_over_plain_read_s": round(min(aligned["read_s"]) / min(plain["read_s"]), 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=int, default=16)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("bench/out"))
    args = p.parse_args()
    result = reads(args.questions, args.rounds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reads.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
