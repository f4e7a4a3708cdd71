"""The chat page in a real headless Chromium: ask, click a citation, see a part the articles do not answer named."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import ROOT, start_ui, stop

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
CHROMIUM = "/usr/bin/chromium"
OUT = ROOT / "test-output" / "browser"


@pytest.fixture(scope="module")
def page_url(engine, settings):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    env = {"RAG_STORE_DIR": str(settings.store_dir), "RAG_DATA_DIR": str(settings.data_dir)}
    proc, url = start_ui(env, OUT / "ui.log")
    yield url
    stop(proc)


@contextmanager
def opened(url: str) -> Iterator:
    """A page of a fresh headless Chromium (no sandbox, no background network) at `url`."""
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            page.goto(url)
            yield page
        finally:
            browser.close()


def test_ask_and_click_a_citation(page_url):
    with opened(page_url) as page:
        page.locator("#question textarea").fill("How much aid money has Zhejiang given Qinghai since 2010?")
        page.locator("#ask").click()
        page.wait_for_selector("#chat a.cite", timeout=300_000)
        bubble = page.locator("#chat .message-row").last
        assert "848 million" in bubble.inner_text()
        link = page.locator("#chat a.cite").first
        assert link.inner_text() == "[1]"
        link.click()
        card = page.locator("#sources #cite-1")
        card.wait_for(state="visible")
        page.wait_for_selector("#sources .source-card.flash")
        quote = card.locator("mark.quote").first
        assert quote.is_visible()
        assert "848 million" in quote.inner_text()
        page.screenshot(path=str(OUT / "chat.png"), full_page=True)


def test_a_part_the_articles_do_not_answer_is_said_under_the_answer(page_url):
    """A compound question whose second part the articles do not answer (the Naqu article states
    no amount): the page answers the first part and names the second as not answered, as text."""
    with opened(page_url) as page:
        page.locator("#question textarea").fill("Who led the delegation to Naqu, and how many yuan did it donate to Naqu?")
        page.locator("#ask").click()
        page.wait_for_selector("#chat .why", timeout=300_000)
        bubble = page.locator("#chat .message-row").last
        note = bubble.locator(".why").first
        assert note.is_visible()
        assert note.inner_text() == 'The passages found do not answer this part: "How many yuan did it donate to Naqu?"'
        assert bubble.locator("a.cite").count() >= 1  # the first part is answered, with its citation
        page.screenshot(path=str(OUT / "part-not-answered.png"), full_page=True)
