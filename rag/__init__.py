"""Citation-grounded question answering over news articles.

    from rag import answer
    a = answer("How much aid money has Zhejiang given Qinghai since 2010?")
    print(a.text, a.citations[0].quote)
"""

from __future__ import annotations

from collections.abc import Iterator

from rag.settings import Settings
from rag.types import Answer, Chunk, Citation, Hit

__all__ = ["Answer", "Chunk", "Citation", "Hit", "Settings", "answer", "stream_answer", "get_engine"]


def answer(question: str, history=None, **overrides) -> Answer:
    """Answer from the indexed articles. Overrides: k, backend, temperature, max_tokens, ...

    Raises ValueError for an empty question or one over the length limit.
    """
    return get_engine().answer(question, history, **overrides)


def stream_answer(question: str, history=None, **overrides) -> Iterator[str | Answer]:
    """Like `answer`, but yields text pieces as they are generated and the `Answer` last."""
    return get_engine().stream(question, history, **overrides)


def get_engine(settings: Settings | None = None):
    from rag.engine import get_engine as _get

    return _get(settings)
