"""The answer path as named steps of one shape: each takes the question's `Turn` and returns it.

    condense -> retrieve -> rerank -> widen -> cut_off -> generate -> verify -> read
             -> answerability -> constraints -> recheck -> fallback -> complete

`Engine.stream` runs `STEPS` in order and times each one under its own name in
`Answer.timings` (`retrieve_s`, ...); a step that sets `turn.stop` ends the path (the similarity
cut-off). A step that streams text (generation) is a generator: it yields the pieces and returns
the turn. Adding or removing a step is one line of `STEPS`; the work itself lives in the modules
each step names (llama-index calls the same idea node postprocessors: `widen` is a
metadata-replacement postprocessor, `cut_off` a similarity cut-off, `rerank` a reranker).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from rag.constraints import asked, described, spelling, unmet
from rag.context import tokens
from rag.embed import common_words
from rag.generate import ExtractiveGenerator, GeneratorError
from rag.reader import Reading, probability
from rag.settings import Settings
from rag.text import CITED, REFUSAL, content_words, split_question, split_sentences
from rag.types import Answer, Hit, Usage
from rag.verify import Verified, agrees, refuses, verify

if TYPE_CHECKING:
    from rag.engine import Engine


@dataclass
class Turn:
    """One question on its way through the steps: what each step read and decided."""

    question: str
    settings: Settings
    pairs: list[tuple[str, str]]
    exclude: frozenset[str]
    started: float = field(default_factory=time.perf_counter)
    searched: str = ""
    parts: list[str] = field(default_factory=list)
    k: int = 0
    candidates: list[Hit] = field(default_factory=list)
    ranked: list[Hit] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    signals: dict[str, float] = field(default_factory=dict)
    draft: str = ""
    """The model's text as generated, before verification."""
    part_drafts: list[str] = field(default_factory=list)
    """The model's texts for the parts of a compound question asked alone (`complete`)."""
    recheck_draft: str = ""
    """The model's text for the same question over the passages reversed (`recheck`)."""
    checked: Verified | None = None
    refused_by: str = ""
    unstated: tuple[str, ...] = ()
    """What the question fixes that no cited place states, when the constraints step refused."""
    respelled: tuple[tuple[str, str], ...] = ()
    """For unstated names, the passages' name spelled closest (rag.constraints.spelling)."""
    unanswered: list[str] = field(default_factory=list)
    """The parts of a compound question that `complete` asked alone and got no answer for."""
    readings: list[Reading] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    stop: bool = False

    def refuse(self, step: str, dropped: tuple[str, ...] = ()) -> None:
        self.checked, self.refused_by = Verified(REFUSAL, (), True, dropped), step

    def answer(self) -> Answer:
        checked = self.checked or Verified(REFUSAL, (), True)
        return Answer(self.question, checked.text, checked.citations, checked.refused, tuple(self.hits),
                      self.timings, self.searched, self.signals, self.refused_by if checked.refused else "",
                      self.draft, tuple(self.part_drafts), self.unstated if checked.refused else (),
                      () if checked.refused else tuple(self.unanswered), self.respelled if checked.refused else (),
                      recheck_draft=self.recheck_draft)


Step = Callable[["Engine", Turn], "Turn | Iterator[str]"]


def condense(engine: Engine, turn: Turn) -> Turn:
    """A follow-up rewritten to stand alone, then its misspelled names corrected from the
    articles' vocabulary ("Nakqu" -> "Naqu"; an ordinary English word is left as it is)."""
    searched = engine.condense(turn.question, turn.pairs, turn.settings) if turn.pairs else turn.question
    turn.searched = engine.keywords().correct(searched, common_words())
    return turn


def retrieve(engine: Engine, turn: Turn) -> Turn:
    """Dense and keyword candidates, fused. A compound question is searched whole and part by
    part and answered once from the union, so a later part that refers back keeps its subject."""
    s = turn.settings
    turn.parts = split_question(turn.searched)
    queries = [turn.searched, *turn.parts] if len(turn.parts) > 1 else [turn.searched]
    turn.k = s.k + (1 if len(turn.parts) > 1 else 0)
    # Windows of one article that meet are merged, so take k passages from a deeper list.
    turn.exclude = turn.exclude | engine.store.pending()  # articles a crashed ingest left half-written
    turn.candidates = engine.retrieve(queries, max(3 * turn.k, s.rerank_candidates if s.rerank else 0), turn.exclude)
    return turn


def rerank(engine: Engine, turn: Turn) -> Turn:
    """The candidates in the reader's order (unchanged when `rerank` is off)."""
    turn.ranked = engine.rerank(turn.searched, turn.candidates, turn.settings)
    return turn


