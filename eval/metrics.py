"""Deterministic metrics: pure functions over records, no model as a judge."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from rag.text import normalise, number_values, split_sentences, strip_markers
from rag.verify import support

Fact = str | list[str]


@dataclass(frozen=True, kw_only=True)
class Kept:
    """What every eval record keeps of an answer (rag.types.Answer) beside its score. One base for
    `eval.run.Result` and `eval.public.Record`, so both record the same fields under one name."""

    citations: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    signals: dict = field(default_factory=dict)
    """What the checks saw (rag.answerable, the model's counts), so a threshold can be replayed offline."""
    refused_by: str = ""
    """The step that refused."""
    unstated: tuple[str, ...] = ()
    """What a constraints refusal found unstated (rag.types.Answer.unstated)."""
    respelled: tuple[tuple[str, str], ...] = ()
    """Unstated names with the passages' spelling of them (rag.types.Answer.respelled)."""
    unanswered: tuple[str, ...] = ()
    """The parts of a compound question left without an answer (rag.types.Answer.unanswered)."""
    draft: str = ""
    """The model's text before the checks (rag.types.Answer.draft), for eval.replay."""
    part_drafts: tuple[str, ...] = ()
    """Its texts for parts asked alone (rag.types.Answer.part_drafts), for eval.replay."""
    recheck_draft: str = ""
    """Its text over the passages reversed (rag.types.Answer.recheck_draft), for eval.replay."""


def kept(answer) -> dict:
    """An answer's `Kept` fields, to pass to a record's constructor: each read from the answer under
    its own name, the citations as the eval shows them and copies of the timings and signals."""
    return {f.name: getattr(answer, f.name) for f in fields(Kept)} | {
        "citations": [{"n": c.n, "source": Path(c.source).name, "quote": c.quote} for c in answer.citations],
        "timings": dict(answer.timings),
        "signals": dict(answer.signals),
    }


# -- answers ------------------------------------------------------------------------------
def fact_present(answer: str, fact: Fact) -> bool:
    """A required fact (or any of its alternatives) is in the answer; numbers compare by value,
    so "848 million", "848,000,000" and "848 million yuan" agree."""
    alternatives = [fact] if isinstance(fact, str) else list(fact)
    flat = normalise(answer)
    for alt in alternatives:
        numbers = number_values(alt)
        if normalise(alt) in flat or (numbers and numbers <= number_values(answer)):
            return True
    return False


def answer_correct(answer: str, refused: bool, facts: Sequence[Fact], answerable: bool) -> bool:
    if not answerable:
        return refused
    return not refused and all(fact_present(answer, f) for f in facts)


def refusal_scores(refused: Sequence[bool], answerable: Sequence[bool]) -> tuple[float, float]:
    """(precision, recall) of refusing, with unanswerable questions as the positive class."""
    tp = sum(r and not a for r, a in zip(refused, answerable))
    fp = sum(r and a for r, a in zip(refused, answerable))
    fn = sum(not r and not a for r, a in zip(refused, answerable))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


def grounded_sentences(text: str, cited_passages: dict[int, str]) -> tuple[int, int]:
    """(supported, total) answer sentences: supported when a passage it cites backs it."""
    import re

    supported = total = 0
    for s, e in split_sentences(text):
        sentence = text[s:e]
        total += 1
        marks = [int(n) for n in re.findall(r"\[(\d+)\]", sentence)]
        claim = strip_markers(sentence)
        if any(n in cited_passages and support(claim, cited_passages[n]) is not None for n in marks):
            supported += 1
    return supported, total


def citation_precise(cited_text: str, facts: Sequence[Fact], gold_quote: str) -> bool:
    """A citation is precise when the passage it points at holds a required fact or the gold quote."""
    return any(fact_present(cited_text, f) for f in facts) or (
        bool(gold_quote) and normalise(gold_quote) in normalise(cited_text)
    )


# -- retrieval ----------------------------------------------------------------------------
def hit_at_k(ranked: Sequence[str], gold: set[str], k: int) -> bool:
    return any(x in gold for x in ranked[:k])


def reciprocal_rank(ranked: Sequence[str], gold: set[str], k: int | None = None) -> float:
    for i, x in enumerate(ranked[:k] if k else ranked, 1):
        if x in gold:
            return 1.0 / i
    return 0.0


def quote_recalled(texts: Sequence[str], quote: str) -> bool:
    q = normalise(quote)
    return bool(q) and any(q in normalise(t) for t in texts)


# -- speed --------------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def llm_speed(answers: Sequence[tuple[dict, dict]]) -> dict:
    """The bundled model's own speed over a run, from each answer's (timings, signals): prompt
    tokens read and tokens decoded one at a time over llama.cpp's seconds for them
    (rag.types.Usage), and the prompt tokens read per answer (p50). The machine's raw speed,
    measured in the same run as the latencies it explains: a batch of drafts (rag.drafts) is
    writing but not a raw decode, so it is left out (records made before `llm_stepped` was kept
    count every decoded token). Empty when nothing was counted (a replay, another backend)."""
    counted = [(s["llm_read"], t["llm_read_s"], s.get("llm_stepped", s["llm_decoded"]),
                t.get("llm_stepped_s", t["llm_decode_s"]))
               for t, s in answers if "llm_read" in s and "llm_read_s" in t]
    if not counted:
        return {}
    read, read_s, decoded, decode_s = (sum(column) for column in zip(*counted))
    return {
        "llm_read_tokens_p50": percentile([c[0] for c in counted], 50),
        "llm_prompt_tokens_per_s": round(read / read_s, 1) if read_s else None,
        "llm_decode_tokens_per_s": round(decoded / decode_s, 1) if decode_s else None,
    }


def refusals_by_step(steps: list[str]) -> dict[str, int]:
    """How many refusals each step of the engine made (`Answer.refused_by`; "" is an answer)."""
    return dict(sorted(Counter(step for step in steps if step).items()))
