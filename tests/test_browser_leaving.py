"""What leaves the page keeps its warnings (#33), in a real browser: the walk through the
sentences to check stays in view, the copies carry markers, reasons and where the article
came from (plain text and HTML), reasons are read without hovering, and axe finds no serious
violation in those states, in light and dark, on a desktop and a phone."""

from __future__ import annotations

import pytest
from test_browser import (  # noqa: F401
    DESKTOP,
    PHONE,
    SETTLED,
    browser_on,
    in_view,
    need_chromium,
    open_page,
    serious_violations,
    shot,
    wait_done,
)

pytestmark = pytest.mark.browser


def example(site, viewport=DESKTOP, scheme="light"):
    """A page that has run the example (the reversed lead, the left-out name) to the end."""
    page = open_page(site, viewport, scheme)
    page.click("#kh-example")
    wait_done(page)
    return page


CLIPBOARD_HTML = """async () => {
  for (const item of await navigator.clipboard.read())
    if (item.types.includes('text/html')) return await (await item.getType('text/html')).text();
  return null;
}"""


@pytest.mark.parametrize(
    "viewport, scheme, name",
    [(DESKTOP, "light", "desktop-light"), (PHONE, "dark", "phone-dark")],
)  # fmt: skip
def test_the_walk_through_the_sentences_to_check_stays_in_view(
    reversed_site, viewport, scheme, name
):
    page = example(reversed_site, viewport, scheme)
    page.click("#kh-check .kh-next")
    page.evaluate(SETTLED)
    bar = page.locator("#kh-walk")
    assert bar.is_visible()
    assert bar.inner_text().startswith("Sentence 2: the meaning may be reversed · 1 of 2")
    assert in_view(page, '.kh-pair[data-seg="1"]') and in_view(page, "#kh-walk")
    shot(page, f"leaving-walk-{name}")
    assert serious_violations(page) == []
    page.focus("#kh-walk .kh-walk-next")  # by keyboard, from wherever the reader is
    page.keyboard.press("Enter")
    page.evaluate(SETTLED)
    assert "2 of 2" in bar.inner_text() and "a name differs" in bar.inner_text()
    assert "kh-hl" in page.get_attribute('.kh-pair[data-seg="2"]', "class")
    assert in_view(page, '.kh-pair[data-seg="2"]') and in_view(page, "#kh-walk")
    # The bar never hides the sentence it walked to.
    walked = page.locator('.kh-pair[data-seg="2"] .kh-en').bounding_box()
    box = bar.bounding_box()
    assert walked["y"] + walked["height"] <= box["y"] or walked["y"] >= box["y"] + box["height"]
    page.click("#kh-walk .kh-walk-prev")
    page.evaluate(SETTLED)
    assert "1 of 2" in bar.inner_text()
    page.click("#kh-walk .kh-walk-done")
    assert not bar.is_visible()
    page.context.close()


@pytest.mark.parametrize("scheme", ["dark"])
def test_a_copy_keeps_the_warnings_and_says_where_it_came_from(reversed_site, scheme):
    page = example(reversed_site, DESKTOP, scheme)
    page.click('[data-copy="both"]')
    page.wait_for_function("() => document.querySelector('[data-copy=both]').textContent"
                           " === 'Copied'")  # fmt: skip
    text = page.evaluate("navigator.clipboard.readText()")
    html = page.evaluate(CLIPBOARD_HTML)
    lines = text.splitlines()
    assert (
        "to check: 2 of 16 sentences (the meaning may be reversed: 1; a name differs: 1)"
        in (lines[1])
    )
    assert "[2] ⚑ US Secretary of State John Kerry said" in text
    assert (
        "    ⚑ the meaning may be reversed: The Arabic says «لا» (no, not); the English has "
        in (text)
    )
    assert "[3] ⚑ He added that the conference" in text
    assert "[4] Kerry added" in text  # an unmarked sentence: number, no marker
    page.emulate_media(media="print")  # print keeps the reasons too
    assert page.locator('.kh-en[data-seg="1"] .kh-why').is_visible()
    page.emulate_media(media="screen")
    # The HTML copy, pasted where an email is written, shows the same marks.
    page.set_content(f'<div contenteditable="true" id="mail">{html}</div>')
    pasted = page.inner_text("#mail")
    assert "⚑ the meaning may be reversed: The Arabic says «لا»" in pasted
    assert "to check: 2 of 16 sentences" in pasted
    page.set_viewport_size({"width": 900, "height": 900})
    shot(page, f"leaving-pasted-copy-{scheme}", full=True)
    page.context.close()


