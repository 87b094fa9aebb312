"""The doors' HTML from Jinja2 templates (templates/), autoescaped: every piece of text put
into a template, untrusted or ours, is escaped unless it is HTML another template made
(`Markup`). Gradio's HTML component sets innerHTML without sanitising, so nothing else may
build HTML from text. Each template is a set of macros; `view(template, macro, ...)` renders
one as a string."""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

__all__ = ["Markup", "view"]

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=StrictUndefined,
)
_BETWEEN_TAGS = re.compile(r">\n\s*<")  # the templates' own line breaks (text is escaped:
# no `>` of a visitor's text is left unescaped, so only markup can stand either side)


def view(template: str, macro: str, *args) -> str:
    """The HTML of `macro` in `template` for `args`, its line breaks between tags removed (a
    plain str: HTML passed into another template is wrapped in `Markup` there)."""
    html = str(getattr(_ENV.get_template(template).module, macro)(*args))
    return _BETWEEN_TAGS.sub("><", html.strip())
