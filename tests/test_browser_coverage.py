"""The page's Coverage tab in a real browser (as test_browser.py: Debian's chromium through
Playwright; skips with the reason without it, fails under KHULASA_REQUIRE_BROWSER=1)."""

from pathlib import Path

import pytest
from test_browser import (  # noqa: F401
    DESKTOP,
    PHONE,
    SETTLED,
    XSS,
    in_view,
    open_page,
    serious_violations,
    shot,
    site,
)

pytestmark = pytest.mark.browser


def coverage_tab(site, viewport=DESKTOP, scheme="light"):  # noqa: F811
    page = open_page(site, viewport, scheme)
    page.get_by_role("tab", name="Coverage").click()
    page.wait_for_selector("#kh-dexample")
    return page


def wait_digest(page, state="done"):
    page.wait_for_selector(f'#kh-dstatus [data-state="{state}"]', timeout=120_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#kh-digest, #kh-dstatus')]"
        ".every(e => getComputedStyle(e).opacity === '1')"
    )
    page.evaluate(SETTLED)


def test_the_example_coverage_becomes_one_digest(site):  # noqa: F811
    page = coverage_tab(site)
    shot(page, "coverage-0-tab")
    page.click("#kh-dexample")
    wait_digest(page)
    assert "Done: 6 of 6 articles in 3 stories" in page.inner_text("#kh-dstatus")
    card = page.locator("#kh-digest-summary")
    assert in_view(page, "#kh-digest-summary h2")  # the digest is brought into view
    assert "Machine translation" in card.inner_text()
    assert page.locator("#kh-digest .kh-dpoint").count() >= 5
    stories = page.inner_text("#kh-stories-title >> xpath=..")
    # The wire copies under their story, its agency read from the dateline.
    assert (
        "Story 1: AFP wire via 4 outlets: Akhbar Al-Aan, Outlet B, Outlet C, Outlet D (4 copies)"
        in stories
    )
    assert "(1 article · on another subject)" in stories  # the weather report
    first = page.inner_text("#kh-digest-summary .kh-dpoint >> nth=0")
    assert "Reported independently by 2 sources:" in first or "Reported by 1 source:" in first
    assert "AFP wire via 4 outlets" in page.inner_text("#kh-digest-summary")
    only = page.inner_text("#kh-only-title >> xpath=..")
    assert "Only in Outlet D" in only and "Only in Outlet E" in only
    assert "Only in Outlet B" not in only  # its new headline restates the story's lead
    # The off-topic article is one folded line, its sentences one click away.
    assert "Outlet F: on another subject (4 sentences" in only
    assert not page.is_visible("details.kh-offtopic li")
    shot(page, "coverage-1-digest")

    # A chip opens the folded article at its sentence and lights it.
    chip = page.locator("#kh-digest-summary .kh-dcite").first
    doc, seg = chip.get_attribute("data-doc"), chip.get_attribute("data-seg")
    chip.click()
    pair = f'#kh-digest .kh-pair[data-doc="{doc}"][data-seg="{seg}"]'
    page.wait_for_function("p => document.querySelector(p).classList.contains('kh-hl')", arg=pair)
    page.evaluate(SETTLED)  # scrolled to it
    assert page.eval_on_selector(f'details[data-doc="{doc}"]', "e => e.open")
    assert "kh-hl" in page.get_attribute(pair, "class")
    assert in_view(page, pair)
    shot(page, "coverage-2-chip")
    # The jump is a step in the browser's history, with a way back (as on the Article tab).
    assert page.url.endswith(f"#coverage-{doc}-{int(seg) + 1}")
    assert page.inner_text("#kh-back") == "Back to key point 1"
    page.go_back()
    page.wait_for_function("() => document.querySelector('#kh-back').hidden")
    page.evaluate(SETTLED)
    assert in_view(page, "#kh-digest-summary .kh-dcite >> nth=0")
    shot(page, "coverage-2-full", full=True)
    page.context.close()


@pytest.mark.parametrize(
    "viewport, scheme",
    [(DESKTOP, "light"), (PHONE, "light"), (DESKTOP, "dark"), (PHONE, "dark")],
    ids=["desktop", "phone", "desktop-dark", "phone-dark"],
)
def test_the_digest_has_no_serious_accessibility_violations(site, viewport, scheme):  # noqa: F811
    page = coverage_tab(site, viewport, scheme)
    page.click("#kh-dexample")
    wait_digest(page)
    found = serious_violations(page)
    shot(page, f"coverage-axe-{scheme}-{viewport['width']}", full=True)
    assert not found, found
    page.context.close()


def test_uploads_and_pasted_names_show_as_text_and_no_server_path(site, tmp_path):  # noqa: F811
    article = Path(__file__).resolve().parent.parent / "eval" / "data" / "brussels_ar.txt"
    mine = tmp_path / "copy.txt"
    mine.write_text(article.read_text(encoding="utf-8"), encoding="utf-8")
    legacy = tmp_path / "legacy-latin1.txt"
    legacy.write_bytes("Déclaration du ministère".encode("latin-1"))
    page = coverage_tab(site)
    page.set_input_files("#kh-dfiles input[type=file]", [str(mine), str(legacy)])
    page.wait_for_function(  # both uploaded: the widget lists them
        "() => ['copy', 'legacy-latin1']"
        ".every(n => document.querySelector('#kh-dfiles').textContent.includes(n))"
    )
    page.fill("#kh-dinput textarea", f"--- {XSS}\n" + article.read_text(encoding="utf-8"))
    page.click("#kh-drun")
    wait_digest(page)
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert page.locator("#kh-digest img, #kh-digest script").count() == 0
    text = page.inner_text("#kh-digest")
    assert XSS in text  # the pasted outlet name, shown as text
    left = page.inner_text("#kh-left-title >> xpath=..")
    assert "legacy-latin1.txt" in left and "not valid UTF-8" in left
    assert "/tmp" not in left and "gradio" not in left.lower()
    assert "Story 1: AFP wire via 2 outlets: copy.txt, " in page.inner_text(
        "#kh-stories-title >> xpath=.."
    )
    page.context.close()


def test_nothing_to_digest_says_so(site):  # noqa: F811
    page = coverage_tab(site)
    page.click("#kh-drun")
    page.wait_for_selector('#kh-dstatus [data-state="error"]', timeout=30_000)
    assert "No documents" in page.inner_text("#kh-dstatus")
    assert page.get_attribute("#kh-dstatus .kh-error", "role") == "alert"
    page.context.close()
