"""End to end with the real Chroma, the real embeddings and the real bundled LLM."""

import pytest

from ingest.index import ingest_into
from rag.steps import STEPS, checks_s
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
    # every step is timed under its own name, the checks after generation too, and the model's
    # own reading and decoding as llama.cpp counted them (rag.types.Usage), the tokens decoded
    # one at a time (no draft batch) among them
    model = {"first_token_s", "total_s", "llm_read_s", "llm_decode_s", "llm_stepped_s"}
    assert {f"{step.__name__}_s" for step in STEPS} | model == set(a.timings)
    assert 0 < checks_s(a.timings) < a.timings["total_s"]
    assert a.signals["llm_read"] >= 1 and a.signals["llm_decoded"] >= 1
    assert 0 < a.timings["llm_read_s"] + a.timings["llm_decode_s"] <= a.timings["generate_s"]
    assert a.signals["llm_stepped"] <= a.signals["llm_decoded"] and a.timings["llm_stepped_s"] <= a.timings["llm_decode_s"]


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
    report = ingest_into(engine, progress=False)
    assert report.counts == {"unchanged": 2} and engine.store.count() == before


def test_public_answer_function(engine, monkeypatch):
    import rag
    from rag import engine as engine_module

    monkeypatch.setattr(engine_module, "get_engine", lambda settings=None: engine)
    a = rag.answer("Who led the delegation to Naqu?", backend="extractive")
    assert "Zhu Congjiu" in a.text
    with pytest.raises(ValueError, match="empty"):
        rag.answer("  ")


def test_the_model_reads_a_window_but_the_citation_quotes_one_sentence(engine):
    question = "How much aid money has Zhejiang given Qinghai since 2010?"
    hits = engine.retrieve(question)
    wide = engine.passages(hits, engine.settings.replace(window_tokens=400))
    assert any(len(w.chunk.text) > len(h.chunk.text) for w, h in zip(wide, hits))
    for h in wide:
        assert _source_text(h.chunk.source)[h.chunk.start : h.chunk.end] == h.chunk.text
    a = engine.answer(question, window_tokens=400)
    assert not a.refused and "848 million" in a.text
    windows = {h.chunk.id: h.chunk for h in a.hits}
    for c in a.citations:
        window = windows[c.chunk_id]
        assert window.start <= c.start < c.end <= window.end and len(c.quote) < len(window.text)
        assert _quote_in_source(c)


def test_an_excluded_article_is_not_searched(engine):
    qinghai = next(m["doc_id"] for m in engine.store.articles() if m["source"].endswith("002_7212ff25fdb82ffd.txt"))
    hits = engine.retrieve("How much aid money has Zhejiang given Qinghai since 2010?", exclude=frozenset({qinghai}))
    assert hits and all(h.chunk.doc_id != qinghai for h in hits)
    a = engine.answer("How much aid money has Zhejiang given Qinghai since 2010?", exclude=frozenset({qinghai}))
    assert a.refused or "848" not in a.text


def test_a_compound_question_is_answered_once_from_both_articles(engine):
    a = engine.answer("Who led the delegation to Naqu, and who led the delegation from Qinghai to Zhejiang?")
    assert not a.refused and "articles don't say" not in a.text
    assert "Zhu Congjiu" in a.text
    assert {c.source.rsplit("/", 1)[-1] for c in a.citations} >= {"000_4f12d780ea965cae.txt"}
    assert all(_quote_in_source(c) for c in a.citations)


def test_both_parts_of_a_compound_question_are_answered(engine):
    """The amount and the count, each cited: the parts are listed to the model, and the amount is
    not taken for an answer to "how many"."""
    a = engine.answer("What funds has Zhejiang organised for Qinghai, and how many projects?")
    assert "848 million" in a.text and "221" in a.text
    assert all(_quote_in_source(c) for c in a.citations)