def widen(engine: Engine, turn: Turn) -> Turn:
    """Each of the top k widened to its neighbourhood in its article (rag.context)."""
    turn.hits = engine.passages(turn.ranked, turn.settings)[: turn.k]
    turn.signals = {
        "dense": max((h.dense_score for h in turn.hits if h.dense_score is not None), default=0.0),
        "prompt_tokens": sum(tokens(h.chunk.text) for h in turn.hits),
    }
    if turn.settings.rerank and turn.ranked:
        turn.signals["rerank"] = round(probability(turn.ranked[0].rerank_score), 4)
    return turn


def cut_off(engine: Engine, turn: Turn) -> Iterator[str]:
    """No passage is close enough to the question to ask the model: refuse now."""
    if turn.signals["dense"] < turn.settings.min_dense_score:
        yield REFUSAL
        turn.refuse("retrieval")
        turn.stop = True
    return turn


def generate(engine: Engine, turn: Turn) -> Iterator[str]:
    """The model's answer, streamed as it comes, one generation at a time (Engine.exclusive)."""
    pieces: list[str] = []
    generator = engine.generator(turn.settings)
    usage = Usage()
    for piece in engine.exclusive(generator.stream(turn.searched, turn.hits, turn.settings, usage=usage)):
        turn.timings.setdefault("first_token_s", time.perf_counter() - turn.started)
        pieces.append(piece)
        yield piece
    turn.draft = "".join(pieces)
    count(turn, usage)
    return turn


def count(turn: Turn, usage: Usage) -> None:
    """Add one generation's model time (rag.types.Usage) to the turn's: `llm_read`/`llm_decoded`/
    `llm_stepped` in its signals, their seconds in its timings, summed over the answer and the parts asked alone."""
    if not (usage.read or usage.decoded):  # a backend that cannot tell
        return
    for key, value in (("llm_read", usage.read), ("llm_decoded", usage.decoded), ("llm_stepped", usage.stepped)):
        turn.signals[key] = turn.signals.get(key, 0.0) + float(value)
    for key, value in (("llm_read_s", usage.read_s), ("llm_decode_s", usage.decode_s), ("llm_stepped_s", usage.stepped_s)):
        turn.timings[key] = turn.timings.get(key, 0.0) + value


def verify_step(engine: Engine, turn: Turn) -> Turn:
    """Claim by claim, each kept only where a passage it cites supports it (rag.verify)."""
    turn.checked = verify(turn.draft, turn.hits, question=turn.searched)
    if turn.checked.refused:
        turn.refused_by = "model" if refuses(turn.draft) else "verification"
    return turn


verify_step.__name__ = "verify"


def read(engine: Engine, turn: Turn) -> Turn:
    """The reader's view of each passage: its probability that a cited passage states the answer
    is a check of its own (`min_reader`); with `read` on it also joins answerability and its
    answer span picks the sentence the fallback quotes."""
    s = turn.settings
    turn.readings = reading(engine, turn.searched, turn.hits, s)
    return turn


def reading(engine: Engine, question: str, hits: list[Hit], settings: Settings) -> list[Reading] | None:
    """The reader's readings of the passages for `question`, when a setting uses them."""
    wanted = settings.read or settings.min_reader > 0 or settings.recheck_below > 0
    return engine.read(question, hits) if wanted else None


def answerability(engine: Engine, turn: Turn) -> Turn:
    """A verified answer whose evidence does not look like it answers this question is refused
    (rag.answerable); its signals are kept with the answer either way."""
    if turn.checked.refused:
        return turn
    turn.signals |= engine.signals(turn.searched, turn.hits, turn.checked, turn.readings, turn.settings.read)
    if turn.settings.min_answerable > 0 and turn.signals["answerable"] < turn.settings.min_answerable:
        turn.refuse("answerability", (turn.checked.text,))
    return turn


def constraints(engine: Engine, turn: Turn) -> Turn:
    """The question's years, numbers and names must be stated where the answer is cited, the
    answer of the asked type (rag.constraints), and a cited passage not one the reader is all but
    sure does not answer."""
    failed = ungrounded(turn.signals, turn.settings) if not turn.checked.refused else ""
    if failed == "constraints":  # named to the reader (Answer.why_refused)
        missing = unmet(turn.searched, turn.checked.citations, turn.hits, engine.article_words, turn.checked.text)
        turn.unstated = tuple(described(k) for k in missing)
        texts = [h.chunk.text for h in turn.hits]
        turn.respelled = tuple((described(k), near) for k in missing if (near := spelling(k, texts)))
    if failed:
        turn.refuse(failed, (turn.checked.text,))
    return turn


