"""The chat page as someone else sees it: a hostile article, another web site, a rebinding DNS name.

The page runs as a user starts it (`rag ui`, here on IPv6 loopback, where Gradio's own CORS check
does not apply) and is probed from outside: a real browser and a real HTTP client.
"""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, start_ui, stop

CHROMIUM = "/usr/bin/chromium"
OUT = ROOT / "test-output" / "exposure"
BEACON = "198.51.100.7"  # TEST-NET-2: never routed
PLANTED = (
    "The Blue Gull crew won the harbour festival rowing prize on Saturday "
    "[claim your prize](javascript:alert(document.cookie)) "
    f"![beacon](http://{BEACON}/beacon.png?q=secret) "
    f'<img src="http://{BEACON}/x.png" onerror="alert(1)"> <script>alert(2)</script> '
    "$$\\href{javascript:alert(3)}{x}$$ and www.evil.example wrote about it."
)
ARTICLE = (
    f'Harbour festival <img src="http://{BEACON}/t.png"> [news](javascript:alert(9))\n'
    "2026-05-02 09:00:00 Source: Port Weekly\n\n"
    f"{PLANTED}\n\n"
    "The festival took place in the old port and drew visitors from the whole region.\n"
)
QUESTION = f'Which crew won the harbour festival rowing prize? <img src="http://{BEACON}/q.png">'


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A page over one hostile article, bound to ::1, started with GRADIO_SHARE=true."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "data").mkdir()
    (root / "data" / "harbour.txt").write_text(ARTICLE, encoding="utf-8")
    env = {
        "RAG_DATA_DIR": str(root / "data"),
        "RAG_STORE_DIR": str(root / "store"),
        "RAG_BACKEND": "extractive",
        "GRADIO_SHARE": "true",
    }
    proc, url = start_ui(env, OUT / "ui.log", host="::1", args=())
    yield url
    stop(proc)


@pytest.mark.browser
def test_a_hostile_article_shows_as_text_and_loads_nothing(hostile):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    requested, dialogs = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.on("request", lambda r: requested.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(hostile)
        page.locator("#question textarea").fill(QUESTION)
        page.locator("#ask").click()
        page.wait_for_selector("#chat a.cite", timeout=120_000)
        bubble = page.locator("#chat .message-row").last.inner_text()
        assert "Blue Gull" in bubble
        assert "[claim your prize](javascript:alert(document.cookie))" in bubble  # shown, not rendered
        assert "<script>alert(2)</script>" in bubble and "www.evil.example" in bubble
        assert '<img src="http://' + BEACON in page.locator("#chat .message-row").first.inner_text()
        hrefs = page.locator("#chat a, #sources a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
        assert hrefs and all(h.startswith("#cite-") for h in hrefs), hrefs
        assert page.locator(f"img[src*='{BEACON}'], script:text('alert')").count() == 0
        page.locator("#chat a.cite").first.click()
        page.wait_for_selector("#sources .source-card.flash")
        page.screenshot(path=str(OUT / "hostile.png"), full_page=True)
        browser.close()
    assert not dialogs
    outside = [u for u in requested if not u.startswith(("data:", "blob:")) and httpx.URL(u).host != "::1"]
    assert not outside, outside


def test_other_sites_and_other_host_names_are_refused(hostile):
    origin = hostile.rstrip("/")
    port = httpx.URL(hostile).port
    join = hostile + "gradio_api/queue/join"
    refused = httpx.post(join, json={}, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "Cross-origin" in refused.text
    assert httpx.post(join, json={}, headers={"Origin": "null"}).status_code == 403
    rebound = httpx.get(hostile + "config", headers={"Host": f"evil.example:{port}"})
    assert rebound.status_code == 403 and "not served here" in rebound.text
    assert httpx.get(hostile + "config", headers={"Origin": origin}).status_code == 200
    assert httpx.get(hostile + "config").status_code == 200  # no Origin: curl, scripts


def test_only_the_ask_endpoint_is_an_api(hostile):
    from gradio_client import Client

    api = Client(hostile, verbose=False).view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/ask"}
    assert not api["unnamed_endpoints"]


def test_no_share_tunnel_even_when_asked(hostile):
    log = (OUT / "ui.log").read_text()
    assert "gradio.live" not in log and "share" not in log.lower()
    assert "Chat page: http://[::1]:" in log


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ("", "exposes it to the network"),
        ("admin:", "at least 12 characters"),
        ("admin:aaaaaaaaaaaaaaaa", "not all alike"),
        (":long-enough-password", "user:password"),
    ],
)
def test_an_exposed_page_needs_real_credentials(auth, message, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ui.cli", "ui", "--host", "0.0.0.0", "--no-ingest"],
        env={**os.environ, "RAG_UI_AUTH": auth, "RAG_STORE_DIR": str(tmp_path / "s")},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr
