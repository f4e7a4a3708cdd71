"""The chat page's handlers, called directly: streaming, links, refusals, errors, upload, follow-ups."""

import pytest

from ingest.index import ingest_into
from rag.types import Answer, Chunk, Citation, Hit
from ui.app import Handlers
from ui.render import answer_html, error_html, highlight, safe_text, sources_html

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
    partial = [s[0][-1]["content"] for s in steps[1:-1]]
    assert len(partial) > 3 and all('class="draft"' in p and "not yet checked" in p for p in partial)
    assert "Zhu Congjiu" in steps[-1][0][-1]["content"]


def test_refusal_is_rendered_differently_with_related_passages(handlers):
    chat, sources, _, _ = run(handlers, "What was the final score of the football World Cup?")[-1]
    assert 'class="refusal"' in chat[-1]["content"] and "cite" not in chat[-1]["content"]
    assert 'class="why"' in chat[-1]["content"]  # which step refused, in words
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
    assert "Deleted **Ferry news**" in handlers.delete(doc_id)
    assert "Ferry news" not in [row[0] for row in handlers.articles_table()]
    assert not (handlers.uploads / "ferry.md").exists()  # delete deletes: it cannot come back
    assert "Pick an article" in handlers.delete(None)
    (handlers.uploads / "broken.pdf").unlink()


def test_uploads_are_checked_before_they_are_copied(handlers, tmp_path):
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate((handlers.engine.settings.max_upload_mb + 1) * 1024 * 1024)  # sparse: no disk used
    hidden = tmp_path / ".notes.txt"
    hidden.write_text("Hidden\n\nSome text here.\n")
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    out = handlers.upload([str(huge), str(hidden), str(exe)])
    assert "| huge.txt | refused: 51 MB is over the 50 MB limit" in out
    assert "| .notes.txt | refused: hidden" in out and "| tool.exe | refused: not one of" in out
    assert not any((handlers.uploads / n).exists() for n in ("huge.txt", ".notes.txt", "tool.exe"))


def test_a_second_upload_with_the_same_name_keeps_the_first(handlers, tmp_path):
    first, second = tmp_path / "a" / "tide.txt", tmp_path / "b" / "tide.txt"
    first.parent.mkdir()
    second.parent.mkdir()
    first.write_text("Tide report one\n\nThe spring tide reached 4.1 metres at the harbour.\n")
    second.write_text("Tide report two\n\nThe neap tide reached 2.3 metres at the harbour.\n")
    handlers.upload([str(first)])
    out = handlers.upload([str(second)])
    assert "| tide &#40;2&#41;.txt | added |" in out
    titles = [row[0] for row in handlers.articles_table()]
    assert "Tide report one" in titles and "Tide report two" in titles
    for label, doc_id in handlers.article_choices():
        if label.startswith("Tide report"):
            handlers.delete(doc_id)
    assert not list(handlers.uploads.glob("tide*"))


def test_deleting_an_article_that_is_not_an_upload_keeps_its_file(handlers, tmp_path):
    own = handlers.engine.settings.data_dir / "keep-me.txt"
    own.write_text("Kept report\n\nThe lighthouse was repainted white in June.\n")
    ingest_into(handlers.engine, [own], progress=False)
    doc_id = next(v for label, v in handlers.article_choices() if label.startswith("Kept report"))
    assert "stays on disk" in handlers.delete(doc_id)
    assert own.exists()
    own.unlink()


def test_render_escapes_and_highlights():
    c = Chunk("c1", "d", 0, "<T>", None, "/x.txt", "a <b> quote here.", 10, 27)
    cit = Citation(1, "d", "<T>", None, "/x.txt", "c1", "quote here.", 16, 27, section="2 <Method>")
    ans = Answer("q", "It is <b> [1].", (cit,), False, (Hit(c, 0.1, 0.5),))
    assert "&#60;b&#62;" in answer_html(ans) and 'href="#cite-1"' in answer_html(ans)
    panel = sources_html(ans, lambda source: None)
    assert '<mark class="quote">quote here.</mark>' in panel and "&#60;T&#62;" in panel
    assert "2 &#60;Method&#62; · x.txt" in panel  # the section, escaped like all article text
    assert highlight("abc", 5, 9) == "abc"  # a bad span marks nothing rather than something wrong


def test_untrusted_text_carries_no_markup():
    planted = '[x](javascript:alert(1)) ![](http://h/?q=1) <img src=x onerror=alert(2)> $$x$$ "a" [2]'
    ans = Answer("q", planted + " [1].", (), False, ())
    assert error_html(planted) == f'<div class="error">{safe_text(planted)}</div>'
    assert "[" not in safe_text(planted) and "(" not in safe_text(planted) and "<" not in safe_text(planted)
    assert answer_html(ans).count("<a ") == 2  # the [2] and [1] markers it built, nothing planted
    part = Answer("q", "Zhu Congjiu [1].", (), False, (), unanswered=(planted,))
    assert f'<div class="why">{safe_text(part.not_answered)}</div>' in answer_html(part)  # the user's part, inert
    assert answer_html(part).count("<a ") == 1 and "<img" not in answer_html(part)


def test_a_busy_store_is_a_message_and_nothing_is_lost(handlers, tmp_path):
    note = tmp_path / "quay.txt"
    note.write_text("Quay notice\n\nThe north quay closes for repairs on Friday.\n")
    with handlers.engine.store.writing():  # as if `rag ingest` were running in another process
        out = handlers.upload([str(note)])
        assert "Not indexed yet" in out and "busy" in out and (handlers.uploads / "quay.txt").exists()
        doc_id = handlers.article_choices()[0][1]
        assert "Nothing deleted" in handlers.delete(doc_id)
    assert "| quay.txt | added |" in handlers.upload([str(note)])
    doc_id = next(v for label, v in handlers.article_choices() if label.startswith("Quay notice"))
    handlers.delete(doc_id)
    assert not (handlers.uploads / "quay.txt").exists()


def test_one_client_cannot_fill_the_queue():
    import asyncio
    from types import SimpleNamespace as NS

    from ui.app import _limit_per_client

    waiting = []
    queue = NS(event_queue_per_concurrency_id={"generate": NS(queue=waiting)})

    async def push(body, request, username):
        waiting.append(NS(request=request, username=username))
        return True, "queued", "success"

    queue.push = push
    _limit_per_client(NS(_queue=queue), most=2)
    alice, bob = NS(client=NS(host="10.0.0.5")), NS(client=NS(host="10.0.0.6"))
    results = [asyncio.run(queue.push(None, alice, None))[2] for _ in range(3)]
    assert results == ["success", "success", "queue_full"]
    assert asyncio.run(queue.push(None, bob, None))[2] == "success"  # others still get in
    assert asyncio.run(queue.push(None, alice, "carol"))[2] == "success"  # a signed-in user counts alone