Again = Callable[["Engine", Turn], str]
"""Asks the model the turn's question once more over its passages in reverse order: the draft."""


def ask_reversed(engine: Engine, turn: Turn) -> str:
    """The recheck's second asking: the turn's question over its passages in reverse order."""
    return reply(engine, turn, list(reversed(turn.hits)))


def reply(engine: Engine, turn: Turn, hits: list[Hit], part: str = "") -> str:
    """The model's whole reply to the turn's question (or to its `part` alone) over `hits`, one
    generation at a time, its model time counted with the answer's (`count`)."""
    generator = engine.generator(turn.settings)
    usage = Usage()
    draft = "".join(engine.exclusive(generator.stream(turn.searched, hits, turn.settings, part, usage)))
    count(turn, usage)
    return draft


def rechecking(again: Again) -> Step:
    """The `recheck` step, asking the model again with `again` (eval.replay passes recorded drafts)."""

    def recheck(engine: Engine, turn: Turn) -> Turn:
        """An answer that passed every check but whose cited passages the reader doubts (below
        `recheck_below`) is asked again with the same passages in reverse order, and refused
        unless the two answers agree (rag.verify.agrees). Self-consistency: a fact the passages
        state comes back from any order, while a near miss the model picked out of passages about
        something else (a stage winner for the race's winner, another year's date) often changes
        or becomes a refusal. Only doubted answers pay for the second generation, which reads the
        passages again."""
        s = turn.settings
        doubted = turn.signals.get("reader", 1.0) < s.recheck_below
        if turn.checked.refused or not doubted or len(turn.hits) < 2:
            return turn
        try:
            turn.recheck_draft = again(engine, turn)
        except GeneratorError:  # the backend went away after answering: the answer stands unchecked
            turn.signals["recheck_not_asked"] = 1.0
            return turn
        if not agrees(turn.searched, turn.checked.text, turn.recheck_draft):
            turn.refuse("consistency", (turn.checked.text,))
        return turn

    return recheck


recheck = rechecking(ask_reversed)


def fallback(engine: Engine, turn: Turn) -> Turn:
    """The model answered, but verification found a detail no passage states (a month it added to
    "10 14 to 15"): the sentence holding the reader's answer span (or, without the reader, the
    passage sentence that best matches the question) is offered instead, verified like any answer,
    but only when the evidence clearly answers this question. When the model itself said the
    passages do not answer, that stands: quoting the best-matching sentence then answered news
    snippets about another year or another company with a topical sentence (three of news-noise's
    fifty noise-only questions, none of them right)."""
    s = turn.settings
    if not (turn.checked.refused and turn.refused_by == "verification") or s.min_extractive <= 0:
        return turn
    spans = turn.readings if s.read else None
    quoted = verify(extract(turn.searched, turn.hits, spans, s), turn.hits, question=turn.searched)
    signals = stands(engine, turn.searched, turn.hits, quoted, turn.readings, s, s.min_extractive)
    if signals is not None:
        turn.checked, turn.signals["extractive"] = quoted, 1.0
        turn.signals |= signals
    return turn


def stands(engine: Engine, question: str, hits: list[Hit], checked: Verified, readings: list[Reading] | None,
           settings: Settings, bar: float) -> dict[str, float] | None:
    """The signals of an answer found after the model's first (the fallback's quote, a part asked
    alone) when it is verified, its answerability reaches `bar` and every check passes; else None."""
    if checked.refused:
        return None
    signals = engine.signals(question, hits, checked, readings, settings.read)
    return signals if signals["answerable"] >= bar and not ungrounded(signals, settings) else None


Ask = Callable[["Engine", Turn, str], str]
"""Asks the model one part of the turn's compound question over its passages: the draft."""


def ask_model(engine: Engine, turn: Turn, part: str) -> str:
    return reply(engine, turn, turn.hits, part)


def completing(ask: Ask) -> Step:
    """The `complete` step, asking the model with `ask` (eval.replay passes recorded drafts)."""

    def complete(engine: Engine, turn: Turn) -> Iterator[str]:
        """A compound question answered in part, or refused whole: each part the answer leaves
        out is asked alone over the same passages, and its answer, once verified and checked
        against that part like any answer, is added. The small model often answers one part of
        "Who led X, and who led Y?" and stops; asked alone, it reads the same passages again, so
        llama.cpp reuses their state and only the part and its reply cost time. A part that gets
        no answer that stands is kept in `unanswered`, so the reader is told it was not found
        rather than left to guess whether the model forgot it."""
        s = turn.settings
        for part in unanswered(turn.searched, turn.checked):
            try:
                draft = ask(engine, turn, part)
            except GeneratorError:  # the backend went away after answering: keep that answer
                turn.signals["parts_not_asked"] = 1.0
                break
            turn.part_drafts.append(draft)
            checked = verify(draft, turn.hits, question=part)
            if not (checked.refused or turn.checked.refused or adds(checked.text, turn.checked.text)):
                continue  # it restates what the answer already says: answered there
            if checked.refused or stands(
                engine, part, turn.hits, checked, reading(engine, part, turn.hits, s), s, s.min_answerable
            ) is None:
                turn.unanswered.append(part)
                continue
            yield " " + checked.text  # after the streamed draft, which the verified answer replaces
            turn.checked = checked if turn.checked.refused else joined(turn.checked, checked)
            turn.signals["completed"] = turn.signals.get("completed", 0.0) + 1
        return turn

    return complete


