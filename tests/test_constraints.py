"""A question's constraints, checked where its answer is cited (rag.constraints): pure logic."""

from rag.constraints import answer_type_ok, asked, described, question_constraints, spelling, stated, unmet
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


def test_a_plural_possessive_is_the_name_it_ends():
    """ "the Panthers' defense" names the Panthers, in the question and in the article, and a
    possessive before a full stop is one too ("Kievan Rus'.")."""
    (panthers,) = question_constraints("Who was the Panthers' tackle leader?")
    assert panthers.value == ("panthers",) and described(panthers) == "Panthers"
    assert stated(panthers, "Luke Kuechly led the Panthers in tackles.", "")
    (broncos,) = question_constraints("Which linebacker led the Broncos in tackles?")
    assert stated(broncos, "Von Miller led the Broncos' defense.", "")
    rus = [k for k in question_constraints("When did the Mongols invade Kievan Rus'?") if k.text.startswith("Kievan")]
    assert stated(rus[0], "They fought the princes of Kievan Rus'.", "")


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


def test_a_heading_built_on_the_questions_name_is_no_who_answer_a_title_before_a_name_is():
    q = "Who is the Walter Camp Award winner in 2017?"
    assert not answer_type_ok(q, "2017 Walter Camp Award Semifinalist [1].")
    assert answer_type_ok(q, "Baker Mayfield won the 2017 Walter Camp Award [1].")
    assert answer_type_ok("Who is the new CEO of Vanguard?", "Vanguard CEO Tim Buckley [1].")
    assert answer_type_ok("Who headed the party delegation from Qinghai?", "The provincial Party Secretary Wang Guosheng [1].")
    assert answer_type_ok("Who directed Avatar?", "Cameron [1].")


def test_a_name_counts_anywhere_in_the_cited_article_a_year_only_beside_the_answer():
    citations, hits = _cited("Since 2010 the province gave 848 million yuan.", "Since 2010 the province gave 848 million yuan.")
    article = frozenset({"zhejiang", "qinghai", "2009"})
    assert unmet("How much did Zhejiang give Qinghai since 2010?", citations, hits, lambda doc: article) == []
    missing = unmet("How much did Zhejiang give Naqu in 2009?", citations, hits, lambda doc: article)
    assert [c.text for c in missing] == ["2009", "Naqu"]  # 2010 is stated beside the answer, not 2009


def test_a_year_before_a_comma_is_a_year_a_thousands_group_is_not():
    from rag.constraints import years

    assert years("Since 2010, Zhejiang has given 848 million yuan.") == {"2010"}
    assert years("It cost 12,2010 yuan, or 2,010.5 in all; 2019.") == {"2019"}


def test_the_checks_refuse_unmet_constraints_a_topicless_quote_the_wrong_type_and_a_sure_reader():
    from rag.settings import Settings
    from rag.steps import ungrounded

    on, off = Settings(), Settings(check_constraints=False, check_answer_type=False, min_reader=0)
    fine = {"unmet": 0.0, "quote_coverage": 0.5, "type_ok": 1.0, "reader": 0.5}
    assert ungrounded(fine, on) == "" and ungrounded({}, on) == ""
    for bad, step in (({"unmet": 1.0}, "constraints"), ({"quote_coverage": 0.0}, "constraints"),
                      ({"type_ok": 0.0}, "constraints"), ({"reader": 0.05}, "reader")):
        assert ungrounded(fine | bad, on) == step and ungrounded(fine | bad, off) == ""


def test_acronyms_meet_their_names_and_an_opening_word_may_be_an_ordinary_one():
    us = question_constraints("How old was Tesla when he became a citizen of the US?")[-1]
    assert us.text == "US" and stated(us, "He became a citizen of the United States in 1891.", "")
    assert stated(question_constraints("What did the regime start after WWII?")[0], "After World War II it began.", "")
    coffee = question_constraints("Besides Death Wish Coffee, how many competitors took part?")[0]
    assert coffee.opening and stated(coffee, "Death Wish Coffee and nine others took part.", "")
    assert kinds("Which century is the V&A's Japanese sculpture from?") == [("name", "V&A's"), ("name", "Japanese")]


