"""A question's constraints, checked where its answer is cited (rag.constraints): pure logic."""

from rag.constraints import answer_type_ok, question_constraints, stated, unmet
from rag.types import Chunk, Citation, Hit


def kinds(question: str) -> list[tuple[str, str]]:
    return [(c.kind, c.text) for c in question_constraints(question)]


def test_years_quarters_numbers_and_names_are_read_from_the_question():
    assert kinds("What was Tesla's revenue in Q1 2021?") == [("year", "2021"), ("quarter", "Q1"), ("name", "Tesla's")]
    assert kinds("Who acquired 20th Century Fox?") == [("number", "20"), ("name", "Century Fox")]
    assert kinds("Who won the women's singles U.S. Open in 2019?") == [("year", "2019"), ("name", "U.S Open")]
    # The opening word is capitalised whatever it is: a name only as the start of a longer one.
    assert kinds("Name the mayor of Naqu.") == [("name", "Naqu")]
    assert kinds("Super Bowl 2021 location") == [("year", "2021"), ("name", "Super Bowl")]
    assert kinds("which city hosted the olympic games?") == []


def test_a_year_in_the_passage_counts_unless_the_cited_sentence_names_another():
    year = question_constraints("Who won Wimbledon in 2019?")[0]
    assert stated(year, "Simona Halep won Wimbledon in 2019.", "")
    assert stated(year, "Simona Halep won the final.", "Jul 13, 2019 ... Wimbledon")
    # The sentence is about another year's final: the passage's date does not make it 2019's.
    assert not stated(year, "Angelique Kerber won the 2018 final.", "Jul 13, 2019 ... Wimbledon")
    assert not stated(year, "Simona Halep won the final.", "Wimbledon 2018")


def test_names_are_matched_word_by_word_without_case_or_dots():
    name = question_constraints("Who won the U.S. Open in 2021?")[1]
    assert stated(name, "Emma Raducanu won the US Open.", "")
    assert not stated(name, "Emma Raducanu won the final.", "Wimbledon")


def _cited(quote: str, passage: str, title: str = "Results") -> tuple[list[Citation], list[Hit]]:
    chunk = Chunk("c1", "d", 0, title, None, "s.txt", passage, 0, len(passage))
    return [Citation(1, "d", title, None, "s.txt", "c1", quote, 0, len(quote))], [Hit(chunk, 1.0)]


def test_unmet_lists_what_no_cited_place_states():
    citations, hits = _cited("Zhejiang donated 848 million yuan.", "Zhejiang donated 848 million yuan.", "Qinghai aid")
    assert unmet("How much did Zhejiang give Qinghai?", citations, hits) == []
    missing = unmet("How much did Zhejiang give Naqu?", citations, hits)
    assert [c.text for c in missing] == ["Naqu"]
    assert unmet("How much did Zhejiang give?", [], hits) == []  # nothing cited: verification's call


def test_the_answer_must_be_of_the_asked_type():
    assert answer_type_ok("When was it released?", "It was released on Dec 1, 2017 [1].")
    assert answer_type_ok("When was OpenAI founded?", "In December 2015 [1].")
    assert not answer_type_ok("When was it released?", "It was released 3 days ago [1].")
    assert not answer_type_ok("When was it released?", "It was released on Friday [1].")
    assert answer_type_ok("Who won Wimbledon in 2019?", "Simona Halep won it [1].")
    assert not answer_type_ok("Who won Wimbledon in 2019?", "The winner of Wimbledon won [1].")
    assert answer_type_ok("How much did Zhejiang give?", "848 million yuan [1].")  # not a type it checks
