"""The eval suite's metrics on hand-made cases, and the question set's integrity."""

import json
import re
from dataclasses import replace
from pathlib import Path

from conftest import ARTICLES

from eval import metrics as m
from eval.run import Question, gate, load_questions, score, summarize
from rag.types import Answer, Chunk, Citation, Hit


def test_every_gold_quote_is_verbatim_in_its_article():
    questions = load_questions()
    assert len(questions) >= 40
    assert sum(not q.answerable for q in questions) >= 10
    for q in questions:
        for doc in q.gold_doc:
            assert (ARTICLES / doc).exists(), doc
        if q.gold_quote:
            text = " ".join((ARTICLES / d).read_text(encoding="utf-8") for d in q.gold_doc)
            assert q.gold_quote in text, q.id
        assert q.required_facts or not q.answerable, q.id
    categories = {q.category for q in questions}
    assert {"number", "date", "person", "place", "list", "multi_doc", "paraphrase", "misspelling",
            "follow_up", "unanswerable"} <= categories
    assert all(q.history for q in questions if q.category == "follow_up")


def test_fact_matching_tolerates_number_formats():
    assert m.fact_present("They gave 848,000,000 yuan.", "848 million")
    assert m.fact_present("They gave 848 million yuan.", ["848,000,000", "eight hundred"])
    assert not m.fact_present("They gave 84.8 million yuan.", "848 million")
    assert m.fact_present("Led by zhu congjiu.", "Zhu Congjiu")
    assert not m.fact_present("Led by Wang.", "Zhu Congjiu")


def test_answer_correctness_and_refusal_scores():
    assert m.answer_correct("221 projects [1].", False, ["221"], True)
    assert not m.answer_correct("The articles don't say.", True, ["221"], True)
    assert m.answer_correct("The articles don't say.", True, [], False)
    assert not m.answer_correct("It was 5 [1].", False, [], False)
    # refused: T,T,F,F ; answerable: F,T,F,T  -> tp=1 fp=1 fn=1
    assert m.refusal_scores([True, True, False, False], [False, True, False, True]) == (0.5, 0.5)
    assert m.refusal_scores([], []) == (1.0, 1.0)


def test_retrieval_metrics():
    assert m.hit_at_k(["a", "b", "c"], {"c"}, 3) and not m.hit_at_k(["a", "b", "c"], {"c"}, 2)
    assert m.reciprocal_rank(["a", "b", "c"], {"b"}) == 0.5
    assert m.reciprocal_rank(["a"], {"z"}) == 0.0
    assert m.quote_recalled(["x  The  Quote y"], "the quote") and not m.quote_recalled(["x"], "")


def test_grounding_and_citation_precision():
    passages = {1: "Zhejiang gave 848 million yuan."}
    assert m.grounded_sentences("Zhejiang gave 848 million yuan [1]. It gave 9 billion [1].", passages) == (1, 2)
    assert m.citation_precise("gave 848 million yuan", [["848 million"]], "")
    assert not m.citation_precise("weather report", ["848 million"], "gold words")


def test_percentiles():
    assert m.percentile([], 50) == 0.0
    assert m.percentile([3, 1, 2, 4], 50) == 2
    assert m.percentile(list(range(1, 101)), 95) == 95


def test_the_models_speed_is_its_tokens_over_its_own_seconds_across_a_run():
    counted = [({"llm_read_s": 2.0, "llm_decode_s": 1.0}, {"llm_read": 120.0, "llm_decoded": 20.0}),
               ({"llm_read_s": 4.0, "llm_decode_s": 1.0}, {"llm_read": 240.0, "llm_decoded": 20.0}),
               ({"llm_read_s": 3.0, "llm_decode_s": 0.5}, {"llm_read": 180.0, "llm_decoded": 10.0})]
    refused_before_the_model = ({"retrieve_s": 0.1}, {"dense": 0.1})
    speed = m.llm_speed([*counted, refused_before_the_model])
    assert speed == {"llm_read_tokens_p50": 180.0, "llm_prompt_tokens_per_s": 60.0, "llm_decode_tokens_per_s": 20.0}
    assert m.llm_speed([refused_before_the_model]) == {}  # a replay or another backend counts nothing
    drafted = ({"llm_read_s": 2.0, "llm_decode_s": 1.0, "llm_stepped_s": 0.5},
               {"llm_read": 120.0, "llm_decoded": 40.0, "llm_stepped": 5.0})
    assert m.llm_speed([drafted])["llm_decode_tokens_per_s"] == 10.0  # draft batches are not raw decoding


