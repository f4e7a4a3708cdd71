"""Section headings (ingest.sections): found, in sequence, and carried by every chunk."""

from pathlib import Path

from ingest.chunk import chunk_article
from ingest.load import load_article
from ingest.sections import find_sections, locate, numbered, section_at

PAPER = """A Study of Things
Abstract
We study things.
1 Introduction
Things matter (Smith et al.,
2018), GPT (Radford et al., 2018) and others.
2 Method
2.1 Data
We use 40 GB of text.
256 1M 1e-4 3.99 84.7
2.3 Not next in line
2.2 Training
3 Results Are Good
5 Skipped Ahead
We win.
References
A. Smith. 2019. A paper.
A Hyperparameters
A.1 Learning Rates
"""


def test_numbered_headings_follow_their_sequence():
    found = [title for _, title in numbered(PAPER)]
    assert found == [
        "Abstract", "1 Introduction", "2 Method", "2.1 Data", "2.2 Training", "3 Results Are Good",
        "References", "A Hyperparameters", "A.1 Learning Rates",
    ]  # not the citation's "2018), GPT", the table row, 2.3 before 2.2, 5 after 3, or "A. Smith. 2019."
    for start, title in numbered(PAPER):
        assert PAPER[start:].startswith(title)


def test_table_of_contents_lines_are_not_headings():
    text = "Report\nContents\n1 Scope . . . . . 3\n2 Findings 7\n1 Scope\nIt covers roads.\n2 Findings\nRoads are fine.\n"
    assert [t for _, t in numbered(text)] == ["1 Scope", "2 Findings"]
    sections = locate(text, ["1 Scope", "2 Findings"])
    assert [text[s : s + 7] for s, _ in sections] == ["1 Scope", "2 Findi"]
    assert section_at(sections, text.index("Roads are fine")) == "2 Findings"
    assert section_at(sections, text.index("Contents")) == ""


def test_outline_titles_are_found_despite_case_dots_and_wrapping():
    text = "Title\n1. Introduction\nHello.\n2. Program-aided Language\nModels\nPAL writes code.\n"
    sections = locate(text, ["1 Introduction", "Missing From Text", "2 Program-Aided Language Models"])
    assert [t for _, t in sections] == ["1 Introduction", "2 Program-Aided Language Models"]
    assert section_at(sections, text.index("PAL writes")) == "2 Program-Aided Language Models"


def test_markdown_and_html_headings(tmp_path: Path):
    md = tmp_path / "notes.md"
    md.write_text("# Notes\n\nIntro line.\n\n## Budget\n\nIt cost 5 million euros.\n", encoding="utf-8")
    a = load_article(md)
    assert [t for _, t in a.sections] == ["Notes", "Budget"]
    page = tmp_path / "story.html"
    page.write_text(
        "<html><body><h1>Dam opens</h1><p>The dam opened on Monday.</p><h2>Cost</h2>"
        "<p>It cost 5 million euros.</p></body></html>",
        encoding="utf-8",
    )
    chunks = chunk_article(load_article(page), 100, 20)
    assert {c.section for c in chunks if "5 million" in c.text} == {"Cost"}
    assert {c.section for c in chunks if "Monday" in c.text} == {""}
    assert find_sections("1 Introduction\nA list item.\n", ".txt") == ()  # plain text has no headings
    [(_, long)] = find_sections("# " + "word " * 1000 + "\n", ".md")
    assert len(long) == 200 and long.endswith("…")


def test_a_chunk_never_spans_two_sections(tmp_path: Path):
    body = " ".join(f"Sentence {i} is about the method." for i in range(40))
    text = f"A Paper\n1 Introduction\n{body}\n2 Method\n{body}\n"
    path = tmp_path / "paper.md"
    path.write_text(text.replace("1 Introduction", "# 1 Introduction").replace("2 Method", "# 2 Method"), encoding="utf-8")
    a = load_article(path)
    chunks = chunk_article(a, 100, 20)
    assert {c.section for c in chunks} == {"1 Introduction", "2 Method"}
    for c in chunks:
        assert section_at(a.sections, c.start) == section_at(a.sections, c.end - 1) == c.section


def test_found_sections_change_the_content_hash(tmp_path: Path):
    """So an article indexed before its sections were known is chunked again on the next ingest."""
    from dataclasses import replace

    md = tmp_path / "notes.md"
    md.write_text("# Notes\n\nIntro line.\n\n## Budget\n\nIt cost 5 million euros.\n", encoding="utf-8")
    a = load_article(md)
    assert replace(a, sections=()).content_hash != a.content_hash
