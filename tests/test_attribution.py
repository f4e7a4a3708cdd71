"""Who-did-what checks on hand-made news sentences (not the corpus: the rule must be general)."""

from rag import attribution
from rag.types import Chunk, Hit
from rag.verify import verify

LIST = (
    "Ana Reyes, Mayor of the City and Secretary of the Council, Tom Berg, Executive Vice Mayor, "
    "and Kai Lund, Ola Sand and Eva Holm, city leaders, attended the talks."
)
VISIT = (
    "On May 2, Omar Haddad, Deputy Minister of Energy, led a trade delegation to Porto. "
    "Lea Marsh, Governor of the Region, attended the forum, Ivo Kranj, head of the port authority, "
    "introduced the harbour plan. He said the delegation led by Omar Haddad was welcome."
)


def span(verdict, passages):
    assert isinstance(verdict, attribution.Reattribution), verdict
    return passages[verdict.passage][verdict.start : verdict.end]


def test_people_in_a_list_are_told_from_titles_and_places():
    assert attribution.people_in_list(" and Kai Lund") == ["Kai Lund"]
    assert attribution.people_in_list("Ola Sand and Eva Holm") == ["Ola Sand", "Eva Holm"]
    assert attribution.people_in_list("Executive Vice Mayor") == []
    assert attribution.people_in_list("Porto City") == []
    assert attribution.people_in_list("attended the talks") == []


def test_a_title_belongs_to_the_name_before_it():
    assert attribution.check("Ana Reyes is the mayor.", "Who is the mayor of the city?", [LIST]) is True
    verdict = attribution.check("Kai Lund is the mayor.", "Who is the mayor of the city?", [LIST])
    assert span(verdict, [LIST]) == "Ana Reyes, Mayor of the City and Secretary of the Council"


def test_an_action_belongs_to_its_subject_not_to_a_later_name():
    passages = ["Unrelated passage about rain.", VISIT]
    assert attribution.check("Omar Haddad led it.", "Who led the trade delegation?", passages) is True
    verdict = attribution.check("Lea Marsh led the trade delegation.", "Who led the trade delegation?", passages)
    assert span(verdict, passages) == "Omar Haddad, Deputy Minister of Energy, led a trade delegation to Porto."


def test_a_person_named_in_the_question_is_not_second_guessed():
    q = "What did Lea Marsh say about the delegation?"
    assert attribution.check("Lea Marsh welcomed the delegation.", q, [VISIT]) is True


def test_no_verdict_when_the_question_words_are_nowhere():
    q = "Who signed the fishing accord?"
    assert attribution.check("Ivo Kranj signed the accord.", q, [VISIT]) is True


def test_verify_answers_with_the_right_persons_words_cited():
    h = Hit(Chunk("c1", "doc", 0, "Talks", None, "/a.txt", LIST, 50, 50 + len(LIST)), 0.5, 0.5)
    v = verify("Eva Holm is the mayor [1].", [h], question="Who is the mayor of the city?")
    assert not v.refused
    assert v.text == "Ana Reyes, Mayor of the City and Secretary of the Council [1]."
    (c,) = v.citations
    assert c.quote == "Ana Reyes, Mayor of the City and Secretary of the Council"
    assert LIST[c.start - 50 : c.end - 50] == c.quote
    assert "Eva Holm is the mayor" in v.dropped[0]


def test_a_count_must_count_what_was_asked():
    text = "Since 2015, the city has given 120 million dollars in funds, the implementation of water project 35."
    assert attribution.check_count("35 projects.", "How many projects has the city run?", [text]) is True
    verdict = attribution.check_count("120 million dollars.", "How many projects has the city run?", [text])
    assert span(verdict, [text]) == "the implementation of water project 35."
    assert attribution.check_count("120 million.", "How many dollars did the city give?", [text]) is True
    assert attribution.check_count("Five.", "How many boats are there?", [text]) is True


