"""The checks replayed on recorded drafts: `rag eval --replay RUN_DIR` runs a set as usual, every
step of the answer path for real except generation, which gives back the text the model wrote
for the same question in the recorded run (each record's `draft`, its `part_drafts` for the
parts of a compound question asked alone, and its `recheck_draft` for the question asked again).

Why: the bundled model's answer to a question depends on the question asked before it (llama.cpp
reuses the prompt state it holds), so two real runs differ in a few answers whatever changed.
A change to retrieval's cut-off, verification or the checks after generation is measured
exactly on the same drafts, in seconds a question instead of the model's time. A change that
alters the passages or the prompt needs a real run: the recorded draft answered other passages.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

Recording = tuple[str, str, tuple[str, ...] | None, str | None]
"""(draft, searched, part drafts, re-asked draft): the last two are None in a recording made
before they were kept."""


def recorded(run: Path) -> dict[str, deque[Recording]]:
    """question -> its recordings in the order they were asked. `run` is a
    report folder (every *.json in it, by name: news-noise before news-positive, as they run)
    or one report file."""
    files = sorted(run.glob("*.json")) if run.is_dir() else [run]
    out: dict[str, deque[Recording]] = defaultdict(deque)
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        for r in data.get("records") or data.get("results") or []:
            if "draft" not in r:
                raise ValueError(f"{path}: records have no `draft` (recorded before drafts were kept): run the set again")
            parts = tuple(r["part_drafts"]) if "part_drafts" in r else None
            again = r.get("recheck_draft")
            out[r["question"].strip()].append((r["draft"], r.get("searched", ""), parts, again))  # as the engine strips it
    if not out:
        raise ValueError(f"{run}: no recorded answers found")
    return out


@contextmanager
def replaying(run: Path) -> Iterator[None]:
    """While open, every engine answers with the recorded drafts of `run` instead of the model.
    A question the recording does not hold raises (a replay that quietly asked the model would
    mix the two)."""
    import rag.engine
    from rag import steps

    drafts = recorded(run)
    taken: dict[int, Recording] = {}  # id(turn) -> its recording, taken at the first step: a turn
    # that stops before generation (the similarity cut-off) still uses up its recorded answer

    def condense(engine, turn):
        queue = drafts.get(turn.question)
        if not queue:
            raise KeyError(f"no recorded draft left for {turn.question!r}")
        taken[id(turn)] = recording = queue.popleft()
        searched = recording[1]
        if turn.pairs and searched:  # a follow-up: its recorded rewrite, not another call of the model
            turn.searched = searched
            return turn
        return steps.condense(engine, turn)

    def generate(engine, turn):
        turn.draft = taken[id(turn)][0]
        turn.timings.setdefault("first_token_s", 0.0)
        yield turn.draft
        return turn

    def ask(engine, turn, part):
        parts = taken[id(turn)][2]
        if parts is None:
            raise KeyError(f"{turn.question!r}: the recording has no drafts of parts asked alone: run the set again")
        if len(turn.part_drafts) >= len(parts):
            raise KeyError(f"{turn.question!r}: a part asked alone that the recording did not ask: {part!r}")
        return parts[len(turn.part_drafts)]

    def again(engine, turn):
        recording = taken[id(turn)][3]
        if not recording:
            raise KeyError(f"{turn.question!r}: the recording did not ask it again with the passages reversed: run the set again")
        return recording

    condense.__name__, generate.__name__ = "condense", "generate"
    replaced = {steps.condense: condense, steps.generate: generate, steps.complete: steps.completing(ask),
                steps.recheck: steps.rechecking(again)}
    original = rag.engine.STEPS
    rag.engine.STEPS = tuple(replaced.get(step, step) for step in original)
    try:
        yield
    finally:
        rag.engine.STEPS = original
