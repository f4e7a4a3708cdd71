"""End to end with the real Chroma, the real embeddings and the real bundled LLM."""

import pytest

from rag.types import Answer

pytestmark = pytest.mark.e2e


def _quote_in_source(citation) -> bool:
    with open(citation.source, encoding="utf-8") as f:
        return f.read()[citation.start : citation.end] == citation.quote


def test_qinghai_aid_amount(engine):
    a = engine.answer("How much aid money has Zhejiang given Qinghai since 2010?")
    assert not a.refused, a
    assert "848 million" in a.text
    cited = [c for c in a.citations if "848 million" in c.quote]
    assert cited and cited[0].source.endswith("002_7212ff25fdb82ffd.txt")
    assert all(_quote_in_source(c) for c in a.citations)
    assert f"[{cited[0].n}]" in a.text


def test_naqu_delegation_leader_streams(engine):
    items = list(engine.stream("Who led the delegation to Naqu?"))
    assert all(isinstance(i, str) for i in items[:-1]) and len(items) > 2
    final = items[-1]
    assert isinstance(final, Answer) and not final.refused
    assert "Zhu Congjiu" in final.text
    assert final.citations and all(_quote_in_source(c) for c in final.citations)
    assert final.timings["first_token_s"] <= final.timings["total_s"]


def test_unrelated_question_is_refused(engine):
    a = engine.answer("What did the football World Cup final score turn out to be?")
    assert a.refused and a.citations == ()
    assert "articles don't say" in a.text
    assert a.hits  # the closest passages are still listed


def test_reingest_changes_nothing(engine):
    before = engine.store.count()
    report = engine.ingest(progress=False)
    assert report.counts == {"unchanged": 2} and engine.store.count() == before


def test_public_answer_function(engine, monkeypatch):
    import rag
    from rag import engine as engine_module

    monkeypatch.setattr(engine_module, "get_engine", lambda settings=None: engine)
    a = rag.answer("Who led the delegation to Naqu?", backend="extractive")
    assert "Zhu Congjiu" in a.text
    with pytest.raises(ValueError, match="empty"):
        rag.answer("  ")
