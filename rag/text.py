"""Small text functions shared by verification, extraction and evaluation. All pure."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

# Abbreviations that a name, number or reference always follows, so their full stop ends no
# sentence: titles, an initial, months before their day ("Jan. 5", as news agencies write them),
# and the ones scholarly text cites with ("Devlin et al. (2019)", "e.g.", "Fig. 3", "Sec. 4.1").
# A lower-case word after a full stop is no sign either way: a passage cut from the middle of a
# sentence starts with one ("...benefits [1]. meeting, Xia Baolong ... [3].").
_ABBREV = "".join(
    rf"(?<!\b{a})"
    for a in r"""Mr Mrs Ms Dr No St vs [A-Z] al e\.g i\.e cf Fig Figs Eq Eqs Sec approx resp pp Vol
    Jan Feb Mar Apr Aug Sep Sept Oct Nov Dec""".split()
)
REFUSAL = "The articles don't say."
"""The one refusal sentence: the prompt asks for it, verification and the page recognise it."""
MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
"""A citation marker: [1], [1, 2], [ 3 ]; group 1 holds the numbers."""
CITED = re.compile(r"\[(\d+)\]")
"""A marker in a verified answer, which cites one number each ("[1][2]": rag.verify writes them)."""
_MARKERS = re.compile(r"\s*" + MARKER.pattern)


def strip_markers(text: str) -> str:
    """The text without its citation markers (and the blank before each)."""
    return _MARKERS.sub("", text)


_STOPS, _CLOSERS = ".!?。！？", "\"”’)]"
_SENTENCE_END = re.compile(_ABBREV + f"[{re.escape(_STOPS)}][{re.escape(_CLOSERS)}]*" + r"(?=\s+|$)")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our out over own same she should
    so some such than that the their them then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your
    said says say give given gave much many since year years total did does has have""".split()
)
MONTHS = {
    m: i
    for i, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
         ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
         ("october", "oct"), ("november", "nov"), ("december", "dec")],
        1,
    )
    for m in names
}
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "万": 1e4, "亿": 1e8}
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:\s*(thousand|million|billion|trillion|万|亿))?",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+")
_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z'’-]+")
_ANY_CASE = re.compile(_CAPITALISED.pattern, re.IGNORECASE)
_POSSESSIVE = re.compile(r"['’]s$|(?<=[sS])['’]$")


def line_spans(text: str):
    """(start, end) of each line, without its newline or trailing blanks."""
    pos = 0
    for line in text.split("\n"):
        yield pos, pos + len(line.rstrip())
        pos += len(line) + 1


def ends_sentence(text: str, i: int) -> bool:
    """Whether the stop at text[i] ends a sentence by split_sentences' rule (not "U.S.", "B.",
    "St."): the same answer for one place without splitting the whole text."""
    return bool(_SENTENCE_END.match(text, i))


BLANK_LINE = re.compile(r"\n\s*\n")
"""A blank line (spaces allowed on it): it always ends a sentence, and a name."""
_PARAGRAPH = re.compile(rf"[^\n]+(?:(?!{BLANK_LINE.pattern})\n[^\n]+)*")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text; a blank line always ends a sentence."""
    spans = []
    for para in _PARAGRAPH.finditer(text):
        pos = para.start()
        for m in _SENTENCE_END.finditer(para.group()):
            end = para.start() + m.end()
            if text[pos:end].strip():
                spans.append(_strip(text, pos, end))
            pos = end
        if text[pos : para.end()].strip():
            spans.append(_strip(text, pos, para.end()))
    return spans


_WH = "who|whom|what|when|where|which|how|why"
_COMPOUND = re.compile(rf",?\s+and\s+(?=(?:{_WH})\b)", re.IGNORECASE)
_QUESTION_WORD = re.compile(rf"^\s*(?:whose|{_WH})\b", re.IGNORECASE)


def split_question(question: str, most: int = 3) -> list[str]:
    """ "Who led X, and who led Y?" -> ["Who led X?", "Who led Y?"]; anything else stays whole.
    Without a comma before "and", the first part must open with a question word: "The Rhine Gorge
    is between Koblenz and what other city?" joins two places inside one question."""
    parts = [p.strip(" ,;?") for p in _COMPOUND.split(question)]
    if not 1 < len(parts) <= most or any(len(p.split()) < 3 for p in parts):
        return [question]
    if not _QUESTION_WORD.match(parts[0]) and not all(j.startswith(",") for j in _COMPOUND.findall(question)):
        return [question]
    return [p[0].upper() + p[1:] + "?" for p in parts]


def ends_properly(sentence: str) -> bool:
    """The sentence ends with a full stop (or ! ?) or a closing quote, bracket or `[n]` marker:
    one that does not was cut off."""
    return sentence.rstrip().endswith(tuple(_STOPS + _CLOSERS))


