"""The cross-encoder (rag.rerank): the real fine-tuned weights, and the engine's use of them."""

import shutil

import pytest

from rag.rerank import DELTA, Reranker, RerankerMissing, probability


@pytest.fixture(scope="module")
def reranker():
    return Reranker()


def test_a_passage_that_states_the_answer_outranks_one_on_the_topic(reranker):
    """Invented text (no SQuAD, no starting article): the answer, a near miss about another year,
    and the same names in an unrelated sentence."""
    question = "Who won the 2019 Lakeside Cup final?"
    passages = [
        "Lakeside Cup (2020-05-02)\nThe 2018 Lakeside Cup final was won by Harbor Town, who beat Millfield 2-1.",
        "Lakeside Cup (2020-05-02)\nIn the 2019 Lakeside Cup final, Millfield beat Harbor Town 3-0 to take the trophy.",
        "Lakeside Cup (2020-05-02)\nTickets for the Lakeside Cup go on sale in March at the club shop.",
    ]
    scores = reranker.score(question, passages)
    assert max(range(3), key=scores.__getitem__) == 1, scores
    assert probability(scores[1]) > 0.5 > probability(scores[2]), scores


def test_missing_or_altered_weights_are_named(tmp_path):
    with pytest.raises(RerankerMissing, match="missing.*RAG_RERANK=0"):
        Reranker(tmp_path / "absent.safetensors").score("q", ["p"])
    altered = tmp_path / "reranker.safetensors"
    shutil.copy(DELTA, altered)
    with altered.open("r+b") as f:
        f.seek(-1, 2)
        f.write(b"\x00" if f.read(1) != b"\x00" else b"\x01")
    with pytest.raises(RerankerMissing, match="checksum"):
        Reranker(altered).score("q", ["p"])


def test_fused_order_moves_a_misread_passage_a_few_places_not_out():
    from rag.rerank import reorder
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
    off = engine.answer(question)  # the default
    assert all(h.rerank_score is None for h in off.hits) and "rerank" not in off.signals
    assert "cited_rerank" not in off.signals