def _answer(text, refused, source="/d/002_x.txt"):
    chunk = Chunk("c1", "d", 0, "T", None, source, "Zhejiang gave 848 million yuan.", 0, 31)
    cites = () if refused else (Citation(1, "d", "T", None, source, "c1", "Zhejiang gave 848 million yuan.", 0, 31),)
    return Answer("q", text, cites, refused, (Hit(chunk, 0.1, 0.6),), {"total_s": 2.0, "retrieve_s": 0.1})


def test_score_summary_and_gate():
    q = Question("a", "How much?", "number", "848 million", [["848 million"]], ("002_x.txt",), "848 million yuan", True)
    nq = Question("b", "How much in 2015?", "unanswerable", "", [], ("002_x.txt",), "", False)
    good = score(q, _answer("Zhejiang gave 848 million yuan [1].", False))
    wrong = score(nq, _answer("Zhejiang gave 848 million yuan [1].", False))
    assert good.correct and good.doc_hit and good.quote_hit and good.gold_doc_cited
    assert not wrong.correct and "cannot answer" in wrong.why
    s = summarize([good, wrong])
    assert s["answer_accuracy"] == 0.5 and s["refusal_recall"] == 0.0 and s["citation_precision"] == 1.0
    assert s["grounding_rate"] == 1.0 and s["latency_p50_s"] == 2.0
    assert gate(s) and "answer_accuracy" in gate(s)[0]
    json.dumps(s)
    declined = replace(_answer("The articles don't say.", True), refused_by="answerability", signals={"answerable": 0.21})
    refused = score(q, declined)
    assert "by answerability, answerability 0.21" in refused.why
    assert refused.signals == {"answerable": 0.21}  # kept in report.json, so a threshold can be replayed
    assert summarize([good, wrong, refused])["refused_by"] == {"answerability": 1}
    assert m.refusals_by_step(["", "model", "retrieval", "model"]) == {"model": 2, "retrieval": 1}