def number_values(text: str, months: bool = True) -> set[float]:
    """Numbers as values, so "848 million", "848,000,000" and "848 million yuan" agree.

    Month names count as their number, so "April 1, 2022" can be checked against "2022-04-01";
    `months=False` leaves them out, so "3 people" is not borne out by "March".
    """
    values = set()
    for m in _NUMBER.finditer(text):
        value = float(m.group(1).replace(",", "") + (m.group(2) or ""))
        scale = m.group(3)
        values.add(value * _SCALE[scale.lower()] if scale else value)
    if months:
        values.update(float(m) for m in _months(text))
    return values


_CURRENCY = (
    r"dollars?|euros?|pounds? sterling|pounds?|yen|yuan|renminbi|rupees?|francs?|roubles?|rubles?|pesos?|"
    r"USD|EUR|GBP|JPY|CNY|RMB|INR|CHF|CAD|AUD|HKD"
)
_MONEY = re.compile(
    rf"(?:(?<![A-Za-z])[A-Z]{{0,2}}[$€£¥₹]|\b(?:{_CURRENCY})\b)\s*({_NUMBER.pattern})"
    rf"|({_NUMBER.pattern})\s*(?:{_CURRENCY})\b",
    re.IGNORECASE,  # "848 million Yuan" in a heading is money too
)


def money_values(text: str) -> set[float]:
    """The values of the numbers a text writes as money: after a currency sign ("$6.3 billion",
    "US$10") or code ("USD 5 million"), or before a currency's name or code ("848 million yuan").
    A number in a passage that counts something else ("184,877 vehicles") is no amount of money,
    so an answer that writes it as one adds a detail no passage states. The names and codes are
    the widely used currencies; an amount in another ("5 million kronor") is simply not checked,
    unless the answer turns it into one of these, which no passage bears out either."""
    return {v for m in _MONEY.finditer(text) for v in number_values(m.group(1) or m.group(5))}


def months(text: str, capital_may: bool = False) -> set[int]:
    """The months a text names, as numbers. "may" is too often the verb to count; with
    `capital_may`, a capitalised "May" counts (in an answer or a question, "May 29, 2020" is the
    month far more often than a sentence opening "May ...")."""
    found = set(_months(text))
    if capital_may and "May" in _WORD.findall(text):
        found.add(MONTHS["may"])
    return found


def has_month(text: str, capital_may: bool = False) -> bool:
    return bool(months(text, capital_may))


def _months(text: str) -> list[int]:
    """The months named in text ("may" is too often the verb to count)."""
    return [MONTHS[w] for w in _WORD.findall(text.lower()) if w in MONTHS and w != "may"]


def number_forms(word: str) -> tuple[str, ...]:
    """The word with a plural ending added or taken off ("bronco" -> "broncos", "broncoes";
    "oscars" -> "oscar"): what a name may be written as in the other number, as far as its
    spelling tells (the spelling correction and its suggestions treat these as one name)."""
    return (word + "s", word + "es", word.removesuffix("s"), word.removesuffix("es"))


def without_possessive(word: str) -> str:
    """ "Tesla's" -> "Tesla", "Normans'" -> "Normans": the word as a name or a stem compares it."""
    return _POSSESSIVE.sub("", word)


def _name_word(word: str) -> str:
    return without_possessive(word).lower()


def names(text: str) -> set[str]:
    """Capitalised words that are not ordinary sentence openers: the names a claim rests on."""
    out = set()
    for word in _CAPITALISED.findall(text):
        w = _name_word(word)
        if w not in STOPWORDS and w not in MONTHS and w not in _OPENERS and len(w) > 1:
            out.add(w)
    return out


def name_words(text: str) -> frozenset[str]:
    """Every word of `text` as `names` would spell it were it capitalised (lower case, no
    possessive, cut where `names` cuts): what a claim's names can be looked up in, so that
    "Tesla's" or "Pogačar" in the question meets the same name in the answer."""
    return frozenset(_name_word(w) for w in _ANY_CASE.findall(text))


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and not w.isdigit()}


def unaccented(word: str) -> str:
    """ "hervé" -> "herve": the letters without their accents, as a name is often typed."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'")).strip().lower()


_local = threading.local()


def stemmer():
    """This thread's Snowball (Porter 2) English stemmer, as the keyword index uses: a PyStemmer
    instance keeps state between calls, so threads must not share one."""
    found = getattr(_local, "stemmer", None)
    if found is None:
        import Stemmer

        found = _local.stemmer = Stemmer.Stemmer("english")
    return found


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """ "provide" and "provided", "country" and "countries" meet (a suffix list missed both)."""
    return stemmer().stemWord(without_possessive(word))


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_OPENERS = frozenset(
    "according however yes in on at the this that these those it its they he she we there "
    "answer passage passages article articles based both".split()
)


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)]}
_CONTROL |= {0x2028: "\\u2028", 0x2029: "\\u2029", 0x202E: "\\u202e", 0x202D: "\\u202d"}


def printable(text: str) -> str:
    """Text safe to write to a terminal or a log: control characters (escape sequences, carriage
    returns, bidi overrides) shown as escapes, so an article cannot move the cursor, retitle the
    window or hide text. Newlines and tabs stay."""
    return str(text).translate(_CONTROL)
