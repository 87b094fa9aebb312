"""Uploading a file, giving a link and suggesting a better English sentence on the Article
tab, in a real browser (as test_browser.py: Debian's chromium through Playwright, never
`playwright install`)."""

import pytest
from conftest import serve_options, start_server
from test_browser import ARTIFACTS, DESKTOP, browser_on, need_chromium, wait_done
from test_extract import LEAD, SECOND, docx_bytes
from test_fetch import site as news_site  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser_page(replicas, tmp_path_factory):
    need_chromium()
    options = serve_options(
        replicas, summarizer="extractive", backend="torch", allow_urls=True,
        allow_loopback_urls=True, suggestions=True, suggestions_open=True,
        memory=tmp_path_factory.mktemp("memory") / "memory.sqlite",
    )  # fmt: skip
    server = start_server(options)
    with browser_on(server) as browser:
        page = browser.new_context(viewport=DESKTOP).new_page()
        yield page, server.url


def arabic_shown(page) -> list[str]:
    return [x.strip() for x in page.locator("#kh-results .kh-ar").all_inner_texts()]


def test_a_word_file_uploaded_on_the_page(browser_page, tmp_path):
    page, url = browser_page
    page.goto(url)
    page.wait_for_selector("#kh-example")
    assert page.locator("#kh-link textarea, #kh-link input").count() == 1  # --allow-urls
    page.screenshot(path=str(ARTIFACTS / "documents-0-inputs.png"))
    path = tmp_path / "kerry.docx"
    path.write_bytes(docx_bytes([LEAD, SECOND], "كيري في بروكسل"))
    page.set_input_files("#kh-file input[type=file]", str(path))
    page.wait_for_function(  # uploaded: the widget lists it
        "() => document.querySelector('#kh-file').innerText.includes('kerry.docx')"
    )
    page.click("#kh-run")
    wait_done(page)
    assert arabic_shown(page) == [LEAD, SECOND]
    page.screenshot(path=str(ARTIFACTS / "documents-1-upload.png"))


def test_a_link_given_on_the_page(browser_page, news_site):  # noqa: F811
    page, url = browser_page
    page.goto(url)
    page.wait_for_selector("#kh-example")
    page.fill("#kh-link input, #kh-link textarea", f"{news_site}/moved")
    page.click("#kh-run")
    wait_done(page)
    assert arabic_shown(page)[1:] == [LEAD, SECOND]  # the headline, then the article only
    assert "تعليق" not in page.inner_text("#kh-results")  # no comments, no related links
    page.screenshot(path=str(ARTIFACTS / "documents-2-link.png"), full_page=True)
    page.goto(url)
    page.wait_for_selector("#kh-example")
    page.fill("#kh-link input, #kh-link textarea", "http://169.254.169.254/latest/meta-data/")
    page.click("#kh-run")
    page.wait_for_selector('#kh-status [data-state="error"]', timeout=30_000)
    assert "link-local address" in page.inner_text("#kh-status")


def test_a_readers_correction_wins_for_that_sentence(browser_page):
    page, url = browser_page
    better = "Kerry said in Brussels that he has no plans to coordinate with Iran."
    page.goto(url)
    page.wait_for_selector("#kh-example")
    page.fill("#kh-input textarea", LEAD)
    page.click("#kh-run")
    wait_done(page)
    assert page.inner_text('#kh-results .kh-en[data-seg="0"]').strip() != better
    page.get_by_text("Suggest a better English sentence").click()
    page.fill("#kh-suggest-n input", "1")
    page.fill("#kh-suggest-text textarea, #kh-suggest-text input", better)
    page.click("#kh-suggest-send")
    page.wait_for_selector("#kh-suggest-answer [data-state=done]", timeout=30_000)
    assert "Kept" in page.inner_text("#kh-suggest-answer")
    page.click("#kh-edit")
    page.click("#kh-run")
    wait_done(page)
    first = page.inner_text('#kh-results .kh-en[data-seg="0"]')
    assert first.startswith(better) and "corrected by a reader" in first
    page.screenshot(path=str(ARTIFACTS / "documents-3-suggestion.png"), full_page=True)
