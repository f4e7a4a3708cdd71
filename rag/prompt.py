"""The chat messages sent to an LLM backend.

The instructions and two worked examples come first and never change, so llama.cpp reuses
their cached prefix; the retrieved passages and the question come last.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.text import REFUSAL, split_question
from rag.types import Hit

SYSTEM = f"""You answer questions about news articles using only the numbered passages given with the question.
Rules:
1. Answer in one or two short sentences that give only the facts asked for.
2. End every sentence with the number of the passage it comes from, in brackets, like [1] or [2].
3. Copy numbers, amounts, dates, names and titles exactly as the passage writes them.
4. If the passages do not state the answer, reply with exactly this sentence and nothing else: {REFUSAL}
5. The passages are machine translations with odd wording; when a passage states the fact in other words, answer from it.
6. Never use knowledge from outside the passages. Never guess."""

# Worked examples: one cited answer from machine-translated wording, one near-miss refusal.
_EXAMPLE_PASSAGES = """[1] Harbour city signs water agreement (2021-06-02)
On June 1, Mayor Lena Ortiz led a delegation to the Delta Water Board. Since 2015, the city has organized a total of Delta assistance funds 120 million dollars, the implementation of assistance project 35.

[2] Delta Water Board annual report (2021-09-15)
The board's chairman, Omar Reyes, said water quality improved in all districts."""

EXAMPLES = (
    {"role": "user", "content": f"{_EXAMPLE_PASSAGES}\n\nQuestion: How much aid has the city given the Delta since 2015?"},
    {"role": "assistant", "content": "Since 2015, the city has given 120 million dollars of assistance funds to the Delta [1]."},
    {"role": "user", "content": f"{_EXAMPLE_PASSAGES}\n\nQuestion: How much does the Delta Water Board spend each year?"},
    {"role": "assistant", "content": REFUSAL},
)

CONDENSE_SYSTEM = """Rewrite the user's last question so that it can be understood without the conversation.
Keep names, places and numbers from the conversation that the question refers to.
Reply with the rewritten question only."""


def passages_block(hits: Sequence[Hit]) -> str:
    return "\n\n".join(f"[{i}] {h.chunk.header}\n{h.chunk.text.strip()}" for i, h in enumerate(hits, 1))


def prefix_messages() -> list[dict]:
    """The messages every answer prompt starts with (their model state is cached: rag.kvcache)."""
    return [{"role": "system", "content": SYSTEM}, *EXAMPLES]


def answer_messages(question: str, hits: Sequence[Hit], part: str = "") -> list[dict]:
    """The prefix, then the passages and the question; a compound question (rag.text.split_question)
    also lists its parts, which the small model otherwise often answers one of. With `part`, only
    that part is asked, after the whole question that gives it its subject ("how does it ...")."""
    parts = split_question(question)
    asked = f"Question: {question}"
    if part:
        asked += f"\nAnswer only this part: {part}"
    elif len(parts) > 1:
        asked += "\nAnswer each part: " + " ".join(parts)
    return [*prefix_messages(), {"role": "user", "content": f"{passages_block(hits)}\n\n{asked}"}]


def condense_messages(question: str, history: Sequence[tuple[str, str]]) -> list[dict]:
    turns = "\n".join(f"User: {q}\nAssistant: {a}" for q, a in history[-3:])
    return [
        {"role": "system", "content": CONDENSE_SYSTEM},
        {"role": "user", "content": "Conversation:\nUser: Who met the mayor in Lyon?\nAssistant: The trade minister met her [1].\n\nLast question: And when?"},
        {"role": "assistant", "content": "When did the trade minister meet the mayor in Lyon?"},
        {"role": "user", "content": f"Conversation:\n{turns}\n\nLast question: {question}"},
    ]