def test_an_ampersand_acronym_meets_the_names_it_joins():
    va = question_constraints("Which century is the V&A's Japanese sculpture from?")[0]
    assert stated(va, "The sculpture dates from the 13th century.", "Victoria and Albert Museum")
    assert not stated(va, "The sculpture dates from the 13th century.", "Victoria Albert Museum")
    assert not stated(va, "It stands between the Victoria line and the Albert Dock.", "")
    assert stated(question_constraints("Who bought AT&T?")[0], "American Telephone and Telegraph was sold.", "")


def test_a_when_question_is_one_that_asks_for_a_time():
    assert answer_type_ok("When did the Yuan switch to bronze plates?", "In 1275 [1].")
    assert answer_type_ok("When using a test, how is the probability expressed?", "As 1/(1-p) [1].")


def test_punctuation_ends_a_name_and_a_long_acronym_meets_its_words_in_any_case():
    assert kinds("How does BPE (Byte Pair Encoding) help RoBERTa?") == [
        ("name", "BPE"), ("name", "Byte Pair Encoding"), ("name", "RoBERTa")]
    nlp = question_constraints("What did RoBERTa add to NLP?")[-1]
    assert stated(nlp, "It changed natural language processing.", "")
    assert not stated(nlp, "It changed language models.", "")


def test_a_hyphenated_name_meets_its_words_written_apart_and_the_other_way_round():
    bpe = question_constraints("How does BPE (Byte Pair Encoding) help RoBERTa?")[1]
    assert stated(bpe, "Byte-Pair Encoding (BPE) is a hybrid.", "")
    assert stated(bpe, "Byte Pair Encoding is a hybrid.", "")
    assert not stated(bpe, "Byte-level encoding is a hybrid.", "")
    ceo = question_constraints("Is Anne-Birgitte Albrectsen the CEO?")[0]
    assert stated(ceo, "Anne Birgitte Albrectsen leads it.", "")
    assert stated(ceo, "Anne-Birgitte Albrectsen leads it.", "")
    assert not stated(ceo, "Anne Albrectsen leads it.", "")
    assert stated(question_constraints("What did Byte-Pair Encoding change?")[0], "Byte Pair Encoding (BPE) did.", "")


def test_an_ordinal_counts_unless_the_cited_sentence_states_another():
    assert kinds("When will the first season of The Blacklist premiere?") == [("ordinal", "first"), ("name", "Blacklist")]
    assert kinds("What was Tesla's revenue in the first quarter?") == [("quarter", "Q1"), ("name", "Tesla's")]
    first = question_constraints("When will the first season of The Blacklist premiere?")[0]
    assert stated(first, "The first season premiered on September 23, 2013.", "")
    assert stated(first, "The 1st season premiered on September 23, 2013.", "")
    assert stated(first, "It premiered on September 23, 2013.", "")  # "first" may be an adverb: no claim
    assert not stated(first, "The tenth and final season premiered on February 26.", "The first season")


def test_a_month_counts_like_a_year_beside_the_answer():
    assert kinds("Which team won on March 3?") == [("month", "3"), ("number", "3")]
    march = question_constraints("Which team won on March 3?")[0]
    assert stated(march, "Leeds won on March 3.", "")
    assert stated(march, "Leeds won the final.", "Published Mar 4, 2021")
    assert not stated(march, "Leeds won on April 3.", "Published March 4, 2021")
    assert kinds("Who won in May 2020?")[:2] == [("year", "2020"), ("month", "5")]


