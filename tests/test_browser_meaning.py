"""Checks of meaning in a real browser (Debian's chromium): the reversed lead of the example
is marked "meaning may be reversed" and comes first in the check list, and on the Coverage
tab the source that says "no plans" is shown as disagreeing, not as corroboration; axe finds
no serious violation in light or dark mode, on a desktop and on a phone."""

from __future__ import annotations

import pytest
from test_browser import (  # noqa: F401
    DESKTOP,
    PHONE,
    SETTLED,
    browser_on,
    need_chromium,
    open_page,
    serious_violations,
    shot,
    wait_done,
)
from test_browser_coverage import wait_digest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    "viewport, scheme, name",
    [(DESKTOP, "light", "desktop-light"), (DESKTOP, "dark", "desktop-dark"),
     (PHONE, "light", "phone-light")],
)  # fmt: skip
def test_the_reversed_lead_is_marked_first(reversed_site, viewport, scheme, name):
    page = open_page(reversed_site, viewport, scheme)
    page.click("#kh-example")
    wait_done(page)
    first = page.locator("#kh-check .kh-check-list li").first
    assert first.inner_text().startswith("2") and "the meaning may be reversed" in (
        first.inner_text()
    )
    lead = page.locator('.kh-en[data-seg="1"]')
    assert "meaning may be reversed" in lead.inner_text()
    assert "«لا»" in page.inner_html('.kh-en[data-seg="1"]')  # the evidence, with its gloss
    point = page.locator(".kh-point", has_text="he has plans")
    assert "the meaning may be reversed" in point.get_attribute("data-check")
    page.click("#kh-check .kh-next")
    page.evaluate(SETTLED)
    assert "kh-hl" in page.get_attribute('.kh-pair[data-seg="1"]', "class")  # walked first
    third = page.locator('.kh-en[data-seg="2"]')
    assert "a name differs" in third.inner_text()
    assert "English does not" in page.inner_html('.kh-en[data-seg="2"]')
    shot(page, f"meaning-article-{name}")
    assert serious_violations(page) == []
    page.context.close()


@pytest.mark.parametrize(
    "viewport, scheme, name",
    [(DESKTOP, "light", "desktop-light"), (DESKTOP, "dark", "desktop-dark"),
     (PHONE, "light", "phone-light")],
)  # fmt: skip
def test_a_source_that_says_the_opposite_is_shown_as_disagreeing(
    reversed_site, viewport, scheme, name
):
    page = open_page(reversed_site, viewport, scheme)
    page.get_by_role("tab", name="Coverage").click()
    page.click("#kh-dexample")
    wait_digest(page)
    box = page.inner_text("#kh-disagree")
    assert "Key point 1: the sources disagree (negation)" in box
    assert "he has plans" in box and "he had no plans" in box
    first = page.locator("#kh-digest-summary .kh-dpoint").first.inner_text()
    assert "Sources disagree (negation): reported as shown by 1 source" in first
    assert "Reported independently" not in first
    assert "sources disagree" in first and "sources_disagree" not in first  # plain words
    names = page.inner_text(".kh-names")
    assert "Names written two ways" in names and "“Kerri”" in names and "“Kerry”" in names
    page.locator("#kh-disagree").scroll_into_view_if_needed()
    shot(page, f"meaning-coverage-{name}")
    assert serious_violations(page) == []
    page.context.close()


@pytest.mark.parametrize(
    "viewport, scheme, name",
    [(DESKTOP, "dark", "desktop-dark"), (PHONE, "light", "phone-light")],
)  # fmt: skip
def test_a_pinned_spelling_is_used_and_kept_in_the_browser(reversed_site, viewport, scheme, name):
    """The reader pins داعش as "Daesh" (and التحالف as "the alliance", which no English word
    renders): every sentence naming داعش says Daesh, marked "glossary applied"; the sentences
    naming التحالف are to check, "glossary term not applied", with the term; a reload keeps
    the pinned spellings."""
    page = open_page(reversed_site, viewport, scheme)
    page.get_by_text("Options", exact=True).click()
    page.fill("#kh-pinned textarea", "داعش = Daesh\nالتحالف = the alliance")
    page.click("#kh-example")
    wait_done(page)
    for seg in (1, 4, 5, 8, 11):  # the sentences naming داعش
        english = page.locator(f'.kh-en[data-seg="{seg}"]').inner_text()
        assert "Daesh" in english and "ISIS" not in english, english
    assert "glossary applied" in page.locator('.kh-en[data-seg="11"]').inner_text()
    second = page.locator('.kh-en[data-seg="1"]').inner_text()
    assert "glossary term not applied" in second and "«التحالف»" in second
    assert "glossary term not applied" in page.locator("#kh-check").inner_text()
    assert "Daesh" not in page.locator('.kh-en[data-seg="2"]').inner_text()  # no term: as before
    page.locator('.kh-en[data-seg="11"]').scroll_into_view_if_needed()
    shot(page, f"glossary-{name}")
    assert serious_violations(page) == []
    # The name left out of sentence 3 ("He added"): pin its usual rendering from there.
    pin = page.locator('.kh-en[data-seg="2"] .kh-pin')
    assert pin.inner_text() == "Use “Kerry” everywhere"
    pin.click()
    assert "translate again" in pin.inner_text()
    page.click("#kh-edit")
    page.wait_for_function(
        "() => (document.querySelector('#kh-pinned textarea') || {}).value?.includes('كيري')"
    )
    page.reload()
    page.wait_for_selector("#kh-example")
    page.wait_for_selector("#kh-edit")  # the kept result (?r=ID) is shown again
    page.click("#kh-edit")
    page.get_by_text("Options", exact=True).click()
    page.wait_for_function(  # kept in this browser
        "() => (document.querySelector('#kh-pinned textarea') || {}).value?.includes('كيري')"
    )
    assert "داعش = Daesh" in page.input_value("#kh-pinned textarea")
    page.context.close()
