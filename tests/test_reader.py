"""The reader (rag.reader): the real fine-tuned weights, and the engine's use of them."""

import shutil

import pytest

from rag.reader import WEIGHTS, Reader, ReaderMissing, probability


@pytest.fixture(scope="module")
def reader():
    return Reader()


def test_a_passage_that_states_the_answer_outranks_one_on_the_topic(reader):
    """Invented text (no SQuAD, no starting article): the answer, and the same names in an
    unrelated sentence. (A near miss about another year, "The 2018 final was won by ...", is not
    told apart by this reader: docs/evaluation.md, "The reader", says so.)"""
    question = "Who won the 2019 Lakeside Cup final?"
    passages = [
        "Lakeside Cup (2020-05-02)\nIn the 2019 Lakeside Cup final, Millfield beat Harbor Town 3-0 to take the trophy.",
        "Lakeside Cup (2020-05-02)\nTickets for the Lakeside Cup go on sale in March at the club shop.",
    ]
    scores = reader.score(question, passages)
    assert probability(scores[0]) > 0.5 > probability(scores[1]), scores


def test_the_reader_finds_the_answer_span_and_none_in_a_passage_without_it(reader):
    question = "Who won the 2019 Lakeside Cup final?"
    passages = [
        "Lakeside Cup (2020-05-02)\nIn the 2019 Lakeside Cup final, Millfield beat Harbor Town 3-0 to take the trophy.",
        "Lakeside Cup (2020-05-02)\nTickets for the Lakeside Cup go on sale in March at the club shop.",
    ]
    answers, topical = reader.read(question, passages)
    assert answers.span is not None and passages[0][answers.span[0] : answers.span[1]] == "Millfield", answers
    assert answers.span_score > 0 > topical.span_score, (answers, topical)


def test_best_span_stays_inside_the_passage_and_measures_against_no_answer():
    from rag.reader import best_span

    start, end = [5.0, 0.0, 1.0, 3.0, 9.0], [5.0, 0.0, 2.0, 0.5, 9.0]
    allowed = [False, True, True, True, False]  # first token ("no answer") and a separator are out
    span, margin = best_span(start, end, allowed, most=30)
    assert span == (3, 3) and margin == 3.5 - 10.0
    assert best_span(start, end, allowed, most=1)[0] == (3, 3)
    assert best_span(start, end, [False] * 5, most=30) == (None, float("-inf"))


def test_the_fallback_quotes_the_sentence_that_holds_the_best_span():
    from rag.reader import Reading
    from rag.settings import Settings
    from rag.steps import extract
    from rag.types import Chunk, Hit

    texts = ["Harbor Town lost. Millfield won the final in 2019. Fans cheered.", "Tickets go on sale in March."]
    hits = [Hit(Chunk(f"c{i}", "d", i, "Cup", None, "/a", t, 0, len(t)), 1.0) for i, t in enumerate(texts)]
    start = texts[0].index("Millfield")
    readings = [Reading(2.0, (start, start + 9), 4.0), Reading(1.0, (0, 7), 1.0)]
    assert extract("Who won?", hits, readings, Settings()) == "Millfield won the final in 2019 [1]."
    readings = [Reading(2.0, None, float("-inf")), Reading(1.0, (0, 7), 1.0)]
    assert extract("Who won?", hits, readings, Settings()) == "Tickets go on sale in March [2]."


