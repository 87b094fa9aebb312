"""The page in a real browser: Debian's chromium driven by Playwright (never
`playwright install`). Skips with the reason when chromium is absent, unless
KHULASA_REQUIRE_BROWSER=1 (CI), where it fails instead."""

import os
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLE_AR, serve_options, start_server

from khulasa.models.checks import EXPLANATIONS

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(
    os.environ.get("KHULASA_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts")
)
XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def page(replicas):
    if not Path(CHROMIUM).exists():
        if os.environ.get("KHULASA_REQUIRE_BROWSER") == "1":
            pytest.fail(
                "chromium is required here (KHULASA_REQUIRE_BROWSER=1) but is missing: "
                "apt-get install -y chromium"
            )
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    # Extractive: its summary sentences always have sources, so provenance is checkable.
    server = start_server(serve_options(replicas, summarizer="extractive"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(server.url)
        yield page
        browser.close()
    server.close()


def run_and_wait(page, source_snippet: str):
    """Run, then wait until the panes show this input and the status says Done (panes and
    status change together, so an earlier run's Done cannot satisfy it)."""
    page.click("#kh-run")
    page.wait_for_function(
        """snippet => {
            const status = document.querySelector('#kh-status');
            const source = document.querySelector('.kh-source');
            return status && source && status.textContent.includes('Done')
                && source.textContent.includes(snippet);
        }""",
        arg=source_snippet,
        timeout=120_000,
    )


def test_example_runs_and_panes_align(page):
    page.click("#kh-example")
    page.wait_for_function("() => document.querySelector('#kh-input textarea').value.length > 100")
    assert page.input_value("#kh-input textarea") == SAMPLE_AR.read_text(encoding="utf-8")
    run_and_wait(page, "كوباني")
    assert page.locator(".kh-source .kh-seg").count() == 16
    assert page.locator(".kh-english .kh-seg:not(.kh-pending)").count() == 16
    assert page.locator(".kh-summary .kh-sum").count() >= 1
    direction = page.eval_on_selector(".kh-source", "el => getComputedStyle(el).direction")
    assert direction == "rtl"
    assert "Translator:" in page.inner_text("#kh-meta")

    page.hover('.kh-source .kh-seg[data-seg="2"]')
    english = page.locator('.kh-english .kh-seg[data-seg="2"]')
    assert "kh-hl" in english.get_attribute("class")
    assert "kh-hl" not in page.locator('.kh-english .kh-seg[data-seg="3"]').get_attribute("class")

    # Trust markers: quiet, explained on hover (title) and reachable by keyboard.
    marker = page.locator('.kh-english .kh-flag[tabindex="0"]').first
    assert marker.get_attribute("title") in EXPLANATIONS.values()
    marker.focus()
    assert page.evaluate("() => document.activeElement.classList.contains('kh-flag')")
    assert "to check (marked)" in page.inner_text("#kh-status")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page.png"), full_page=True)


def test_summary_sentence_highlights_its_sources(page):
    with_sources = page.locator('.kh-summary .kh-sum:not([data-sources=""])')
    assert with_sources.count() >= 1, "no summary sentence has sources: nothing to check"
    summary = with_sources.first
    sources = summary.get_attribute("data-sources").split()
    assert sources
    summary.click()
    highlighted = page.eval_on_selector_all(
        ".kh-english .kh-seg.kh-hl", "els => els.map(e => e.dataset.seg)"
    )
    assert sorted(highlighted) == sorted(sources)


def test_untrusted_input_shows_as_text_and_runs_nothing(page):
    page.fill("#kh-input textarea", XSS)
    run_and_wait(page, "window.__pwned=2")
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert XSS in page.inner_text(".kh-source")
    assert page.locator(".kh-panes img, .kh-panes script").count() == 0
    assert "not Arabic" in page.inner_text("#kh-status")
    page.screenshot(path=str(ARTIFACTS / "xss.png"), full_page=True)
