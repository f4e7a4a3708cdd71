"""Check a generated answer against the passages it was given. Pure functions, no model.

A small model cites wrongly, forgets to cite, and invents. So, claim by claim (sentence by
sentence): markers that point at no passage are removed; a claim's numbers and names must all
appear in a passage that it cites (else we look for one that does, among the passages given),
except the names it restates from the question, which the constraints step holds to that passage;
a claim that nothing supports is dropped; if nothing is left the answer is a refusal. Each kept
citation carries the sentence of the passage that best supports its claim, with its offsets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag import attribution
from rag.answerable import adds_information, coverage
from rag.text import (
    MARKER,
    REFUSAL,
    content_words,
    ends_properly,
    has_month,
    money_values,
    name_words,
    names,
    normalise,
    number_values,
    split_sentences,
    strip_markers,
)
from rag.types import Citation, Hit

_REFUSAL = re.compile(
    r"\b(articles?|passages?|sources?|texts?)\s+(do not|don't|does not|doesn't|did not|didn't)\s+"
    r"(say|mention|state|specify|contain|provide|give|include)"
    r"|\bnot (mentioned|stated|specified|given|provided)\b"
    r"|\bno (information|mention|details?)\b"
    r"|\b(cannot|can't|unable to) (answer|find|determine)",
    re.IGNORECASE,
)
_MARKER_ALIASES = re.compile(r"\[(?:passage|source|doc(?:ument)?)\s*(\d+)\]", re.IGNORECASE)
_TRAILING_MARKERS = re.compile(r"([.!?])((?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+)")


_CLOSE = 0.25
"""How far below the best passage's support a cited passage may be and still be kept."""


@dataclass(frozen=True)
class Verified:
    text: str
    citations: tuple[Citation, ...]
    refused: bool
    dropped: tuple[str, ...] = ()
    """Claims removed because no passage supported them."""


def is_refusal(text: str) -> bool:
    return bool(_REFUSAL.search(text))


# Questions that only a number (or a date) can answer: how much/many, when, and "what is/was the
# <quantity>" with the quantity nouns of news (revenue, price, score...), also after an owner
# ("What was Tesla's revenue", "What is the annual budget").
_WANTS_NUMBER = re.compile(
    r"^\s*(and\s+)?(how (much|many|long|old|far|big|large)|what (is|was|were|are) (the|[\w.&-]+['’]s?) (\w+ )?"
    r"(population|number|amount|cost|budget|price|total|size|value|revenue|income|profit|sales|salary|height|"
    r"weight|score|rate)\b|what did .* cost|in (what|which) year|when\b|"
    r"on (what|which) (date|day)s?|what (date|year))",
    re.IGNORECASE,
)


_QUANTITY = re.compile(r"^\s*(and\s+)?how (much|many|long|old|far|big|large)\b", re.IGNORECASE)
_DATE_PHRASE = re.compile(r"\b(since|in|from|until|by|before|after)\s+(1[0-9]{3}|20[0-9]{2})\b", re.IGNORECASE)


def answers_question(question: str, answer: str) -> bool:
    """False when the question asks for a quantity or a date and the answer has no number; for a
    quantity, a year in a time phrase ("since 2010") is not one."""
    if not _WANTS_NUMBER.search(question):
        return True
    answer = MARKER.sub("", answer)
    if _QUANTITY.search(question):
        return bool(number_values(_DATE_PHRASE.sub(" ", answer), months=False))
    return bool(number_values(answer))


def verify(answer: str, hits: Sequence[Hit], question: str = "") -> Verified:
    """Keep the supported claims of `answer`; refuse when none is left, or when a question
    that wants a number or date got an answer without one."""
    checked = _verify(answer, hits, question)
    if question and not checked.refused and not answers_question(question, checked.text):
        return Verified(REFUSAL, (), True, (checked.text,))
    return checked


def facts(answer: str, question: str) -> set:
    """What an answer gives that the question does not: its names (rag.text.names) and its
    numbers as values. Pure."""
    text = strip_markers(answer)
    asked_names, asked_numbers = name_words(question), number_values(question, months=False)
    given = {n for n in names(text) if n not in asked_names}
    return given | {v for v in number_values(text, months=False) if v not in asked_numbers}