complete = completing(ask_model)


def unanswered(question: str, checked: Verified) -> list[str]:
    """The parts of a compound question (rag.text.split_question) that the checked answer does
    not answer (rag.constraints.asked): every part when it was refused; none for a question of
    one part, or an answer whose sentences cannot be told apart by part."""
    parts = split_question(question)
    if len(parts) < 2:
        return []
    if checked.refused:
        return parts
    answered = asked(question, checked.text)
    return [] if answered == [question] else [p for p in parts if p not in answered]


def adds(text: str, answer: str, share: float = 0.25) -> bool:
    """Whether at least `share` of text's content words are not in the answer: the model asked a
    part alone often restates what the answer already says (the list it gave for "what ... and
    how ..."), and a restatement is no answer to the part."""
    words = content_words(text)
    return bool(words) and len(words - content_words(answer)) >= share * len(words)


def joined(first: Verified, then: Verified) -> Verified:
    """One answer of two checked ones: the texts in order, each quoted sentence cited once. Each
    numbers its citations from [1] in the order it cites them, so the second's are renumbered:
    a sentence the first cites keeps the first's number, a new one takes the next."""
    where = {(c.chunk_id, c.start, c.end): c.n for c in first.citations}
    citations, renumbered = list(first.citations), {}
    for c in then.citations:
        n = where.get((c.chunk_id, c.start, c.end))
        if n is None:
            n = where[(c.chunk_id, c.start, c.end)] = len(citations) + 1
            citations.append(replace(c, n=n))
        renumbered[c.n] = n
    text = CITED.sub(lambda m: f"[{renumbered.get(int(m.group(1)), int(m.group(1)))}]", then.text)
    return Verified(f"{first.text} {text}", tuple(citations), False, first.dropped + then.dropped)


STEPS: tuple[Step, ...] = (
    condense, retrieve, rerank, widen, cut_off, generate, verify_step, read, answerability, constraints, recheck,
    fallback, complete,
)
CHECKS = ("verify", "read", "answerability", "constraints", "recheck", "fallback")
"""The steps after generation: what the checks cost (`checks_s`)."""


def checks_s(timings: dict[str, float]) -> float | None:
    """Seconds the checks after generation took, from an answer's timings (None when refused
    before generation)."""
    spent = [timings[f"{name}_s"] for name in CHECKS if f"{name}_s" in timings]
    return sum(spent) if spent else None


def ungrounded(signals: dict[str, float], settings: Settings) -> str:
    """"" when the answer stands; else the check it fails, as far as the settings check them:
    "constraints" when a constraint of the question is not stated where the answer is cited, no
    cited sentence shares a word with the question (a bare date, a byline or a biography line
    that says nothing of what was asked is no evidence for its answer) or the answer is not of
    the asked type (rag.constraints); "reader" when the reader gives every cited passage less than
    `min_reader` (rag.reader: it reads question and passage together, so it is sure of a "no"
    more often than word overlap is)."""
    if settings.check_constraints and (signals.get("unmet", 0.0) > 0 or signals.get("quote_coverage", 1.0) <= 0):
        return "constraints"
    if settings.check_answer_type and signals.get("type_ok", 1.0) < 1:
        return "constraints"
    if signals.get("reader", 1.0) < settings.min_reader:
        return "reader"
    return ""


def extract(question: str, hits, readings, settings: Settings) -> str:
    """An answer without the LLM: the sentence that holds the reader's best answer span, cited;
    without the reader, the best-matching sentence (ExtractiveGenerator)."""
    spans = [(r.span_score, i, r.span) for i, r in enumerate(readings or ()) if r.span is not None]
    if not spans:
        return "".join(ExtractiveGenerator(most=1).stream(question, hits, settings))
    _, i, (start, _) = max(spans)
    text = hits[i].chunk.text
    for s, e in split_sentences(text):
        if s <= start < e:
            return f"{text[s:e].rstrip('.')} [{i + 1}]."
    return REFUSAL