def test_an_answer_to_one_part_of_a_compound_question_is_held_to_that_parts_constraints():
    q = "Who led the delegation to Naqu, and who led the delegation from Qinghai to Zhejiang?"
    one = "The delegation led by Vice Governor Zhu Congjiu came to Naqu [1]."
    both = one + " Party Secretary Wang Guosheng led the delegation from Qinghai to Zhejiang [2]."
    assert asked(q, one) == ["Who led the delegation to Naqu?"]
    assert asked(q, both) == [q]
    assert asked("Who led the delegation to Naqu?", one) == ["Who led the delegation to Naqu?"]
    citations, hits = _cited(one, one, "Naqu visit")
    assert unmet(q, citations, hits, answer=one) == []
    assert [c.text for c in unmet(q, citations, hits)] == ["Qinghai", "Zhejiang"]  # the whole question's
    assert [c.text for c in unmet(q, citations, hits, answer=both)] == ["Qinghai", "Zhejiang"]


def test_a_constraint_is_described_as_a_reader_writes_it_and_a_refusal_names_them():
    from rag.types import Answer

    assert [described(c) for c in question_constraints("What was Tesla's revenue in March 2021?")] == [
        "2021", "March", "Tesla"]
    assert [described(c) for c in question_constraints("Who won the first Super Bowl?")] == ["first", "Super Bowl"]
    one = Answer("q", "x", refused=True, refused_by="constraints", unstated=("2019",))
    assert one.why_refused == 'The passages the model answered from do not state "2019", which the question asks about.'
    three = Answer("q", "x", refused=True, refused_by="constraints", unstated=("2019", "Q1", "Tesla"))
    assert 'state "2019", "Q1" or "Tesla", which' in three.why_refused
    # A refusal for the answer's type or a topicless quote names nothing: the step's general reason.
    assert Answer("q", "x", refused=True, refused_by="constraints").why_refused.startswith("The passages that answer")


def test_an_unstated_name_is_offered_the_passages_spelling_of_it():
    from rag.types import Answer

    (edition,) = question_constraints("When was xenoblade chronicles Definite Edition released?")
    passages = ["Xenoblade Chronicles: Definitive Edition was released on May 29, 2020.", "The Switch sold well."]
    assert spelling(edition, passages) == "Definitive Edition"
    (gray, lothian) = question_constraints("By how much did Lain Gray retain East Lothian?")
    assert spelling(gray, ["Labour's Iain Gray held East Lothian."]) == "Iain Gray"
    assert spelling(lothian, ["Labour's Iain Gray held East Lothian."]) == ""  # stated as asked
    # Another number of the same name, another acronym, another name or a year is no respelling.
    (oscar,) = [k for k in question_constraints("Who won the Oscar in 2020?") if k.kind == "name"]
    assert spelling(oscar, ["She won two Oscars."]) == ""
    (bbc,) = [k for k in question_constraints("Which station besides BBC Radio aired it?") if k.kind == "name"]
    assert spelling(bbc, ["ABC Radio aired it."]) == ""
    naqu = [k for k in question_constraints("How much did Zhejiang give Naqu in 2019?") if k.text != "Zhejiang"]
    assert [spelling(k, ["Zhejiang gave Qinghai 848 million yuan in 2018."]) for k in naqu] == ["", ""]

    refused = Answer("q", "x", refused=True, refused_by="constraints", unstated=("Definite Edition",),
                     respelled=(("Definite Edition", "Definitive Edition"),))
    assert refused.why_refused == (
        'The passages the model answered from do not state "Definite Edition", which the question asks about. '
        'Did you mean "Definitive Edition"?')


def test_a_sentence_end_ends_a_name_though_its_full_stop_stays_on_the_word():
    tw = question_constraints("What did TW ask for?")[-1]
    assert stated(tw, "Then Trans World asked for more.", "")
    assert not stated(tw, "Then it moved to Texas. War followed.", "")
    assert not stated(tw, "Moving to Texas\n\nWar followed.", "")  # a title above its text
    # An initial or an abbreviation inside a name is no sentence end.
    assert kinds("Did Austria B. Wiesberger play the U.S. Open?") == [
        ("name", "Austria B Wiesberger"), ("name", "U.S Open")]