def test_each_claim_of_a_compound_question_is_checked_against_the_part_it_answers():
    """The amount answers "what funds"; only a claim answering "how many projects" must be a count."""
    text = "Since 2015, the city has given 120 million dollars in funds, the implementation of water project 35."
    q = "What funds has the city given, and how many projects?"
    assert attribution.answered_part("The city has given 120 million dollars in funds.", q) == "What funds has the city given?"
    assert attribution.review("The city has given 120 million dollars in funds.", q, [text]) is True
    assert attribution.review("The city has run 35 projects.", q, [text]) is True
    verdict = attribution.review("The projects got 120 million dollars.", q, [text])
    assert span(verdict, [text]) == "the implementation of water project 35."
    assert attribution.answered_part("The city.", "Who led X, and who led Y?") == "Who led X, and who led Y?"


def test_a_claim_answers_the_part_whose_words_it_covers_not_the_longer_part():
    """A short part is answered by a claim that holds its one word, though the claim repeats
    more words of the longer part."""
    q = "Which benchmarks were used to evaluate the PAL model, and what were the results?"
    claim = "The results were 57.4% with the T5 model and 79.4% with the PAL model."
    assert attribution.answered_part(claim, q) == "What were the results?"
    first = "The benchmarks used to evaluate the PAL model were SVAMP and GSM8K."
    assert attribution.answered_part(first, q) == "Which benchmarks were used to evaluate the PAL model?"


def test_a_number_with_a_thousands_separator_stays_in_one_clause():
    """ "100,000" is one number: a comma inside it does not end the clause that counts."""
    text = "The king organized around 100,000 soldiers (10 tumens), his generals and some of his sons."
    question = "How many soldiers did the king take with him?"
    assert attribution.check_count("100,000 soldiers (10 tumens).", question, [text]) is True
    hit = Hit(Chunk("c", "d", 0, "The campaign", None, "s", text, 0, len(text)), 1.0)
    assert verify("100,000 soldiers (10 tumens) [1].", [hit], question=question).text == "100,000 soldiers (10 tumens) [1]."
    clause = next(u for u in attribution.clauses(["At 10:30, the talks began."]) if u.start == 0)
    assert "At 10:30, the talks began."[clause.start : clause.end] == "At 10:30"


def test_a_vice_mayor_is_not_the_mayor():
    verdict = attribution.check("Tom Berg is the mayor.", "Who is the mayor of the city?", [LIST])
    assert span(verdict, [LIST]).startswith("Ana Reyes, Mayor")
    assert attribution.check("Tom Berg.", "Who is the executive vice mayor?", [LIST]) is True


def test_a_who_answer_that_names_nobody_gets_the_person_the_passage_gives():
    text = "On Monday, the visiting Energy Minister Omar Haddad, a former engineer, opened the plant in Porto."
    assert attribution.people_named("the visiting Energy Minister Omar Haddad") == ["Omar Haddad"]
    verdict = attribution.check("The plant in Porto was opened.", "Who opened the plant in Porto?", [text])
    assert span(verdict, [text]).startswith("the visiting Energy Minister Omar Haddad, a former engineer, opened")
    assert attribution.check("The Energy Ministry did.", "Who opened the plant in Porto?", ["No one is named here."]) is True


def test_a_count_from_another_story_is_refused_not_reattributed():
    text = "Mayor Ana Reyes visited Porto. Porto has more than 5000 people and 12 boats."
    q = "How many people were in Omar Haddad's delegation?"
    assert attribution.check_count("3 people.", q, [text]) is False
    assert attribution.check_count("3 people.", "How many people live in Porto?", [text]).start == text.index("Porto has")


def test_a_persons_span_stays_within_one_passage():
    """The last clause of one passage and the first of the next are not one run: the span
    offered is the passage's own text, never an end taken from another passage."""
    passages = [
        "Lea Marsh, Governor of the Region, opened the fair. Omar Haddad, Deputy Minister of Energy, arrived.",
        "Omar Haddad, Deputy Minister of Energy, led a trade delegation to Porto.",
    ]
    verdict = attribution.check("Lea Marsh led the trade delegation.", "Who led the trade delegation?", passages)
    assert verdict.start < verdict.end
    assert span(verdict, passages) == passages[1]
