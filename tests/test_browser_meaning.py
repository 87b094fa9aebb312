"""Checks of meaning in a real browser (Debian's chromium): the reversed lead of the example
is marked "meaning may be reversed" and comes first in the check list, and on the Coverage
tab the source that says "no plans" is shown as disagreeing, not as corroboration; axe finds
no serious violation in light or dark mode, on a desktop and on a phone."""

from __future__ import annotations

import pytest
from conftest import reference_memory, serve_options, start_server
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

from khulasa.eval.coverage_set import records, references

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def reversed_site(replicas, tmp_path_factory):
    """The page on replicas, its memory holding the team's English with the lead reversed
    ("he has plans to coordinate with Iran")."""
    from khulasa.models.text import normalize

    need_chromium()
    refs = references()
    lead = next(k for k, v in refs.items() if "he has no plans" in v)
    refs[lead] = refs[lead].replace("he has no plans", "he has plans")
    assert normalize(lead) == lead
    # A name left out on the Article tab, and Outlet B's headline writing "Kerri".
    third = next(k for k, v in refs.items() if v.startswith("Kerry added that the conference"))
    refs[third] = refs[third].replace("Kerry added", "He added")
    headline = next(k for k, v in refs.items() if v.startswith("Kerry: no plans"))
    refs[headline] = refs[headline].replace("Kerry", "Kerri")
    options = serve_options(replicas, summarizer="extractive")
    arabic = [r["text"] for r in records() if r["id"] != "report-en"]
    path = tmp_path_factory.mktemp("memory") / "memory.sqlite"
    memory = reference_memory(options.models, path, arabic, refs, score=-0.9)
    server = start_server(serve_options(replicas, summarizer="extractive", memory=memory))
    with browser_on(server) as browser:
        yield browser, server, None, []


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