def agrees(question: str, first: str, second: str, share: float = 0.5) -> bool:
    """Whether a second answer to `question` gives the first's facts: at least `share` of the
    facts (names and numbers: `facts`) of the one with fewer are among the other's. A refusal
    agrees with nothing; answers without facts (an explanation) are not compared, since their
    wording varies from one asking to the next (two right answers about a paper's method share
    few words). Wording, order and citation numbers do not count, so "Cai Renlang, Deputy
    Secretary of ..." and "The mayor of Naqu is Cai Renlang [3]" agree, and "Wout van Aert" and
    "Mark Cavendish won ..." do not. Pure."""
    if refuses(second):
        return False
    a, b = facts(first, question), facts(second, question)
    return not a or not b or len(a & b) >= share * min(len(a), len(b))


def refuses(answer: str) -> bool:
    """The answer is empty or opens with a refusal: the model itself declined."""
    text = _tidy(answer)
    first = next(iter(split_sentences(text)), None)
    return first is None or is_refusal(text[first[0] : first[1]])


def _verify(answer: str, hits: Sequence[Hit], question: str) -> Verified:
    if refuses(answer):
        return Verified(REFUSAL, (), True)
    text = _tidy(answer)
    sentences = [text[s:e] for s, e in split_sentences(text)]
    asked = name_words(question)

    kept: list[tuple[str, list[tuple[int, int, int]]]] = []  # claim, [(hit, sent_start, sent_end)]
    dropped: list[str] = []
    if len(sentences) > 1 and not ends_properly(sentences[-1]):
        # A generation cut off at max_tokens stops mid-sentence ("Early experiments revealed
        # only"): after sentences that end properly, one that does not is not a claim.
        dropped.append(sentences.pop())
    for sentence in sentences:
        cited = [int(n) for group in MARKER.findall(sentence) for n in re.split(r"[,;]", group)]
        claim = MARKER.sub("", sentence).strip()
        claim = re.sub(r"\s+([.!?,;:])", r"\1", claim)
        if is_refusal(claim) or not (content_words(claim) or number_values(claim)):
            continue
        if question and not adds_information(claim, question):
            dropped.append(claim)  # restates the question: not an answer
            continue
        valid = [n - 1 for n in dict.fromkeys(cited) if 1 <= n <= len(hits)]
        scores = [support(claim, _passage(h), asked) for h in hits]
        top = max((x for x in scores if x is not None), default=None)
        # Keep the model's own citations unless another passage backs the claim much better
        # (a passage sharing a third of the words is support, but not the source).
        supporting = [i for i in valid if scores[i] is not None and scores[i] >= top - _CLOSE]
        if not supporting and top is not None:
            supporting = [scores.index(top)]
        if question and supporting:
            supporting = _on_question(claim, question, hits, scores, top, supporting)
        if not supporting:
            supporting = _joint_support(claim, hits)
        if not supporting:
            dropped.append(claim)
            continue
        verdict = attribution.review(claim, question, [h.chunk.text for h in hits]) if question else True
        if verdict is False:
            dropped.append(claim)
        elif isinstance(verdict, attribution.Reattribution):
            # The passages give the role (or the count) to someone else: answer with their words.
            span = (verdict.passage, verdict.start, verdict.end)
            dropped.append(claim)
            kept.append((hits[verdict.passage].chunk.text[verdict.start : verdict.end], [span]))
        else:
            kept.append((claim, [(i, *best_sentence(claim, hits[i].chunk.text)) for i in supporting]))

    if not kept:
        return Verified(REFUSAL, (), True, tuple(dropped))
    kept = list({claim: (claim, refs) for claim, refs in reversed(kept)}.values())[::-1]

    numbers: dict[tuple[int, int, int], int] = {}
    citations: list[Citation] = []
    parts = []
    for claim, refs in kept:
        marks = []
        for ref in refs:
            if ref not in numbers:
                numbers[ref] = len(numbers) + 1
                citations.append(_citation(numbers[ref], hits[ref[0]], ref[1], ref[2]))
            marks.append(f"[{numbers[ref]}]")
        body, end = (claim[:-1], claim[-1]) if claim[-1] in ".!?" else (claim, ".")
        body = _sentence_case(" ".join(body.split()))  # a line break copied from a PDF passage is layout, not text
        parts.append(f"{body} {''.join(dict.fromkeys(marks))}{end}")
    return Verified(" ".join(parts), tuple(citations), False, tuple(dropped))


def _sentence_case(text: str) -> str:
    """A sentence starts with a capital: a quoted slice of a passage ("the provincial Party
    Secretary Wang Guosheng ... led ...") or a bare answer ("musical") often does not. A first
    word with a capital inside ("iPhone", "eBay") is a name and stays as written."""
    first = text.split(" ", 1)[0]
    return text[:1].upper() + text[1:] if first.islower() else text


