"""A question's constraints, checked where its answer is cited.

In news, a near miss is the same event in another year, the same role at another company, the
same kind of donation in another place: it shares almost every word of the question, so word
coverage and embedding similarity say "answers". What separates it from an answer is whether the
question's constraints (its years, quarters, ordinals, dates, numbers and names) are stated
together with the answer. Here a constraint counts as stated when it is in the cited sentence, in the rest of
its passage, or in its article's title and date, and the cited sentence does not state another
value of the same kind instead (a sentence about the 2018 final does not answer for 2019 because
its passage was published in 2019).

A second, equally general check: the answer must be of the asked type. A when-question needs an
absolute date (a relative one, "3 days ago", dates nothing once the page is old); a who-question
needs a name the question does not already hold; a how-much question a number it does not hold.

Names are found by their capital letters (the English convention for proper nouns, acronyms and
titles), so no list of places, people or organisations is needed. All functions are pure.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.attribution import answered_part
from rag.text import (
    BLANK_LINE,
    MONTHS,
    STOPWORDS,
    ends_sentence,
    has_month,
    months,
    number_forms,
    number_values,
    split_question,
    split_sentences,
    strip_markers,
    without_possessive,
)
from rag.types import Citation, Hit

_YEAR = re.compile(r"(?<![\w.])(?<!\d,)(1[5-9]\d\d|20\d\d)(?!\w|[.,]\d)")
"""A year: four digits from 1500 to 2099, not part of a longer number ("2,010", "2010.5")."""
_QUARTER = re.compile(r"\bQ([1-4])\b|\b(first|second|third|fourth)[- ]quarter\b", re.IGNORECASE)
_QUARTER_WORDS = {"first": "1", "second": "2", "third": "3", "fourth": "4"}
_ORDINAL_WORDS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()
_ORDINAL_WORD = re.compile(r"\b(" + "|".join(_ORDINAL_WORDS) + r")\b", re.IGNORECASE)
_ORDINAL_DIGITS = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.IGNORECASE)
_ROMAN = re.compile(r"[IVX]+")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.'’&-]*")


@dataclass(frozen=True)
class Constraint:
    """One thing the question fixes: `kind` is year, month, quarter, ordinal, number or name;
    `value` is what must be found (a year's digits, a quarter's or an ordinal's digit, a month's
    or another number, a name's folded words)."""

    kind: str
    text: str
    value: str | float | tuple[str, ...]
    opening: bool = False
    """A name that starts at the question's opening word, which is capitalised whatever it is
    ("Besides Death Wish Coffee"): stated also without that word."""

    @property
    def after_opening(self) -> tuple[str, ...]:
        """A name's folded words less those of its opening word ("Besides Death Wish Coffee" -> death, wish, coffee)."""
        return self.value[len(_parts(_fold(self.text.split()[0]))) :]


def _fold(word: str) -> str:
    """A name's word as compared: lower case, no dots ("U.S." and "US" meet), then no possessive
    ("Tesla's", "Normans'", and "Rus'." at the end of a sentence)."""
    return without_possessive(word.replace(".", "")).replace("’", "'").lower()


def _parts(word: str) -> list[str]:
    """A hyphenated word's parts: a name is written "Byte-Pair" in one place and "Byte Pair" in
    another, so both sides compare the parts ("Anne-Birgitte" meets "Anne Birgitte")."""
    return [part for part in word.split("-") if part]


@lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    """The text's folded words, and the initialisms of its names ("United States" -> "us",
    "World War II" -> "wwii") and of its runs of three to five words in any case ("natural
    language processing" -> "nlp"), so a question's acronym meets what it stands for."""
    tokens = _TOKEN.findall(text)
    words = {_fold(w) for w in tokens}
    words.update(part for w in list(words) if "-" in w for part in _parts(w))
    for run in _name_runs(text):
        if len(run) > 1:
            words.add("".join(w if _ROMAN.fullmatch(w) else w[0] for w in run).lower())
        parts = [part for w in run for part in _parts(w)]
        if len(parts) > len(run):  # "Byte-Pair Encoding" -> "bpe" as well as "be"
            words.add("".join(w[0] for w in parts).lower())
    alpha = [w for w in tokens if w[:1].isalpha()]
    for n in range(3, 6):
        for i in range(len(alpha) - n + 1):
            run = alpha[i : i + n]
            words.add("".join(w[0] for w in run).lower())
            if "and" in (w.lower() for w in run[1:-1]):  # "Victoria and Albert" -> "v&a", as "AT&T", "P&G"
                words.add("".join("&" if w.lower() == "and" else w[0] for w in run).lower())
    return frozenset(words)


def years(text: str) -> set[str]:
    return set(_YEAR.findall(text))


def quarters(text: str) -> set[str]:
    return {q or _QUARTER_WORDS[w.lower()] for q, w in _QUARTER.findall(text)}


def _ordinal(word: str) -> str:
    """An ordinal word's digits: "Tenth" -> "10"."""
    return str(_ORDINAL_WORDS.index(word.lower()) + 1)


def ordinals(text: str) -> set[str]:
    """The ordinals a text states, as digits: "first season" and "1st season" -> {"1"}."""
    return {_ordinal(w) for w in _ORDINAL_WORD.findall(text)} | set(_ORDINAL_DIGITS.findall(text))


def question_constraints(question: str) -> list[Constraint]:
    """The years, months, quarters, ordinals, other numbers and names that `question` fixes (an
    ordinal in digits, "21st", is a number)."""
    out = [Constraint("year", y, y) for y in sorted(years(question))]
    out += [Constraint("quarter", f"Q{q}", q) for q in sorted(quarters(question))]
    out += [Constraint("month", str(m), m) for m in sorted(months(question, capital_may=True))]
    words = _ORDINAL_WORD.findall(_QUARTER.sub(" ", question))
    out += [Constraint("ordinal", w.lower(), _ordinal(w)) for w in words]
    plain = _QUARTER.sub(" ", _YEAR.sub(" ", question))
    out += [Constraint("number", f"{v:g}", v) for v in sorted(number_values(plain, months=False))]
    first = next(iter(_TOKEN.findall(question)), "").rstrip(".")
    runs = [[w for w in run if not _QUARTER.fullmatch(w)] for run in _name_runs(question, opening=False)]
    out += [
        Constraint("name", " ".join(run), tuple(p for w in run for p in _parts(_fold(w))),
                   opening=len(run) > 1 and run[0] == first)
        for run in runs
        if run
    ]
    return list(dict.fromkeys(out))


def _name_runs(text: str, opening: bool = True) -> list[list[str]]:
    """Runs of capitalised words (and acronyms), not counting months or function words ("In",
    "The"). The opening word of a sentence is capitalised whatever it is ("Name the...", "Tesla's
    revenue..."), so unless `opening` it counts only as the start of a longer name ("Super Bowl")."""
    runs: list[list[str]] = []
    current: list[str] = []
    found = list(_TOKEN.finditer(text))
    tokens = [m.group().rstrip(".") for m in found]
    for i, word in enumerate(tokens):
        if current and _apart(text, found[i - 1], found[i]):
            runs.append(current)
            current = []
        bare = _fold(word)
        capital = word[:1].isupper() or (len(word) > 1 and word[1:2].isupper())  # iPhone
        ordinary = bare in STOPWORDS or bare in MONTHS
        if i == 0 and not opening and word[1:].islower():
            following = tokens[1] if len(tokens) > 1 else ""
            ordinary = ordinary or not following[:1].isupper()
        if capital and not ordinary and not word.isdigit():
            current.append(word)
            if without_possessive(word) != word:  # "the V&A's Japanese collection": two names
                runs.append(current)
                current = []
            continue
        if current:
            runs.append(current)
        current = []
    if current:
        runs.append(current)
    return runs


def _apart(text: str, before: re.Match, after: re.Match) -> bool:
    """Two words that no name spans: punctuation between them ("BPE (Byte Pair Encoding)"), a
    blank line, or the end of a sentence, whose full stop stays on the word ("United States.
    WWII"; not "U.S. Open", "B. Wiesberger": rag.text.ends_sentence)."""
    gap = text[before.end() : after.start()]
    if gap.strip() or BLANK_LINE.search(gap):
        return True
    return before.group().endswith(".") and ends_sentence(text, before.end() - 1)


_BESIDE: dict[str, Callable[[str], set]] = {
    "year": years,
    "quarter": quarters,
    "month": lambda text: months(text, capital_may=True),
}
"""The kinds a cited sentence must state, or leave to its passage by stating none of its own."""


def stated(constraint: Constraint, sentence: str, context: str, article: frozenset[str] = frozenset()) -> bool:
    """Is the constraint stated for the cited sentence? A year, month or quarter: in it, or in its
    passage, title or date (`context`) while the sentence states no other one of its kind. An
    ordinal ("the first season"): unless the sentence states another one ("the tenth season"). A
    number: in the sentence or its context. A name: anywhere in its article (`article`, its
    folded words) or context: a news article names its subject once and then says "the
    province", "the company", so a name scopes over the whole article, while a year or number
    must sit next to the answer."""
    if constraint.kind in _BESIDE:
        found = _BESIDE[constraint.kind]
        own = found(sentence)
        return constraint.value in own or (not own and constraint.value in found(context))
    if constraint.kind == "ordinal":  # "first" is as often an adverb: only another ordinal contradicts it
        own = ordinals(sentence)
        return constraint.value in own or not own
    if constraint.kind == "number":
        return constraint.value in number_values(sentence, months=False) or constraint.value in number_values(
            context, months=False
        )
    words = _words(sentence) | _words(context) | article
    return all(w in words for w in constraint.value) or (
        constraint.opening and all(w in words for w in constraint.after_opening)
    )


def described(constraint: Constraint) -> str:
    """A constraint as a reader would write it: a month by its name ("March", not "3"), a name
    without its possessive ("Tesla", not "Tesla's"), the rest as the question has it."""
    if constraint.kind == "month":  # the full name from rag.text.MONTHS, not the locale's (calendar)
        return max((m for m, i in MONTHS.items() if i == constraint.value), key=len).capitalize()
    if constraint.kind == "name":
        return " ".join(without_possessive(w) for w in constraint.text.split())
    return constraint.text


def spelling(constraint: Constraint, texts: Sequence[str], cutoff: float = 0.8) -> str:
    """The passages' name closest in spelling to a name the question fixes and they do not
    state ("Iain Gray" for "Lain Gray", "Definitive Edition" for "Definite Edition"), or "".
    The spelling correction leaves a word of the language as typed, since it is more often
    meant than misspelled, and keeps a name's first letter; when the constraints step then
    refuses, this offers the articles' spelling instead of guessing. Names of as many words,
    compared without case or possessive, at `cutoff` (difflib's ratio, as the correction's);
    not a name that differs only in number ("Oscars" is no respelling of "Oscar") or in an
    acronym ("ABC" is another name than "BBC")."""
    if constraint.kind != "name":
        return ""
    typed = constraint.text.split()
    wanted = [_fold(w) for w in typed]
    acronyms = {i for i, w in enumerate(typed) if sum(c.isupper() for c in w) > 1}
    best, score = "", cutoff
    for text in texts:
        for run in _name_runs(text):
            for i in range(len(run) - len(wanted) + 1):
                words = run[i : i + len(wanted)]
                folded = [_fold(w) for w in words]
                if all(b == a or b in number_forms(a) for a, b in zip(wanted, folded, strict=True)):
                    continue
                if any(wanted[j] != folded[j] for j in acronyms):
                    continue
                ratio = difflib.SequenceMatcher(None, " ".join(wanted), " ".join(folded)).ratio()
                if ratio >= score:
                    best, score = " ".join(without_possessive(w) for w in words), ratio
    return best


def article_words(text: str) -> frozenset[str]:
    """An article's words as `stated` compares names (for `unmet`'s `articles`)."""
    return _words.__wrapped__(text)  # an article is read once per store version: not kept here


def unmet(
    question: str,
    citations: Sequence[Citation],
    hits: Sequence[Hit],
    articles: Callable[[str], frozenset[str]] | None = None,
    answer: str = "",
) -> list[Constraint]:
    """The question's constraints that no cited sentence states (with its passage, title and,
    for names, its article's words from `articles(doc_id)`); every cited sentence is a place the
    answer may rest on, so one that states it suffices. With the `answer`, a compound question
    asks only the constraints of the parts the answer answers (`asked`; without, the whole's)."""
    wanted = list(dict.fromkeys(k for part in asked(question, answer) for k in question_constraints(part)))
    if not wanted or not citations:
        return []
    by_id = {h.chunk.id: h for h in hits}
    places = []
    for c in citations:
        hit = by_id.get(c.chunk_id)
        context = f"{hit.chunk.header}\n{hit.chunk.text}" if hit else ""
        words = articles(c.doc_id) if articles else frozenset()
        places.append((c.quote, f"{c.title} {c.date or ''}\n{context}", words))
    return [k for k in wanted if not any(stated(k, s, ctx, words) for s, ctx, words in places)]


def asked(question: str, answer: str) -> list[str]:
    """The parts of a compound question (rag.text.split_question) that the answer's sentences
    answer (rag.attribution.answered_part), or the whole question. An answer to one part is held to
    that part's constraints, not to the names of a part it leaves alone: "Who led the delegation
    to Naqu, and who led the delegation from Qinghai to Zhejiang?" answered for Naqu alone need not
    state Qinghai where it cites the Naqu article."""
    every = split_question(question)
    if len(every) < 2:
        return [question]
    text = strip_markers(answer)
    parts = {answered_part(text[s:e], question) for s, e in split_sentences(text)}
    return [question] if question in parts or len(parts) in (0, len(every)) else [p for p in every if p in parts]


def signals(
    question: str,
    answer: str,
    citations: Sequence[Citation],
    hits: Sequence[Hit],
    articles: Callable[[str], frozenset[str]] | None = None,
) -> dict[str, float]:
    """What the constraints step decides on, kept with every answer: `unmet`, how many of the
    question's constraints no cited place states; `type_ok`, 1.0 when the answer is of the asked type."""
    return {
        "unmet": float(len(unmet(question, citations, hits, articles, answer))),
        "type_ok": float(answer_type_ok(question, answer)),
    }


# What kind of answer the question asks for, by its opening words.
_WHEN = re.compile(
    r"^\s*(and\s+)?(when\s+(did|does|do|was|were|is|are|will|would|has|have|had|can|could)|"
    r"(in|on) (what|which) (year|date|day|month)|what (date|year|day))\b",
    re.IGNORECASE,
)
_WHO = re.compile(r"^\s*(and\s+)?(who|whom|whose)\b", re.IGNORECASE)
_RELATIVE = re.compile(
    r"\b\d+\s+(second|minute|hour|day|week|month|year)s?\s+ago\b|\b(yesterday|today|tomorrow|last|next)\b",
    re.IGNORECASE,
)


def _new_name(run: list[str], asked: frozenset[str]) -> bool:
    """Is this run of capitalised words a name the question does not hold? A run with no word
    of the question is; one that adds to the question's name is when it adds two words or more
    ("Vanguard CEO Tim Buckley", "Party Secretary Wang Guosheng"), not when it adds one: a
    heading or title built on the question's own name ("2017 Walter Camp Award Semifinalist"
    for the award's winner) names nobody."""
    words = [_fold(w) for w in run]
    left = [w for w in words if w not in asked]
    return len(left) == len(words) or len(left) >= 2


def answer_type_ok(question: str, answer: str) -> bool:
    """A when-question's answer holds an absolute date (a year, or a month with a day) and no
    relative one; a who-question's answer holds a name that is not in the question (_new_name)."""
    text = strip_markers(answer)
    if _WHEN.search(question):
        year = re.search(r"\b\d{3,4}\b", text)  # a year of any era
        absolute = bool(year) or bool(re.search(r"\b\d{1,2}\b", text) and has_month(text, capital_may=True))
        return absolute and not (_RELATIVE.search(text) and not year)
    if _WHO.search(question):
        asked = _words(question)
        return any(_new_name(run, asked) for run in _name_runs(text))
    return True