def test_the_onnx_reader_reads_as_the_torch_model_does(reader):
    """The export (made once per machine) against the model it was made from."""
    import torch

    from rag.reader import TorchReader

    question = "Which river flows through the city?"
    passages = ["Basel\nThe Rhine flows through Basel, which lies where Switzerland, France and Germany meet.",
                "Zürich\nThe Limmat leaves Lake Zürich in the city centre." + " More text." * 40]
    torch_reader = TorchReader()
    enc = torch_reader.encode([question] * 2, passages)
    with torch.inference_mode():
        score, start, end = torch_reader.forward(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    assert reader.score(question, passages) == pytest.approx(score.tolist(), abs=1e-3)
    long_question = "In a question of many words, " * 30 + question  # its end is read, the passage whole
    assert all(r.span is not None for r in reader.read(long_question, passages))


def test_missing_or_altered_weights_are_named(tmp_path):
    with pytest.raises(ReaderMissing, match="missing"):
        Reader(tmp_path / "absent.safetensors").score("q", ["p"])
    altered = tmp_path / "reader.safetensors"
    shutil.copy(WEIGHTS, altered)
    with altered.open("r+b") as f:
        f.seek(-1, 2)
        f.write(b"\x00" if f.read(1) != b"\x00" else b"\x01")
    with pytest.raises(ReaderMissing, match="checksum"):
        Reader(altered).score("q", ["p"])


def test_fused_order_moves_a_misread_passage_a_few_places_not_out():
    from rag.reader import reorder
    from rag.types import Chunk, Hit

    hits = [Hit(Chunk(f"c{i}", "d", i, "t", None, "/a", "x", 0, 1), 1.0 / i) for i in range(1, 13)]
    scores = [-9.0] + [float(12 - i) for i in range(1, 12)]  # the reader puts retrieval's first last
    alone = [h.chunk.id for h in reorder(hits, scores, 60, fused=False)]
    fused = [h.chunk.id for h in reorder(hits, scores, 60)]
    assert alone[0] == "c2" and alone[-1] == "c1"
    assert fused[0] == "c2" and 3 <= fused.index("c1") <= 6
    assert sorted(fused) == sorted(alone)
    assert [h.rerank_score for h in reorder(hits, scores, 60)][fused.index("c1")] == -9.0


@pytest.mark.e2e
def test_the_engine_reranks_candidates_and_reports_the_score(engine):
    question = "How much aid money has Zhejiang given Qinghai since 2010?"
    alone = engine.answer(question, rerank=True, rerank_fused=False)
    scores = [h.rerank_score for h in alone.hits]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)
    a = engine.answer(question, rerank=True)
    assert all(h.rerank_score is not None for h in a.hits)
    assert "848 million" in a.hits[0].chunk.text
    assert 0.0 <= a.signals["rerank"] <= 1.0
    from rag.answerable import answerable

    off = engine.answer(question)  # the default: no reordering; the reader's probability only for its floor
    assert all(h.rerank_score is None for h in off.hits) and "rerank" not in off.signals
    assert 0.1 <= off.signals["reader"] <= 1.0
    lexical = {k: off.signals[k] for k in ("coverage", "quote_similarity")}
    assert off.signals["answerable"] == round(answerable(lexical), 4)  # not weighed in answerability
    unread = engine.answer(question, min_reader=0, recheck_below=0).signals
    assert "reader" not in unread  # no floor and no recheck: not read at all
    read = engine.answer(question, read=True)  # the reader's view of the cited passage, no reordering
    assert all(h.rerank_score is None for h in read.hits)
    assert 0.0 <= read.signals["reader"] <= 1.0 and read.signals["reader_agrees"] in (0.0, 1.0)
    assert read.signals["answerable"] == round(answerable(lexical | {"reader": read.signals["reader"]}, reader=True), 4)


@pytest.mark.e2e
def test_when_verification_drops_the_models_answer_the_reader_quotes_the_sentence_that_answers(engine):
    """Stand-in generators for the LLM (the fallback's logic is under test; the store, embedder
    and reader are real). One answers with an amount no passage states: verification drops it
    and the answer is the sentence holding the reader's span, cited and verified. One refuses:
    the model's own refusal stands."""
    from conftest import QINGHAI, generating

    from rag.text import REFUSAL

    class Invents:
        def stream(self, question, hits, settings, part="", usage=None):
            yield "Zhejiang has given Qinghai 999 million yuan [1]."

    class Refuses:
        def stream(self, question, hits, settings, part="", usage=None):
            yield REFUSAL

    question = "How much aid money has Zhejiang given Qinghai since 2010?"
    with generating(engine, Invents()):
        a = engine.answer(question, read=True, min_extractive=1e-6)
        off = engine.answer(question, read=True, min_extractive=0.0)
    with generating(engine, Refuses()):
        declined = engine.answer(question, read=True, min_extractive=1e-6)
    assert a.signals["extractive"] == 1.0 and not a.refused, a
    assert "848 million" in a.text and "999" not in a.text and a.text.endswith("[1].")
    assert [c.source.endswith(QINGHAI) for c in a.citations] == [True]
    assert off.refused and off.refused_by == "verification"
    assert declined.refused and declined.refused_by == "model"
