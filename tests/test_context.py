"""Pure functions of the answer path: windows, multi-query fusion, answerability signals, PDF text."""

from rag.answerable import adds_information, missing_constraints
from rag.context import widen
from rag.retrieve import fuse_runs
from rag.types import Chunk, Hit

ARTICLE = "Title\n\nOne fact here. Two facts here. Three facts here. Four facts here. Five facts here."


def _chunks(doc="d", size=30, step=20, text=ARTICLE, first=7):
    out = []
    for i, start in enumerate(range(first, len(text), step)):
        end = min(len(text), start + size)
        out.append(Chunk(f"{doc}{i}", doc, i, "Title", None, "/a", text[start:end], start, end))
        if end == len(text):
            break
    return out


def _neighbour(chunks):
    pos = {(c.doc_id, c.index): c for c in chunks}
    return lambda doc, i: pos.get((doc, i))


def test_a_window_is_an_exact_slice_around_its_hit():
    chunks = _chunks()
    hit = Hit(chunks[2], 1.0)
    [wide] = widen([hit], _neighbour(chunks), window_tokens=15)
    c = wide.chunk
    assert ARTICLE[c.start : c.end] == c.text
    assert c.start <= chunks[2].start and c.end >= chunks[2].end and len(c.text) > len(chunks[2].text)
    assert (len(c.text) + 3) // 4 <= 15
    assert c.id == chunks[2].id  # the citation still names the hit


def test_windows_that_meet_merge_and_other_articles_stay_apart():
    chunks = _chunks()
    other = _chunks(doc="e", text=ARTICLE.replace("facts", "notes"))
    hits = [Hit(chunks[1], 3.0), Hit(other[0], 2.0), Hit(chunks[2], 1.0)]
    out = widen(hits, _neighbour(chunks + other), window_tokens=12)
    assert [h.chunk.doc_id for h in out] == ["d", "e"]
    assert out[0].chunk.start <= chunks[1].start and out[0].chunk.end >= chunks[2].end
    assert ARTICLE[out[0].chunk.start : out[0].chunk.end] == out[0].chunk.text


def test_a_text_filed_twice_is_read_once():
    """The same story in two articles (a wire copy under another headline, cut at other places):
    the model reads it once, from the better-ranked article, and the next passage takes its place."""
    story = ("Title\n\nThe port reopened on Monday after the storm. Ferries to the islands resumed at noon, "
             "and the harbour master said repairs to the north pier would take a month. Fishermen lost "
             "about forty boats, the cooperative said. The city will pay for new moorings from its "
             "reserve fund, the mayor announced on Tuesday. Schools stay closed until Thursday.")
    copy = "Another headline\n\nFiled by a second paper. " + story[7:]
    mine, theirs = _chunks("d", 120, 100, story), _chunks("e", 120, 100, copy, first=18)
    other = _chunks("f", 120, 100, ARTICLE)
    hits = [Hit(mine[1], 3.0), Hit(theirs[1], 2.0), Hit(other[0], 1.0)]
    out = widen(hits, _neighbour(mine + theirs + other), window_tokens=60)
    assert [h.chunk.doc_id for h in out] == ["d", "f"]
    alone = widen(hits[1:], _neighbour(theirs + other), window_tokens=60)  # nothing to repeat
    assert [h.chunk.doc_id for h in alone] == ["e", "f"]


def test_a_gap_between_chunks_is_not_bridged():
    text = "Title\n\nFirst block of prose.\nTel: 555\nSecond block of prose."
    a = Chunk("a", "d", 0, "T", None, "/a", "First block of prose.", 7, 28)
    b = Chunk("b", "d", 1, "T", None, "/a", "Second block of prose.", 38, 60)
    assert text[b.start : b.end] == b.text
    [wide] = widen([Hit(a, 1.0)], _neighbour([a, b]), window_tokens=500)
    assert wide.chunk.text == a.text


def test_fusing_several_queries_rewards_what_each_finds():
    chunks = _chunks()
    c0, c1, c2 = chunks[:3]
    hits = fuse_runs([([(c0, 0.9), (c1, 0.5)], [(c0, 5.0)]), ([(c2, 0.8)], [(c2, 4.0), (c1, 1.0)])], k=3)
    assert [h.chunk.id for h in hits][:2] == [c0.id, c2.id]
    assert hits[0].dense_score == 0.9 and {h.chunk.id for h in hits} == {c0.id, c1.id, c2.id}


def test_an_answer_must_say_more_than_the_question():
    q = "What tasks are included in SuperGLUE?"
    assert not adds_information("The tasks included in SuperGLUE are [1].", q)
    assert adds_information("SuperGLUE includes BoolQ and COPA [1].", q)
    assert adds_information("848 million yuan [1].", "How much did Zhejiang give?")
    assert not adds_information("Zhejiang gave [2].", "How much did Zhejiang give?")


def test_words_meet_across_their_inflections_in_any_thread():
    from concurrent.futures import ThreadPoolExecutor

    from rag.answerable import coverage
    from rag.text import content_words

    assert content_words("provide countries studies") == content_words("provided country studied")
    assert coverage("Which countries did the fund provide for?", "The fund provided for two country programmes.") == 1.0
    words = ["running", "provided", "countries", "organisation", "studies"] * 400
    with ThreadPoolExecutor(8) as pool:  # one stemmer per thread: PyStemmer's are not shared
        assert set(pool.map(lambda w: frozenset(content_words(w)), words)) == {
            frozenset(content_words(w)) for w in set(words)}


def test_a_year_the_question_names_must_be_in_the_evidence():
    q = "Who won the final in 2015?"
    assert missing_constraints(q, ["In the 2014 final, Ann Lee won."]) == {2015.0}
    assert missing_constraints(q, ["Ann Lee won the 2015 final."]) == set()
    assert missing_constraints("Who won the final?", ["In 2014 Ann won."]) == set()


def test_pdf_text_reads_as_prose():
    from ingest.load import pdf_text

    head = "Journal of Things, Page {n}"
    body = "The e\ufb03cient model {w} is de-\nsigned for tasks.\nSection {w} says more.\nIt ends with {w}."
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    pages = [f"{head.format(n=i)}\narXiv:1907.11692v1 [cs.CL] 26 Jul 2019\n{body.format(w=w)}\n{i}" for i, w in enumerate(words)]
    text = pdf_text(pages)
    assert "efficient" in text and "designed" in text
    assert "arXiv" not in text and "Journal of Things" not in text
    assert "\n3\n" not in text and text.count("tasks.") == 6
