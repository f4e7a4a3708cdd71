"""The chat page's handlers, called directly: streaming, links, refusals, errors, upload, follow-ups."""

import pytest

from rag.types import Answer, Chunk, Citation, Hit
from ui.app import Handlers
from ui.render import answer_html, highlight, sources_html

QUESTION = "How much aid money has Zhejiang given Qinghai since 2010?"


@pytest.fixture(scope="module")
def handlers(engine):
    return Handlers(engine)


def run(handlers, message, pairs=(), backend="extractive"):
    return list(handlers.respond(message, [], list(pairs), 3, backend, 0.1))


def test_streams_then_renders_links_and_sources(handlers):
    steps = run(handlers, QUESTION)
    assert len(steps) >= 2
    chat, sources, pairs, box = steps[-1]
    assert chat[0] == {"role": "user", "content": QUESTION}
    html = chat[-1]["content"]
    assert '<a class="cite" href="#cite-1"' in html and "848 million" in html
    assert 'id="cite-1"' in sources and '<mark class="quote">' in sources and "848 million" in sources
    assert "Whole article" in sources
    assert pairs == [(QUESTION, pairs[0][1])] and box == ""


def test_streaming_shows_partial_text_with_llm(handlers):
    steps = run(handlers, "Who led the delegation to Naqu?", backend="llamacpp")
    partial = [s[0][-1]["content"] for s in steps[:-1]]
    assert any(p.endswith("▍") for p in partial) and len(partial) > 3
    assert "Zhu Congjiu" in steps[-1][0][-1]["content"]


def test_refusal_is_rendered_differently_with_related_passages(handlers):
    chat, sources, _, _ = run(handlers, "What was the final score of the football World Cup?")[-1]
    assert 'class="refusal"' in chat[-1]["content"] and "cite" not in chat[-1]["content"]
    assert "Related passages" in sources


def test_errors_are_messages_not_tracebacks(handlers):
    chat, _, pairs, box = run(handlers, "   ")[-1]
    assert 'class="error"' in chat[-1]["content"] and "empty" in chat[-1]["content"]
    assert pairs == [] and box == "   "  # the page stays usable; the text is kept
    chat, *_ = list(handlers.respond("x" * 3000, [], [], 3, "extractive", 0.1))[-1]
    assert "limit is 2000" in chat[-1]["content"]


def test_follow_up_is_rewritten_and_shown(handlers):
    first = run(handlers, QUESTION)[-1]
    chat, _, pairs, _ = run(handlers, "And how many projects?", pairs=first[2])[-1]
    assert 'class="searched"' in chat[-1]["content"]
    assert "221" in chat[-1]["content"]


def test_follow_up_rewritten_by_the_llm(engine):
    a = engine.answer("And how many projects?", [(QUESTION, "Zhejiang has given Qinghai 848 million yuan [1].")])
    assert a.searched != "And how many projects?"
    assert "project" in a.searched.lower() and ("Qinghai" in a.searched or "Zhejiang" in a.searched)


def test_upload_and_delete(handlers, tmp_path):
    good = tmp_path / "ferry.md"
    good.write_text("# Ferry news\n\nThe Zanzibar ferry carried 900 people on 3 May.\n", encoding="utf-8")
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 nope")
    out = handlers.upload([str(good), str(bad)])
    assert "| ferry.md | added |" in out and "| broken.pdf | skipped: corrupt" in out
    assert "Ferry news" in [row[0] for row in handlers.articles_table()]
    again = handlers.upload([str(good)])
    assert "| ferry.md | unchanged |" in again
    doc_id = next(v for label, v in handlers.article_choices() if label.startswith("Ferry news"))
    assert "Removed **Ferry news**" in handlers.delete(doc_id)
    assert "Ferry news" not in [row[0] for row in handlers.articles_table()]
    assert "Pick an article" in handlers.delete(None)
    (handlers.engine.settings.data_dir / "uploads" / "ferry.md").unlink()
    (handlers.engine.settings.data_dir / "uploads" / "broken.pdf").unlink()


def test_render_escapes_and_highlights():
    c = Chunk("c1", "d", 0, "<T>", None, "/x.txt", "a <b> quote here.", 10, 27)
    cit = Citation(1, "d", "<T>", None, "/x.txt", "c1", "quote here.", 16, 27)
    ans = Answer("q", "It is <b> [1].", (cit,), False, (Hit(c, 0.1, 0.5),))
    assert "&lt;b&gt;" in answer_html(ans) and 'href="#cite-1"' in answer_html(ans)
    panel = sources_html(ans, lambda source: None)
    assert '<mark class="quote">quote here.</mark>' in panel and "&lt;T&gt;" in panel
    assert highlight("abc", 5, 9) == "abc"  # a bad span marks nothing rather than something wrong
