"""Who did what: catch an answer that names the wrong person from a list of officials.

News prose introduces people as "Name, Title, did something", often several in one sentence
("A, Mayor, B, Vice Mayor, and C, D and E, municipal leaders, attended"). A small model reading
such a sentence picks a name from it, not always the right one, and a name-and-word check
passes because every word is somewhere in the passage. So each clause (the text between
commas) of a passage is given an owner: the person whose name opened the run of clauses it
belongs to, or who is named inside it. A claim that answers the question with person X is
misattributed when another person's clauses hold more of the question's words than X's do;
the span that person owns is then the answer, quoted verbatim. Pure functions, no model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.text import STOPWORDS, content_words, names, number_values, split_question, split_sentences

# Words that make a capitalised run a title, an office or a place rather than a person.
_NOT_A_PERSON = frozenset(
    """vice deputy executive acting governor mayor secretary president chairman chairwoman minister
    director general chief head member leader committee party province provincial city municipal
    region regional autonomous county district government office department bureau ministry council
    association university college school company group bank state national people republic central
    new north south east west river mountain lake street road team delegation congress assembly court
    army police news daily times post agency""".split()
)
_NAME_WORD = r"[A-Z][a-z'’-]+"
_PERSON = re.compile(rf"{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,2}}")
_CLAUSE = re.compile(r"(?:[^,;:]|(?<=\d)[,:](?=\d))+")
"""A clause runs to a comma, semicolon or colon, except one inside a number ("100,000", "10:30")."""
_WHO = re.compile(r"^\s*(and\s+)?(who|whom)\b", re.IGNORECASE)
_TITLES = "governor|mayor|secretary|president|chairman|chairwoman|minister|director|chief|leader|head"
# "... Party Secretary Xia Baolong": a person introduced by their title at the end of a clause.
_TITLED = re.compile(rf"\b(?i:{_TITLES})\s+({_NAME_WORD}\s+{_NAME_WORD})[.!?]?$")
# "Zhu Congjiu and his delegation visited ...": a name as the subject that opens a clause.
_SUBJECT = re.compile(rf"({_NAME_WORD}\s+{_NAME_WORD})\s+(?:and\s+)?[a-z]")
# "Vice Mayor" is not "Mayor": a qualified title counts as one word.
_QUALIFIED = re.compile(r"\b(executive vice|vice|deputy|acting)\s+(?=[a-z])", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    passage: int  # index of the passage (hit) it comes from
    start: int
    end: int
    owners: frozenset[str]
    words: frozenset[str]


def people_in_list(clause: str) -> list[str]:
    """The people a clause consists of ("Li Meng and Li Dong"), or [] if it is anything else."""
    text = re.sub(r"^\s*and\s+", "", clause.strip())
    parts = [p.strip() for p in re.split(r"\s+and\s+", text)]
    if not parts or not all(_PERSON.fullmatch(p) and _is_person(p) for p in parts):
        return []
    return parts


def people_named(clause: str) -> list[str]:
    """The people a clause names: a list of names, or a name after a title."""
    listed = people_in_list(clause)
    if listed:
        return listed
    m = _TITLED.search(clause.strip()) or _SUBJECT.match(clause.strip())
    return [m.group(1)] if m and _is_person(m.group(1)) else []


def words(text: str) -> set[str]:
    """Content words, with qualified titles ("vice-mayor") kept apart from plain ones."""
    return content_words(_QUALIFIED.sub(lambda m: m.group(1).replace(" ", "-") + "-", text))


def _is_person(name: str) -> bool:
    return not any(w.lower() in _NOT_A_PERSON or w.lower() in STOPWORDS for w in name.split())


def clauses(passages: Sequence[str]) -> list[Clause]:
    """Every clause of every passage with the people who own it (see the module docstring)."""
    known = {p for text in passages for c in _CLAUSE.findall(text) for p in people_named(c)}
    mention = re.compile(r"\b(" + "|".join(map(re.escape, sorted(known, key=len, reverse=True))) + r")\b") if known else None
    out = []
    for i, text in enumerate(passages):
        for s, e in split_sentences(text):
            owners: frozenset[str] = frozenset()
            for m in _CLAUSE.finditer(text, s, e):
                listed = people_named(m.group())
                inline = set(mention.findall(m.group())) if mention and not listed else set()
                if listed or inline:
                    owners = frozenset(listed or inline)
                lead = len(m.group()) - len(m.group().lstrip())
                tail = len(m.group()) - len(m.group().rstrip())
                out.append(Clause(i, m.start() + lead, m.end() - tail, owners, frozenset(words(m.group()))))
    return out


@dataclass(frozen=True)
class Reattribution:
    passage: int
    start: int
    end: int


def check(
    claim: str, question: str, passages: Sequence[str], units: list[Clause] | None = None
) -> Reattribution | bool:
    """True when the claim's answer-person is not contradicted by the passages; otherwise the
    span owned by the person the passages give for the question (a `Reattribution`), or False
    when there is none to offer."""
    units = clauses(passages) if units is None else units
    people = {p for u in units for p in u.owners}
    asked = names(question)
    claimed = {p for p in people if _name_words(p) <= names(claim) and not _name_words(p) <= asked}
    wanted = words(question) - {w for p in claimed for w in _name_words(p)}
    if not wanted or not (claimed or (_WHO.search(question) and not _names_someone(claim, question))):
        return True

    # A word in many clauses (the story's place, its topic) tells little about who did what.
    weight = {w: math.log(1 + len(units) / (1 + sum(w in u.words for u in units))) for w in wanted}

    def score(person_set: set[str]) -> float:
        return sum(weight[w] for w in wanted & {w for u in units if u.owners & person_set for w in u.words})

    own = score(claimed)
    rivals = sorted(people - claimed, key=lambda p: (-score({p}), min(u.start for u in units if p in u.owners)))
    # Overturn only on clear evidence: the model is usually right, and a stray shared word
    # ("ethnic groups" for "the group") can tip a close count.
    if not rivals or score({rivals[0]}) <= 2 * own:
        return bool(claimed)
    return _owned_span(rivals[0], weight, units) or False


def _names_someone(claim: str, question: str) -> bool:
    """The claim has a name that is neither in the question nor a title or place word."""
    asked = {w.lower() for w in re.findall(r"[A-Za-z'’-]+", question)}
    return bool(names(claim) - asked - _NOT_A_PERSON)


def _owned_span(person: str, weight: dict[str, float], units: list[Clause]) -> Reattribution | None:
    """The run of consecutive clauses that `person` owns that best matches the question, from its
    first clause to the last one holding one of the run's two most telling question words."""
    runs: list[list[Clause]] = []
    for i, u in enumerate(units):
        if person in u.owners:
            if runs and runs[-1][-1] is units[i - 1] and units[i - 1].passage == u.passage:  # a run ends with its passage
                runs[-1].append(u)
            else:
                runs.append([u])
    def found(run: list[Clause]) -> set[str]:
        return weight.keys() & {w for u in run for w in u.words}

    best = max(runs, key=lambda run: sum(weight[w] for w in found(run)), default=None)
    if not best:
        return None
    telling = set(sorted(found(best), key=weight.get, reverse=True)[:2])
    last = max((j for j, u in enumerate(best) if telling & u.words), default=0)
    return Reattribution(best[0].passage, best[0].start, best[last].end)


