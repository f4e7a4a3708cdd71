from pathlib import Path

import pytest
from conftest import ARTICLES, NAQU, QINGHAI

from ingest.load import LoadError, load_article, parse_article


def test_txt_metadata_and_furniture():
    a = load_article(ARTICLES / NAQU)
    assert a.title.startswith("Zhejiang Provincial Party and Government Delegation")
    assert a.date == "2022-04-01"
    assert a.publisher == "Naqu News Network"
    assert a.original_file == NAQU
    assert any(f.startswith("Editor in charge") for f in a.furniture)
    body = " ".join(a.text[s:e] for s, e in a.body)
    assert "Zhu Congjiu" in body
    for furniture in ("Editor in charge", "Sponsor:", "Tel:", "Record No", "2022-04-01 10:13:08"):
        assert furniture not in body


def test_article_without_date_keeps_none():
    a = load_article(ARTICLES / QINGHAI)
    assert a.title == "Party and government delegation to study in Zhejiang Province"
    assert a.date is None
    assert "848 million yuan" in a.text


def test_header_date_and_source_are_parsed_without_sidecar():
    a = parse_article(
        "Big news\n2023-7-05 08:00  Source: Daily Planet\n\nSomething happened. Tel: 123\n",
        source="x.txt",
        doc_id="d",
    )
    assert (a.title, a.date, a.publisher) == ("Big news", "2023-07-05", "Daily Planet")


def test_html(tmp_path: Path):
    page = tmp_path / "story.html"
    page.write_text(
        "<html><head><title>Site | Story</title><meta property='article:published_time' "
        "content='2021-03-04T10:00:00Z'><script>var x=1;</script></head><body><nav>Home</nav>"
        "<h1>Dam opens</h1><p>The dam opened on Monday.</p><p>It cost 5 million euros.</p>"
        "<footer>Copyright 2021</footer></body></html>",
        encoding="utf-8",
    )
    a = load_article(page)
    assert (a.title, a.date) == ("Dam opens", "2021-03-04")
    body = " ".join(a.text[s:e] for s, e in a.body)
    assert "5 million euros" in body and "var x" not in body and "Home" not in body


def test_pdf(tmp_path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    fig.text(0.1, 0.8, "Bridge report")
    fig.text(0.1, 0.6, "The bridge carries 40000 cars a day.")
    fig.savefig(tmp_path / "bridge.pdf")
    plt.close(fig)
    a = load_article(tmp_path / "bridge.pdf")
    assert a.title == "Bridge report"
    assert "40000 cars" in a.text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("binary.txt", b"\x00\x01\x02" * 100, "not a text file"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("notes.docx", b"PK\x03\x04", "unsupported"),
        ("only-title.txt", b"Just a title\n", "no article text"),
    ],
)
def test_bad_files_raise_a_reason(tmp_path: Path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoadError, match=reason):
        load_article(path)


def test_non_utf8_text_is_decoded(tmp_path: Path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Café opens\n\nThe café on the quay served crème brûlée to 300 guests.\n".encode("cp1252"))
    a = load_article(path)
    assert "crème brûlée" in a.text


def test_sidecar_metadata_wins(tmp_path: Path):
    (tmp_path / "a.txt").write_text("Guessed title\n\nBody text here.\n", encoding="utf-8")
    (tmp_path / "a.meta.json").write_text('{"title": "Real title", "date": "2020-01-02"}', encoding="utf-8")
    a = load_article(tmp_path / "a.txt")
    assert (a.title, a.date) == ("Real title", "2020-01-02")
    (tmp_path / "a.meta.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(LoadError, match="not valid JSON"):
        load_article(tmp_path / "a.txt")