def test_the_model_time_of_a_part_asked_alone_counts_in_the_answers(engine):
    """A stand-in generator (the accounting is under test; store, embedder and checks are real)
    answers the first part of a compound question, then the second, asked alone: the
    answer's model counts and seconds are the two generations' sums (rag.steps.count)."""
    from conftest import generating

    class OnePartAtATime:
        def stream(self, question, hits, settings, part="", usage=None):
            usage.read, usage.read_s, usage.decoded, usage.decode_s = 100, 2.0, 10, 0.5
            n = next(i for i, h in enumerate(hits, 1) if "848 million" in h.chunk.text)
            if part and "projects" in part:
                yield f"Zhejiang has implemented assistance project 221 [{n}]."
            else:
                yield f"Zhejiang has organised Youth assistance funds of 848 million yuan [{n}]."

    with generating(engine, OnePartAtATime()):
        a = engine.answer("What funds has Zhejiang organised for Qinghai, and how many projects?")
    asked = 1 + len(a.part_drafts)
    assert asked == 2 and "848 million" in a.text, a  # the part was asked: whether it is kept is not under test
    assert (a.signals["llm_read"], a.signals["llm_decoded"]) == (100.0 * asked, 10.0 * asked)
    assert (a.timings["llm_read_s"], a.timings["llm_decode_s"]) == (2.0 * asked, 0.5 * asked)


def _source_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_an_abandoned_stream_does_not_keep_the_model(engine):
    """A reader that takes one piece and walks away (a closed tab) must not block the next user."""
    import threading

    abandoned = engine.stream("Who led the delegation to Naqu?")
    first = next(abandoned)
    assert isinstance(first, str)
    result = []
    worker = threading.Thread(target=lambda: result.append(engine.answer("How much aid money has Zhejiang given Qinghai since 2010?")))
    worker.start()
    worker.join(timeout=300)
    assert not worker.is_alive(), "the abandoned stream still holds the model"
    assert "848 million" in result[0].text
    del abandoned


def test_a_refusal_says_which_step_refused(engine):
    question = "How much aid money has Zhejiang given Qinghai since 2010?"
    assert engine.answer(question).refused_by == ""
    assert engine.answer(question, min_dense_score=1.01).refused_by == "retrieval"
    strict = engine.answer(question, min_answerable=0.999)
    assert strict.refused and strict.refused_by == "answerability" and strict.signals["answerable"] < 0.999
    sure = engine.answer(question, min_reader=0.999)  # the real reader read the cited passage
    assert sure.refused and sure.refused_by == "reader" and 0.1 <= sure.signals["reader"] < 0.999
    assert engine.answer("What did the football World Cup final score turn out to be?").refused_by in {"retrieval", "model"}


@pytest.mark.parametrize(("again", "stands"), [
    ("The delegation to Naqu was led by Vice Governor Zhu Congjiu [{n}].", True),
    ("Miao Weilun led the delegation to Naqu [{n}].", False),
    ("The articles don't say.", False),
])
def test_a_doubted_answer_is_asked_again_with_its_passages_reversed(engine, again, stands):
    """The recheck step on the real articles, reader and checks, with a stand-in model that
    answers by the passages' order: the answer stands only when the second asking, over the same
    passages reversed, gives the same facts. `recheck_below=1.0` makes the reader doubt every
    answer; at 0 nothing is asked again."""
    from conftest import generating

    class ByOrder:
        def __init__(self):
            self.orders = []

        def stream(self, question, hits, settings, part="", usage=None):
            self.orders.append([h.chunk.id for h in hits])
            n = next(i for i, h in enumerate(hits, 1) if "Zhu Congjiu" in h.chunk.text)
            text = "Zhu Congjiu led the delegation to Naqu [{n}]." if len(self.orders) == 1 else again
            yield text.format(n=n)

    question = "Who led the Zhejiang delegation to Naqu?"
    model = ByOrder()
    with generating(engine, model):
        a = engine.answer(question, recheck_below=1.0)
    assert len(model.orders) == 2 and model.orders[1] == model.orders[0][::-1]
    assert a.recheck_draft.startswith(again.split("[")[0].strip())
    if stands:
        assert not a.refused and "Zhu Congjiu" in a.text, a
    else:
        assert a.refused and a.refused_by == "consistency" and "another order" in a.why_refused, a
    model = ByOrder()
    with generating(engine, model):
        once = engine.answer(question, recheck_below=0.0)
    assert len(model.orders) == 1 and once.recheck_draft == "" and not once.refused
