"""Several people at once on one page with credentials, through the public API (`gradio_client`).

Each of 8 sessions asks its own question, then a follow-up that only makes sense with its own
history; all share one CPU model, so most of them wait in the queue and are told where they are.
"""

import httpx
import pytest
from conftest import ROOT, start_ui, stop

from bench.concurrency import AUTH, sessions_at_once

pytestmark = pytest.mark.e2e
OUT = ROOT / "test-output" / "concurrency"
EXPECTED = [("Qinghai", "848 million"), ("Naqu", "Zhu Congjiu")]  # per bench.concurrency.TOPICS


@pytest.fixture(scope="module")
def page(engine, settings):
    env = {
        "RAG_STORE_DIR": str(settings.store_dir),
        "RAG_DATA_DIR": str(settings.data_dir),
        "RAG_UI_AUTH": ":".join(AUTH),
    }
    proc, url = start_ui(env, OUT / "ui.log")
    yield url
    stop(proc)


def test_credentials_are_required(page):
    from gradio_client import Client

    assert httpx.get(page + "config").status_code == 401
    assert httpx.post(page + "gradio_api/queue/join", json={}).status_code == 401
    with pytest.raises(Exception, match="(?i)login|auth|401|credential"):
        Client(page, auth=(AUTH[0], "wrong-password-here"), verbose=False)


def test_eight_sessions_each_get_their_own_answers_and_history(page):
    """The first questions share the bundled model; the follow-ups use the extractive backend,
    which keeps this test short and still rewrites each follow-up from its own session's history."""
    results, _ = sessions_at_once(page, 8, backends=("llamacpp", "extractive"))
    assert all(r.get("chat") for r in results), "a session did not finish"
    for r in results:
        (_, expected), other = EXPECTED[r["topic"]], EXPECTED[1 - r["topic"]][0]
        first_answer, follow_up_answer = _text(r["chat"][1]["content"]), _text(r["chat"][3]["content"])
        assert expected in first_answer, first_answer
        assert 'class="searched"' in follow_up_answer, follow_up_answer
        searched = follow_up_answer.split('class="searched"')[-1]
        assert other not in searched, searched  # rewritten from its own history, not another's
    assert any(r["ranks"] for r in results), "no waiting session was told its place in the queue"


def _text(content) -> str:
    """Chat content as the page would show it: character references decoded."""
    import html

    if isinstance(content, list):  # Gradio may return message parts
        content = " ".join(str(p.get("text", p)) if isinstance(p, dict) else str(p) for p in content)
    return html.unescape(str(content))
