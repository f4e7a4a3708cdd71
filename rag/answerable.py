"""Does the evidence answer the question asked? The signals, and the decision built from them.

Verification (rag.verify) checks that an answer's words are in a passage it cites. That passes a
fact about the wrong year, company or person when the passage is on the question's topic. Cheap,
general signals catch part of what it misses:

- `adds_information`: an answer must say something beyond the question ("The tasks included in
  SuperGLUE are [1]." restates it); a claim that does not is dropped by verification;
- `coverage`: evidence about the question's own subject repeats most of the question's words,
  a near miss on the same topic fewer (lexical, on the cited passages and on the quoted sentence);
- `quote_similarity`: the same, semantically: the embedding similarity of the question and the
  best quoted sentence, which a rewording does not lower as much;
- `reader`: the reader's probability (rag.reader) that a cited passage states the answer:
  it reads question and passage together, so it tells the 2018 final from the 2019 one;
- `reader_span`: how much better its best answer span in a cited passage scores than "no answer";
- `reader_agrees`: the answer holds the span the reader found (two readers of one passage agree);
- `dense`: how close the best passage is to the question at all.

`answerable` combines them with a logistic model fitted on the dev halves of SQuAD answerable
and unanswerable questions (`python -m eval.answerability`); the weights, what each signal adds,
and what was tried and removed (the LLM as a yes/no judge) are in README, "Answerability".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from rag.text import content_words, number_values, strip_markers

# Fitted by `python -m eval.answerability fit` on the SQuAD dev halves (README, "Answerability").
# Without the reader (the default): the two signals that add to each other (cross-validated AUC
# 0.804 together; the best passage's dense score and the question's numbers added nothing).
WEIGHTS: Mapping[str, float] = {"coverage": 2.0338, "quote_similarity": 1.5351}
BIAS = -2.3799
# With the reader (RAG_READ=1), its probability for the cited passage joins them: cross-
# validated AUC 0.878 instead of 0.859 on the 2026-11-28 dev answers; its span margin and whether the
# answer holds its span added nothing beside it (README, "Answerability").
WEIGHTS_READER: Mapping[str, float] = {"coverage": 1.813, "quote_similarity": 1.7203, "reader": 2.0958}
BIAS_READER = -3.8106


def answerable(signals: Mapping[str, float], reader: bool = False) -> float:
    """P(the answer is right to give) from the signals, by the fitted logistic model (the one
    with the reader's probability when `reader`)."""
    weights, bias = (WEIGHTS_READER, BIAS_READER) if reader else (WEIGHTS, BIAS)
    z = bias + sum(w * float(signals.get(name, 0.0)) for name, w in weights.items())
    return 1 / (1 + math.exp(-z))


def adds_information(claim: str, question: str) -> bool:
    """False when the claim says nothing the question did not: no content word or number of its
    own. Covers empty restatements of any question, in any domain."""
    claim = strip_markers(claim)
    new_words = content_words(claim) - content_words(question)
    new_numbers = number_values(claim, months=False) - number_values(question, months=False)
    return bool(new_words or new_numbers)


def missing_constraints(question: str, evidence: Sequence[str]) -> set[float]:
    """The numbers the question names (a year, an amount) that no evidence text holds: a passage
    about 2014 does not answer a question about 2015."""
    wanted = number_values(question, months=False)
    if not wanted:
        return set()
    held: set[float] = set()
    for text in evidence:
        held |= number_values(text, months=False)
    return wanted - held


def coverage(question: str, text: str) -> float:
    """Share of the question's content words that the text holds: evidence about the question's
    own subject repeats most of its words; a near miss on the same topic repeats fewer."""
    wanted = content_words(question)
    return len(wanted & content_words(text)) / len(wanted) if wanted else 1.0
