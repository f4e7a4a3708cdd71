from conftest import ARTICLES, NAQU, QINGHAI

from ingest.chunk import chunk_article
from ingest.load import load_article, parse_article


def test_offsets_are_exact_and_cover_the_body():
    for name in (NAQU, QINGHAI):
        a = load_article(ARTICLES / name)
        chunks = chunk_article(a, 160, 30)
        assert len(chunks) > 3
        for c in chunks:
            assert a.text[c.start : c.end] == c.text
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        for s, e in a.body:
            assert all(i in covered for i in range(s, e) if not a.text[i].isspace())


def test_furniture_never_in_a_chunk():
    a = load_article(ARTICLES / NAQU)
    for c in chunk_article(a):
        assert "Editor in charge" not in c.text and "Tel:" not in c.text and "10:13:08" not in c.text


def test_ids_are_stable_and_content_derived():
    a = load_article(ARTICLES / QINGHAI)
    first = [c.id for c in chunk_article(a)]
    assert first == [c.id for c in chunk_article(load_article(ARTICLES / QINGHAI))]
    assert len(set(first)) == len(first)
    edited = parse_article(a.text.replace("848 million", "849 million"), source=a.source, doc_id=a.doc_id)
    changed = [c.id for c in chunk_article(edited)]
    assert set(first) != set(changed)
    assert len(set(first) & set(changed)) >= len(first) - 3


def test_size_and_overlap_are_honoured():
    a = load_article(ARTICLES / NAQU)
    small, large = chunk_article(a, 60, 10), chunk_article(a, 400, 0)
    assert len(small) > len(large)
    overlaps = [x.end > y.start for x, y in zip(small, small[1:], strict=False)]
    assert any(overlaps)


def test_a_sentence_longer_than_a_chunk_is_still_chunked():
    text = "Title\n\n" + " ".join(["word"] * 600) + ".\n"
    a = parse_article(text, source="t.txt", doc_id="t")
    chunks = chunk_article(a, 100, 10)
    assert len(chunks) > 3
    assert all(a.text[c.start : c.end] == c.text for c in chunks)


def test_a_repeated_passage_gets_its_own_id():
    """A paper that repeats a paragraph once crashed the whole ingest with a duplicate id."""
    para = "The same table of prompts appears twice in this paper, word for word. " * 3
    text = f"Title\n\n{para}\n\nSomething in between to keep them apart.\n\n{para}\n"
    a = parse_article(text, source="t.txt", doc_id="t")
    chunks = chunk_article(a, 40, 0)
    texts = [c.text for c in chunks]
    assert len(set(texts)) < len(texts)  # the repetition is there
    ids = [c.id for c in chunks]
    assert len(set(ids)) == len(ids)
    assert ids == [c.id for c in chunk_article(a, 40, 0)]  # and stable