CONTRAST = """sel => {
  const el = document.querySelector(sel);
  if (!el) return null;
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => {
    const [r, g, b] = c.slice(0, 3).map(v => v / 255).map(v =>
      v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  let bg = null;
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length < 4 || c[3] > 0) { bg = c; break; }
  }
  bg = bg || [255, 255, 255];
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(bg)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_check_list_and_the_status_link_keep_their_contrast(reversed_site, scheme):
    """WCAG AA (4.5:1) measured on the elements a reader of a marked article reads first:
    the check list's heading and reasons, the status line's link, the reasons in words."""
    page = example(reversed_site, DESKTOP, scheme)
    read_first = (
        "#kh-check h3",
        "#kh-check .kh-check-list li",
        "#kh-status .kh-to-check",
        '.kh-en[data-seg="1"] .kh-why > span',
        "#kh-summary .kh-point .kh-why",
        "#kh-results .kh-headline",
    )
    for sel in read_first:
        ratio = page.evaluate(CONTRAST, sel)
        assert ratio is not None and ratio >= 4.5, (sel, scheme, ratio)
    page.context.close()


def test_a_result_is_kept_at_its_address(reversed_site):
    """The URL names the result: a reload, a Back past the jumps, a `#sentence-N` link and a
    colleague's fresh browser show the same result, the wording the reader chose included;
    this browser lists the reader's recent articles until they clear it."""
    from test_browser import open_wordings

    browser, server, *_ = reversed_site
    page = example(reversed_site)
    page.wait_for_function("() => new URL(location.href).searchParams.get('r')")
    address = page.url
    result_id = page.evaluate("new URL(location.href).searchParams.get('r')")
    assert len(result_id) == 22
    open_wordings(page, 5)
    chosen = page.locator("#kh-wordings .kh-wordings-list li .kh-wording").first.inner_text()
    page.locator("#kh-wordings .kh-wordings-list li button").first.click()
    page.wait_for_function(
        "() => document.querySelector('.kh-en[data-seg=\"5\"]').innerText"
        ".includes('wording you chose')"
    )
    page.reload()
    page.wait_for_selector('.kh-results[data-result] .kh-en[data-seg="1"]')
    assert "meaning may be reversed" in page.inner_text('.kh-en[data-seg="1"]')
    assert chosen in page.inner_text('.kh-en[data-seg="5"]')
    assert "wording you chose" in page.inner_text('.kh-en[data-seg="5"]')
    page.click("#kh-edit")  # this browser's list of recent articles, with the article box
    page.wait_for_selector("#kh-recent", state="visible")
    page.click("#kh-recent summary")
    headline = page.inner_text("#kh-results .kh-headline")
    assert page.inner_text("#kh-recent .kh-recent-list a") == headline
    assert "of 16 sentences to check" in page.inner_text("#kh-recent .kh-recent-list")
    # Jumps, then one Back more than them: the page is left; Forward brings the result back.
    page.locator("#kh-check .kh-cite").first.click()
    page.go_back()
    page.go_back()
    page.go_forward()
    page.wait_for_selector('.kh-results[data-result] .kh-en[data-seg="1"]')
    assert result_id in page.url
    # A colleague, in a fresh browser, opens the link to sentence 3.
    other = browser.new_context(viewport=DESKTOP).new_page()
    other.goto(address + "#sentence-3")
    other.wait_for_selector('.kh-results[data-result] .kh-en[data-seg="2"].kh-hl')
    other.evaluate(SETTLED)  # the scroll to it is smooth: wait until it is at rest
    assert "a name differs" in other.inner_text('.kh-en[data-seg="2"]')
    assert in_view(other, '.kh-en[data-seg="2"]')
    recent = other.evaluate("JSON.parse(localStorage.getItem('khulasa-recent'))")
    assert [x["id"] for x in recent] == [result_id]  # nothing else of the first reader's
    shot(other, "leaving-kept-result-new-browser")
    other.context.close()
    # An address that is no result (or no longer one) says so, and shows nothing else.
    page.goto(server.url + "?r=" + "A" * 22)
    page.wait_for_function(
        "() => document.querySelector('#kh-status')?.innerText.includes('no longer kept')"
    )
    page.click("#kh-recent summary")
    page.click("#kh-recent .kh-recent-clear")  # the reader clears the list
    assert not page.locator("#kh-recent").is_visible()
    page.context.close()


@pytest.mark.parametrize("scheme", ["light"])
def test_a_phones_first_screen_shows_the_news(reversed_site, scheme):
    """At 390x844, once the result is shown: the English headline (no dateline), the count
    to check and the first key point are on the first screen; the intro has folded."""
    page = example(reversed_site, PHONE, scheme)
    page.evaluate("window.scrollTo(0, 0)")
    page.evaluate(SETTLED)
    headline = page.inner_text("#kh-results .kh-headline")
    assert headline and "Akhbar Al-Aan |" not in headline
    assert in_view(page, "#kh-results .kh-headline")
    assert in_view(page, "#kh-status .kh-to-check")
    first = page.locator("#kh-summary .kh-point").first.bounding_box()
    assert first["y"] + 120 <= PHONE["height"]  # the first key point starts on screen
    assert not page.locator(".kh-intro p").is_visible()
    shot(page, f"leaving-phone-first-screen-{scheme}")
    assert serious_violations(page) == []
    page.context.close()
