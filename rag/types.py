"""The records that cross module boundaries: frozen, typed, and JSON-friendly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Article:
    """One source file after loading: its plain text plus what we know about it.

    `text` is the whole extracted text; `body` lists the (start, end) spans of `text`
    that are article prose, i.e. not the title/date header and not page furniture.
    Every offset in the system (chunks, quotes) is an offset into `text`.
    """

    doc_id: str
    source: str
    title: str
    date: str | None
    publisher: str | None
    text: str
    body: tuple[tuple[int, int], ...]
    furniture: tuple[str, ...] = ()
    original_file: str = ""
    file_hash: str = ""
    """`ingest.load.file_fingerprint` of the file it was read from: an unchanged file is not read again."""
    sections: tuple[tuple[int, str], ...] = ()
    """(offset in `text`, heading) where each section starts, ascending (ingest.sections)."""

    @property
    def content_hash(self) -> str:
        from rag.ids import content_hash

        parts = (self.title, self.date or "", self.text)
        if self.sections:  # they decide the chunks; an article without any keeps its old hash
            parts += ("\n".join(f"{start} {heading}" for start, heading in self.sections),)
        return content_hash(*parts)


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: `text == article.text[start:end]`, always."""

    id: str
    doc_id: str
    index: int
    title: str
    date: str | None
    source: str
    text: str
    start: int
    end: int
    section: str = ""
    """The heading of the section the chunk lies in ("" where the article has none): shown with
    its citations. It is not in `header`: ranked and read with the heading in front, the papers
    set got more passages that share the heading's words but do not answer (README, "Sections")."""

    @property
    def header(self) -> str:
        """The contextual header put in front of the text wherever it is ranked or read:
        embedded, indexed for keywords, shown to the model and the reader."""
        return f"{self.title} ({self.date})" if self.date else self.title


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the ranks that produced it."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None
    rerank_score: float | None = None
    """The reader's logit that this chunk states the answer (rag.reader); None when off."""


@dataclass(frozen=True)
class Citation:
    """What `[n]` in an answer points at: the supporting sentence and where it sits."""

    n: int
    doc_id: str
    title: str
    date: str | None
    source: str
    chunk_id: str
    quote: str
    start: int
    end: int
    section: str = ""
    """The heading of the section the quote is in ("" where the article has none)."""


REFUSAL_REASONS = {
    "retrieval": "No passage is close enough to the question to ask the model.",
    "model": "The model found no answer in the closest passages.",
    "verification": "The model's answer was not supported by the passages it cited.",
    "answerability": "The passages found do not look like they answer this exact question.",
    "constraints": "The passages that answer do not state everything the question fixes (its year, place, name or kind of answer).",
    "reader": "The reader is all but sure that the passages the answer cites do not state it.",
    "consistency": "Asked again with the same passages in another order, the model did not give the same answer.",
}
"""What a reader is told about a refusal, by the step that refused (`Answer.refused_by`)."""


@dataclass
class Usage:
    """What the model did for one generation, as llama.cpp counts it: the prompt tokens it read
    (a prefix restored from its saved state is not read) and the tokens it decoded (with drafts,
    rag.drafts, every token read while writing, the drafts not taken included), each with its
    seconds. Filled by the backends that can tell (the bundled model), so that a run's latencies
    come with the speed the machine had during that run (`rag eval`: `llm_*` in the summary)."""

    read: int = 0
    read_s: float = 0.0
    decoded: int = 0
    decode_s: float = 0.0
    stepped: int = 0
    """Of the decoded tokens, those read one at a time (no draft beside them), and their seconds:
    the machine's raw decode speed, which the drafts' batches would hide."""
    stepped_s: float = 0.0


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    refused: bool = False
    hits: tuple[Hit, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    searched: str = ""
    """The standalone question that was actually retrieved with (differs after a follow-up)."""
    signals: dict[str, float] = field(default_factory=dict)
    """What the answerability decision saw (rag.answerable), the prompt tokens of the passages and,
    with the bundled model, the tokens it read and decoded (`llm_read`, `llm_decoded`: Usage; their
    seconds are `llm_read_s` and `llm_decode_s` in `timings`)."""
    refused_by: str = ""
    """Which step refused: "retrieval" (no passage close enough to ask the model), "model" (it
    said the passages do not say), "verification" (no claim was supported by its passages, or a
    how-much question got no number), "answerability" (a verified answer whose evidence does
    not look like it answers this question), "constraints" (the cited evidence does not state
    a year, number or name the question fixes, or the answer is not of the asked type),
    "reader" (the reader gives every cited passage less than `min_reader`) or "consistency" (an
    answer the reader doubts, asked again with the passages reversed, came back different:
    rag.steps.recheck); "" for an answer."""
    draft: str = ""
    """The model's text as generated, before verification: what the checks were given, so they
    can be replayed on it without the model (eval.replay)."""
    part_drafts: tuple[str, ...] = ()
    """The model's texts for parts of a compound question asked alone after the answer left them
    out (rag.steps.complete), in the order asked; recorded for eval.replay like `draft`."""
    unstated: tuple[str, ...] = ()
    """For a refusal by "constraints": what the question fixes that no cited place states ("2019",
    "Naqu"), as rag.constraints.described writes it; named to the reader by `why_refused`."""
    unanswered: tuple[str, ...] = ()
    """For an answer to a compound question: its parts that got no answer (rag.steps.complete
    asked each alone over the same passages), told to the reader by `not_answered`."""
    respelled: tuple[tuple[str, str], ...] = ()
    """For a refusal by "constraints": each unstated name with the passages' name spelled closest
    to it (("Definite Edition", "Definitive Edition"): rag.constraints.spelling), offered to the
    reader by `why_refused` as what they may have meant."""
    recheck_draft: str = ""
    """The model's text when the answer was asked again with its passages reversed
    (rag.steps.recheck; "" when it was not); recorded for eval.replay like `draft`."""

    @property
    def why_refused(self) -> str:
        """One sentence on why there is no answer ("" for an answer)."""
        if self.refused_by == "constraints" and self.unstated:
            named = [f'"{text}"' for text in self.unstated]
            listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} or {named[-1]}"
            why = f"The passages the model answered from do not state {listed}, which the question asks about."
            meant = [f'"{near}"' for _, near in self.respelled]
            return f"{why} Did you mean {' or '.join(meant)}?" if meant else why
        return REFUSAL_REASONS.get(self.refused_by, "")

    @property
    def not_answered(self) -> str:
        """One sentence naming the parts of a compound question the answer leaves open ("" when none)."""
        if not self.unanswered:
            return ""
        listed = " ".join(f'"{part}"' for part in self.unanswered)
        return f"The passages found do not answer {'this part' if len(self.unanswered) == 1 else 'these parts'}: {listed}"

    def to_json(self) -> dict:
        """The stable `rag ask --json` shape; scripts depend on it."""
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "refused_by": self.refused_by,
            "why_refused": self.why_refused,
            "unanswered": list(self.unanswered),
            "citations": [
                {k: v for k, v in asdict(c).items() if k != "chunk_id"} for c in self.citations
            ],
            "hits": [
                {
                    "doc_id": h.chunk.doc_id,
                    "title": h.chunk.title,
                    "score": round(h.score, 6),
                    "text": h.chunk.text,
                }
                for h in self.hits
            ],
            "timings": {
                k: round(self.timings.get(k, 0.0), 4) for k in ("retrieve_s", "generate_s", "total_s")
            },
        }