def support(claim: str, passage: str, asked: frozenset[str] = frozenset()) -> float | None:
    """Share of the claim's content words found in the passage, or None when the passage lacks
    one of the claim's numbers or names, or writes a number the claim gives as money as something
    else (then it cannot be the claim's source). A name the claim
    restates from the question (`asked`: its words, rag.text.name_words) is not required (the constraints
    step holds the question's names to where the answer is cited, with its own spelling rules),
    but only names the passage holds anchor the claim to it."""
    wanted_numbers = number_values(claim)
    if not wanted_numbers <= number_values(passage, months=has_month(claim)):
        return None
    if not money_values(claim) <= money_values(passage):  # "$184,877" from "184,877 vehicles"
        return None
    flat = normalise(passage)
    claim_names = names(claim)
    found = {name for name in claim_names if name in flat}
    if claim_names - found - asked:
        return None
    words = content_words(claim)
    if not words:
        return 1.0 if wanted_numbers else None
    overlap = len(words & content_words(passage)) / len(words)
    anchored = bool(wanted_numbers or found)
    return overlap if overlap >= (0.3 if anchored else 0.6) else None


def _joint_support(claim: str, hits: Sequence[Hit]) -> list[int]:
    """Passages that back a claim part by part when no one passage backs all of it ("A led X,
    and B led Y [1][2]"). The parts are what "and" or ";" join, and each part that holds a name
    or number must be backed by one passage on its own, so facts from two articles cannot be
    glued inside one clause ("848 million yuan to Naqu" from an amount for Qinghai and a
    sentence about Naqu). Here the question's names count too (no `asked`): "Naqu" restated from
    the question must not be glued to Qinghai's amount either."""
    clauses = [c for c in re.split(r";\s*|,?\s+and\s+", claim) if names(c) or number_values(c)]
    if len(clauses) < 2:
        return []
    chosen: list[int] = []
    for clause in clauses:
        scores = [support(clause, _passage(h)) for h in hits]
        if all(x is None for x in scores):
            return []
        best = max(range(len(hits)), key=lambda i: -1.0 if scores[i] is None else scores[i])
        chosen.append(best)
    return sorted(set(chosen))


def _on_question(
    claim: str, question: str, hits: Sequence[Hit], scores: Sequence[float | None], top: float, chosen: list[int]
) -> list[int]:
    """A bare answer ("Beijing") is borne out by many sentences, and the one the model cited may
    show nothing of what was asked ("Beijing, China, 2008."). When no chosen passage's best
    sentence shares a word with the question, cite instead the passage, backing the claim as well
    (within _CLOSE of the best), whose best sentence holds most of the question ("Beijing was
    elected as the host city for the 2008 Summer Olympics")."""

    def shown(i: int) -> float:
        start, end = best_sentence(claim, hits[i].chunk.text)
        return coverage(question, hits[i].chunk.text[start:end])

    if any(shown(i) > 0 for i in chosen):
        return chosen
    others = {i: shown(i) for i, x in enumerate(scores) if x is not None and x >= top - _CLOSE and i not in chosen}
    best = max(others, key=others.__getitem__, default=None)
    return [best] if best is not None and others[best] > 0 else chosen


def best_sentence(claim: str, passage: str) -> tuple[int, int]:
    """The span of the passage sentence that best supports the claim."""
    spans = split_sentences(passage) or [(0, len(passage))]
    numbers, claim_names, words = number_values(claim), names(claim), content_words(claim)

    def score(span: tuple[int, int]) -> tuple[float, int]:
        s = passage[span[0] : span[1]]
        flat = normalise(s)
        return (
            2 * len(numbers & number_values(s))
            + sum(n in flat for n in claim_names)
            + len(words & content_words(s)) / max(1, len(words)),
            -span[0],
        )

    return max(spans, key=score)


def _citation(n: int, hit: Hit, start: int, end: int) -> Citation:
    c = hit.chunk
    return Citation(
        n=n,
        doc_id=c.doc_id,
        title=c.title,
        date=c.date,
        source=c.source,
        chunk_id=c.id,
        quote=c.text[start:end],
        start=c.start + start,
        end=c.start + end,
        section=c.section,
    )


def _passage(hit: Hit) -> str:
    return f"{hit.chunk.header}\n{hit.chunk.text}"


def _tidy(answer: str) -> str:
    """Put markers written after the full stop ("yuan. [1]") back inside their sentence."""
    text = _MARKER_ALIASES.sub(r"[\1]", answer.strip())
    return _TRAILING_MARKERS.sub(lambda m: f"{m.group(2)}{m.group(1)}", text)