def _name_words(name: str) -> set[str]:
    return {w.lower() for w in name.split()}


_HOW_MANY = re.compile(r"\bhow many\s+((?:[a-z'’-]+\s+){0,3}?)([a-z'’-]+)", re.IGNORECASE)


def check_count(
    claim: str, question: str, passages: Sequence[str], units: list[Clause] | None = None
) -> Reattribution | bool:
    """For "how many X" questions: the claim's number must sit in a clause that counts X
    ("project 221", not "funds 848 million"). Same verdicts as `check`."""
    m = _HOW_MANY.search(question)
    numbers = number_values(claim)
    if not m or not numbers:
        return True
    noun = next((w for w in content_words(m.group()) if w not in {"how", "many"}), None)
    if noun is None:
        return True
    units = clauses(passages) if units is None else units
    counting = [u for u in units if noun in u.words and number_values(_text(u, passages))]
    if not counting or any(numbers <= number_values(_text(u, passages)) for u in counting):
        return True
    # Only a clause whose sentence names something the question names: "How many people were in
    # X's delegation?" is not answered by a count of the people of the city X visited.
    asked = names(question)
    counting = [u for u in counting if not asked or asked & _sentence_names(u, passages)]
    if not counting:
        return False
    wanted = content_words(question)
    best = max(counting, key=lambda u: (len(wanted & u.words), -u.passage, -u.start))
    return Reattribution(best.passage, best.start, best.end)


def _sentence_names(u: Clause, passages: Sequence[str]) -> set[str]:
    text = passages[u.passage]
    for s, e in split_sentences(text):
        if s <= u.start < e:
            return {w.lower() for w in re.findall(r"[A-Za-z]+", text[s:e])}
    return set()


def _text(u: Clause, passages: Sequence[str]) -> str:
    return passages[u.passage][u.start : u.end]


def review(claim: str, question: str, passages: Sequence[str]) -> Reattribution | bool:
    """Both checks: the answer's person, then the answer's count, each against the part of a
    compound question that the claim answers."""
    question = answered_part(claim, question)
    units = clauses(passages)  # once for both checks
    verdict = check(claim, question, passages, units)
    return check_count(claim, question, passages, units) if verdict is True else verdict


def answered_part(claim: str, question: str) -> str:
    """The part of a compound question (rag.text.split_question) whose words the claim covers
    best (the share of the part's words, then their number); the whole question when it has one
    part or the claim matches two alike. "What funds has X organised, and how many projects?": a
    claim giving the funds answers the first part, so the second part's count check must not
    turn it into the project count. A share, not a count: a short part ("and what were the
    results?") is answered by a claim that names its one word ("The results were 57.4% ..."), even
    when the claim repeats more words of a longer part ("PAL")."""
    parts = split_question(question)
    if len(parts) < 2:
        return question
    claimed = content_words(claim)
    scores = []
    for part in parts:
        words = content_words(part)
        shared = len(claimed & words)
        scores.append((shared / len(words) if words else 0.0, shared))
    best = max(scores)
    return parts[scores.index(best)] if best[1] and scores.count(best) == 1 else question
