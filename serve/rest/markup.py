"""HTML in, its text nodes out for translation, markup kept verbatim (REST `format=html`)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from html.parser import HTMLParser


class _HtmlText(HTMLParser):
    """Splits HTML into markup kept verbatim and text nodes to translate."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[tuple[str, str]] = []  # ("markup" | "text" | "raw", content)
        self._raw = 0

    def handle_starttag(self, tag, attrs):
        self.parts.append(("markup", self.get_starttag_text()))
        if tag in ("script", "style"):
            self._raw += 1

    def handle_startendtag(self, tag, attrs):
        self.parts.append(("markup", self.get_starttag_text()))

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._raw:
            self._raw -= 1
        self.parts.append(("markup", f"</{tag}>"))

    def handle_data(self, data):
        self.parts.append(("raw" if self._raw else "text", data))

    def handle_comment(self, data):
        self.parts.append(("markup", f"<!--{data}-->"))

    def handle_decl(self, decl):
        self.parts.append(("markup", f"<!{decl}>"))

    def handle_pi(self, data):
        self.parts.append(("markup", f"<?{data}>"))

    def unknown_decl(self, data):
        self.parts.append(("markup", f"<![{data}]>"))


def split_html(html: str) -> list[tuple[str, str]]:
    """(kind, content) parts whose contents join back to `html`'s markup and text. A tag left
    open at the end (`<a href="x`) is markup, kept as it is, never text to translate."""
    tail = ""
    last_open = html.rfind("<")
    if last_open >= 0 and ">" not in html[last_open:]:
        html, tail = html[:last_open], html[last_open:]
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.parts + ([("markup", tail)] if tail else [])


def translate_html(html: str, translate: Callable[[list[str]], list[str]]) -> str:
    """`html` with every text node replaced by its translation (escaped: model output never
    becomes markup); surrounding white space and all markup kept."""
    parts = split_html(html)
    english = iter(translate([content for kind, content in parts if kind == "text"]))
    out = []
    for kind, content in parts:
        if kind != "text":
            out.append(content)
            continue
        new = next(english)
        lead = content[: len(content) - len(content.lstrip())]
        trail = content[len(content.rstrip()) :]
        out.append(escape(lead + new.strip() + trail if new != content else content, quote=False))
    return "".join(out)
