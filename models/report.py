"""A Document as a reader's report: the Markdown export (title, date, models, the
machine-translation note, key points with 1-based citations, the English, then the pairs) and
the file names of downloads. The page numbers sentences the same way (from 1)."""

from __future__ import annotations

import re

from .checks import EXPLANATIONS, PLAIN, WARNINGS
from .document import OTHER_WORDING
from .evidence import marked, reasons
from .wordings import CHOSEN_NOTE

MT_NOTE = "Machine translation: check names, numbers and quotes against the Arabic before quoting."
TITLE_CHARS = 100  # a longer first line is cut at a word for the title
LANGUAGES = {"ar": "Arabic", "en": "English"}


# A dateline, not a headline: "Akhbar Al-Aan | Brussels – Belgium – (AFP)", "Brussels (AFP)".
_DATELINE = re.compile(r"\s\|\s|\((?:AFP|AP|Reuters|[A-Z][A-Za-z. ]{0,10})\)\s*$")


def title(doc) -> str:
    """The article's English headline: a known title (meta.source.title); else its first line
    unless that is a dateline ("Akhbar Al-Aan | Brussels – (AFP)"), then the first key point
    that carries no warning, then the first line that is no dateline; cut at a word past
    TITLE_CHARS."""
    known = (doc.meta.get("source") or {}).get("title")
    if known:
        return cut(known)
    lines = [
        english
        for paragraph in doc.paragraphs
        if (english := " ".join(s.english for s in paragraph.segments if s.english).strip())
    ]
    if lines and not _DATELINE.search(lines[0]):
        return cut(lines[0])
    for point in doc.summary:
        if not point.flags and not point.source_flags:
            return cut(point.text)
    for line in lines:
        if not _DATELINE.search(line):
            return cut(line)
    return cut(lines[0]) if lines else "Translation"


def cut(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= TITLE_CHARS:
        return text
    return text[:TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",;:–-") + "…"


def file_stem(doc) -> str:
    """`2026-11-29-kerry-says-no-plans-to` from the run's date and the title's first words
    (ASCII letters and digits only, so every file system and browser keeps it)."""
    date = str(doc.meta.get("created", ""))[:10] or "undated"
    words = re.findall(r"[a-z0-9]+", title(doc).lower())
    slug = "-".join(words[:6])[:48].strip("-") or "translation"
    return f"{date}-{slug}"


def summary_made_by(meta: dict) -> str:
    """How the key points were made, in a reader's words."""
    summarizer = meta.get("summarizer") or {}
    mode = summarizer.get("mode")
    if mode == "abstractive":
        return f"Written by the model {summarizer.get('model')} from the English translation"
    if mode == "extractive":
        return "Sentences picked from the English translation (no new wording)"
    return "No summary"


def no_summary(doc) -> str:
    """Why a finished result has no key points, in a reader's words."""
    summarizer = doc.meta.get("summarizer") or {}
    mode = summarizer.get("mode")
    if mode in (None, "none"):
        return "No key points: no summariser was chosen."
    if not any(s.english for s in doc.segments):
        return "No key points: nothing was translated."
    if mode == "abstractive":
        return (
            f"No key points: the summariser {summarizer.get('model')} gave none for this "
            "article. Read the English translation, or choose the extractive summariser."
        )
    return "No key points: the article is too short to pick any from."


def created_at(meta: dict) -> str:
    """When a result was made, as a reader writes it ("2026-12-03 02:06:40 UTC")."""
    return str(meta.get("created", "")).replace("T", " ").replace("Z", " UTC")


def to_markdown(doc) -> str:
    """The whole report; every piece of untrusted text escaped (`md`)."""
    meta = doc.meta
    tr = meta.get("translator", {})
    created = created_at(meta)
    language = doc.source_language
    lines = [
        f"# {md(title(doc))}",
        "",
        f"_{MT_NOTE}_",
        "",
        f"- Translated: {created or 'unknown date'}",
        f"- Source language: {LANGUAGES.get(language, language)} ({language})",
        f"- Translator: {tr.get('model', '?')} ({tr.get('backend', '?')}, beams "
        f"{tr.get('beams', '?')})",
        f"- Key points: {summary_made_by(meta)}",
        f"- khulasa {meta.get('version', '?')}",
        "",
    ]
    source = meta.get("source") or {}
    if source.get("url"):
        lines[-1:-1] = [f"- Source: {md(str(source['url']))}"]
    lines += _key_points(doc) + _to_check(doc)
    lines += ["## English translation", ""]
    for p in doc.paragraphs:  # a marked sentence carries ⚑ and its number (the list above)
        english = " ".join(
            md(s.english) + (f" ⚑[{s.index + 1}]" if _warned(s) else "")
            for s in p.segments
            if s.english
        )
        if english:
            lines += [english, ""]
    lines += ["## Arabic and English, sentence by sentence", ""]
    for s in doc.segments:
        mark = " ⚑" if _warned(s) else ""
        chosen = f" _({CHOSEN_NOTE})_" if OTHER_WORDING in s.flags else ""
        lines += [
            f"**[{s.index + 1}]**{mark} {md(s.english or '')}{chosen}  ",
            f"> {md(s.source)}",
            "",
        ]
    return "\n".join(lines).rstrip("\n") + "\n"


def check_note(sentence, doc) -> str:
    """What a summary sentence's sources warn of, sentence by sentence, in plain words:
    "check: sentence 5: a number differs; sentence 7: the model was unsure" ('' if nothing)."""
    if not sentence.source_flags:
        return ""
    by_index = {s.index: s for s in doc.segments}
    parts = []
    for i in sentence.sources:
        seg = by_index.get(i)
        reasons = [PLAIN[f] for f in WARNINGS if seg is not None and f in seg.flags]
        if reasons:
            parts.append(f"sentence {i + 1}: {', '.join(reasons)}")
    return "check: " + "; ".join(parts) if parts else ""


def _key_points(doc) -> list[str]:
    if not doc.summary:
        return []
    lines = ["## Key points", ""]
    for s in doc.summary:
        refs = ", ".join(f"[{i + 1}]" for i in s.sources) or "(no supporting sentence)"
        reasons = "".join(f" _({EXPLANATIONS[f]})_" for f in s.flags if f in EXPLANATIONS)
        note = check_note(s, doc)
        check = f" \\[{md(note)}\\]" if note else ""
        lines.append(f"- {md(s.text)} {refs}{reasons}{check}")
    return lines + [""]


def _warned(seg) -> bool:
    return any(f in WARNINGS for f in seg.flags)


def _to_check(doc) -> list[str]:
    """Each marked sentence, the most harmful first, with each reason and what it rests on
    ("a number differs: Arabic 8, English 18.")."""
    flagged = marked(doc)
    if not flagged:
        return []
    lines = ["## Check these sentences", "", "Marked ⚑ below, the most harmful first.", ""]
    for s in flagged:
        lines.append(f"- [{s.index + 1}] {md('; '.join(reasons(s, doc.meta.get('names'))))}")
    return lines + [""]


def md(text: str) -> str:
    """Escape Markdown and HTML specials so untrusted text renders as text."""
    out = text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "*_`[]#|":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", " ")