def test_load_questions_reports_bad_lines(tmp_path: Path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    import pytest

    with pytest.raises(ValueError, match="q.jsonl:1"):
        load_questions(bad)


def test_the_fallback_simulation_gives_a_fallback_only_at_or_above_its_threshold():
    """eval.answerability.extractive: model answers are kept at t, fallbacks at e, none when e is None."""
    from eval.answerability import extractive

    rows = [
        {"set": "squad-answerable", "good": True},
        {"set": "squad-answerable", "good": True, "extractive": 1.0},
        {"set": "squad-unanswerable", "good": False, "extractive": 1.0},
    ]
    asked = {"squad-answerable": 2, "squad-unanswerable": 1}
    out = extractive(rows, [0.5, 0.5, 0.4], asked, t=0.35)
    assert out["e=None"] == {"answerable_contains_gold": 0.5, "answerable_refused": 0.5,
                             "unanswerable_refused": 1.0, "fallbacks_given": 0}
    assert out["e=0.45"]["fallbacks_given"] == 1 and out["e=0.45"]["answerable_contains_gold"] == 1.0
    assert out["e=0.35"]["fallbacks_given"] == 2 and out["e=0.35"]["unanswerable_refused"] == 0.0


def test_a_replay_checks_the_recorded_drafts_without_the_model(engine, tmp_path):
    """`rag eval --replay`: generation gives back each question's recorded drafts in the order
    they were asked, everything else runs for real (store, embedder, verification, checks)."""
    import pytest

    import rag.engine
    from eval.replay import replaying

    q = "How much aid money has Zhejiang given Qinghai since 2010?"
    drafts = ["Zhejiang has given Qinghai 848 million yuan [1].", "Zhejiang has given Qinghai 999 million yuan [1]."]
    (tmp_path / "report.json").write_text(json.dumps({"results": [{"question": q, "draft": d} for d in drafts]}))
    steps = rag.engine.STEPS
    with replaying(tmp_path):
        first, second = engine.answer(q), engine.answer(q)
        with pytest.raises(KeyError, match="no recorded draft"):
            engine.answer(q)
    assert rag.engine.STEPS is steps
    assert not first.refused and "848 million yuan" in first.text and first.draft == drafts[0]
    assert second.refused and second.refused_by == "verification" and second.draft == drafts[1]
    (tmp_path / "report.json").write_text(json.dumps({"results": [{"question": q, "answer": "x"}]}))
    with pytest.raises(ValueError, match="no `draft`"), replaying(tmp_path):
        pass


def test_a_constraints_refusal_names_what_the_passages_do_not_state(engine, tmp_path):
    """The Qinghai article's amount given for Naqu (issue 7's near miss), the draft replayed on
    the real store: the constraints step refuses, and the reader is told which of the question's
    names the cited passage does not state."""
    from eval.replay import replaying

    q = "How much aid money has Zhejiang given Naqu in total?"
    draft = "Since 2010, Zhejiang Province has organized 848 million yuan of assistance funds [1]."
    (tmp_path / "report.json").write_text(json.dumps({"results": [{"question": q, "draft": draft}]}))
    with replaying(tmp_path):
        a = engine.answer(q)
    assert "848" in a.hits[0].chunk.text, "retrieval changed: the draft must cite the passage with the amount"
    assert a.refused and a.refused_by == "constraints" and a.unstated == ("Naqu",)
    assert a.why_refused == 'The passages the model answered from do not state "Naqu", which the question asks about.'


def test_a_constraints_refusal_offers_the_articles_spelling_of_a_name_typed_as_a_word(engine, tmp_path):
    """ "Ward" is a word of the language, so the spelling correction leaves "Ward Guosheng" as
    typed; the articles write "Wang Guosheng". Replayed on the real store, the refusal names the
    unstated name and offers the articles' spelling of it."""
    from eval.replay import replaying

    q = "Which delegation did Ward Guosheng lead to Zhejiang?"
    draft = "A Party and government delegation of Qinghai Province [1]."
    (tmp_path / "report.json").write_text(json.dumps({"results": [{"question": q, "draft": draft}]}))
    with replaying(tmp_path):
        a = engine.answer(q)
    assert a.searched == q, "the correction must leave an ordinary word as typed"
    assert "Wang Guosheng" in a.hits[0].chunk.text, "retrieval changed: the draft must cite a passage naming him"
    assert a.refused and a.refused_by == "constraints" and a.unstated == ("Ward Guosheng",)
    assert a.respelled == (("Ward Guosheng", "Wang Guosheng"),)
    assert a.why_refused.endswith('Did you mean "Wang Guosheng"?')


def test_a_part_the_answer_left_out_is_asked_alone_and_added_once_checked(engine, tmp_path):
    """The `complete` step on the real articles, the model's drafts replayed: a compound question
    answered for Naqu alone gets the Qinghai leader from the part asked alone; a part's draft
    that only restates the answer, or that its passages do not support, adds nothing, and the
    unsupported one leaves its part named as not answered."""
    import pytest

    from eval.replay import replaying

    q = "Who led the delegation to Naqu, and who led the delegation from Qinghai to Zhejiang?"
    naqu = "Zhu Congjiu led the delegation to Naqu [1]."
    records = [
        {"question": q, "draft": naqu, "part_drafts": ["Wang Guosheng led the delegation from Qinghai to Zhejiang."]},
        {"question": q, "draft": naqu, "part_drafts": ["The delegation to Naqu was led by Zhu Congjiu [1]."]},
        {"question": q, "draft": naqu, "part_drafts": ["Li Hua led the delegation from Qinghai to Zhejiang [1]."]},
        {"question": q, "draft": naqu},  # recorded before parts were asked alone
    ]
    (tmp_path / "report.json").write_text(json.dumps({"results": records}))
    with replaying(tmp_path):
        added, restated, unsupported = engine.answer(q), engine.answer(q), engine.answer(q)
        with pytest.raises(KeyError, match="run the set again"):
            engine.answer(q)
    assert "Zhu Congjiu" in added.text and "Wang Guosheng" in added.text and not added.refused
    assert added.text.index("Zhu Congjiu") < added.text.index("Wang Guosheng")
    # each answer numbers its citations from [1]: the added sentence's marker points at its own quote
    assert [c.n for c in added.citations] == list(range(1, len(added.citations) + 1))
    quoted = {c.n: c.quote for c in added.citations}
    naqu_part, qinghai_part = added.text.split("Wang Guosheng", 1)[0], added.text.split("Wang Guosheng", 1)[1]
    assert all("Zhu Congjiu" in quoted[int(n)] for n in re.findall(r"\[(\d+)\]", naqu_part))
    assert all("Wang Guosheng" in quoted[int(n)] for n in re.findall(r"\[(\d+)\]", qinghai_part))
    assert added.part_drafts == tuple(records[0]["part_drafts"]) and added.signals["completed"] == 1
    for answer in (restated, unsupported):
        assert "Zhu Congjiu" in answer.text and "Wang" not in answer.text and "Li Hua" not in answer.text
        assert "completed" not in answer.signals
    assert added.unanswered == restated.unanswered == () and added.not_answered == ""
    assert unsupported.unanswered == ("Who led the delegation from Qinghai to Zhejiang?",)
    assert unsupported.not_answered.endswith('this part: "Who led the delegation from Qinghai to Zhejiang?"')
    assert unsupported.to_json()["unanswered"] == list(unsupported.unanswered)


def test_a_backend_that_fails_when_a_part_is_asked_alone_loses_nothing_of_the_answer(engine, tmp_path):
    import rag.engine
    from eval.replay import replaying
    from rag import steps
    from rag.generate import GeneratorError

    def gone(engine, turn, part):
        raise GeneratorError("The OpenAI-compatible server at http://127.0.0.1:1 did not answer")

    q = "Who led the delegation to Naqu, and who led the delegation from Qinghai to Zhejiang?"
    (tmp_path / "report.json").write_text(json.dumps({"results": [{"question": q, "draft": "Zhu Congjiu led the delegation to Naqu [1]."}]}))
    with replaying(tmp_path):
        rag.engine.STEPS = tuple(steps.completing(gone) if s.__name__ == "complete" else s for s in rag.engine.STEPS)
        a = engine.answer(q)
    assert not a.refused and "Zhu Congjiu" in a.text and a.citations and a.signals["parts_not_asked"] == 1.0


def test_news_answers_are_counted_by_their_reading_and_an_unread_answer_is_shown(tmp_path):
    from eval.news_noise import reading
    from eval.public import Record

    path = tmp_path / "verdicts.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in [
        {"id": "positive-1", "verdict": "right", "answer": "Liu Yifei [1]."},
        {"id": "positive-2", "verdict": "wrong", "answer": "Bruce Gowers [1]."},
        {"id": "noise-1", "verdict": "right", "answer": "Liu Yifei [1]."},
    ]))
    positive = [
        Record("1", "q", True, "Liu Yifei [1].", False, False),   # read right: scorer wanted "Yifei Liu"
        Record("2", "q", True, "Bruce Gowers [1].", False, False),  # read wrong
        Record("3", "q", True, "Bryan Singer [1].", False, True),   # right by the scorer, not read
        Record("4", "q", True, "Gal Gadot [1].", False, False),     # an answer nobody read
        Record("5", "q", True, "The articles don't say.", True, False),
    ]
    assert reading("positive", positive, path) == {
        "read_right": 1, "read_partly": 0, "read_wrong": 1, "unread": 1, "right_by_reading": 0.4}
    noise = [Record("1", "q", False, "Liu Yifei [1].", False, False), Record("2", "q", False, "x", True, True)]
    assert reading("noise", noise, path) == {"read_right": 1, "read_partly": 0, "read_wrong": 0, "unread": 0}


def test_the_ablation_arranges_each_check_alone_and_left_out():
    from eval.ablation import arrangements, scores, table

    checks = {"a": {"RAG_A": "false"}, "b": {"RAG_B": "0"}}
    assert arrangements(checks) == {
        "all": {}, "none": {"RAG_A": "false", "RAG_B": "0"},
        "only a": {"RAG_B": "0"}, "only b": {"RAG_A": "false"},
        "all but a": {"RAG_A": "false"}, "all but b": {"RAG_B": "0"},
    }
    # news-noise prints two summaries; a question file's has no `set` and scores its accuracy
    news = scores("news", [{"set": "news-noise", "refused": 0.58}, {"set": "news-positive", "right": 0.68}])
    assert news == {"news-noise": 0.58, "news-positive": 0.68}
    assert scores("q48", [{"answer_accuracy": 0.8958}]) == {"q48": 0.8958}
    assert table({"all": {"q48": 0.8958}, "none": {"q48": 0.875}}).splitlines() == [
        "| checks | q48 |", "|---|---|", "| all | 0.896 |", "| none | 0.875 |",
    ]
