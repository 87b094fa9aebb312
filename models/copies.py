"""What leaves the page keeps what the reader must know: the copies of a result (key points,
the English, both) as plain text and as the parts the page's HTML copy is made of, and the
warnings of each sentence in words (its reason and what the reason rests on).

One set of parts for every way out: the page's copy buttons (plain text and HTML on the
clipboard), the command line's text output and the Markdown read the same reasons, so a
sentence marked on the page is marked, with the same words, wherever it goes.
"""

from __future__ import annotations

from .checks import EXPLANATIONS, PLAIN, WARNINGS
from .document import OTHER_WORDING, Document, Segment
from .evidence import marked, reasons
from .report import created_at, cut, title

MARK = "⚑"  # beside every marked sentence, in every copy
CHOSEN = "wording chosen by the reader, not the model's first"
WHAT = ("points", "english", "both")


def to_check_line(doc: Document) -> str:
    """How many sentences to check and why: "to check: 2 of 16 sentences (the meaning may
    be reversed: 1; a name differs: 1)", or "to check: none of 16 sentences"."""
    found = marked(doc)
    total = len(doc.segments)
    if not found:
        return f"to check: none of {total} sentences"
    counts = {f: sum(f in s.flags for s in found) for f in WARNINGS}
    said = "; ".join(f"{PLAIN[f]}: {n}" for f, n in counts.items() if n)
    return f"to check: {len(found)} of {total} sentences ({said})"


def about(doc: Document) -> dict:
    """Where the article came from and what the copy is: its title, its outlet, date and
    link where known, and "Machine translation by khulasa (when): N of M to check"."""
    source = doc.meta.get("source") or {}
    where = [str(source[k]) for k in ("outlet", "date", "url") if source.get(k)]
    when = created_at(doc.meta)
    made = f"Machine translation by khulasa{f', {when}' if when else ''}"
    return {
        "title": cut(title(doc)),
        "where": " · ".join(where),
        "made": f"{made}: {to_check_line(doc)}. Check names, numbers and quotes against the "
        "Arabic before quoting.",
        "chosen": CHOSEN,
    }


def _sentence(seg: Segment, doc: Document) -> dict:
    return {
        "n": seg.index + 1,
        "english": seg.english or "",
        "reasons": reasons(seg, doc.meta.get("names")),
        "chosen": OTHER_WORDING in seg.flags,
    }


def parts(doc: Document, what: str) -> dict:
    """The copy `what` (points, english or both) as parts: the source lines, the key points
    (each with its citations and what its sources warn of), and the sentences: all of them by
    paragraph, or, for the key points alone, the ones they cite (so every citation points at
    a sentence in the copy)."""
    if what not in WHAT:
        raise ValueError(f"what: one of {', '.join(WHAT)}")
    by_index = {s.index: s for s in doc.segments}
    points = []
    for k, s in enumerate(doc.summary if what != "english" else [], start=1):
        sources = [by_index[i] for i in s.sources if i in by_index]
        warned = [
            f"sentence {seg.index + 1}: {', '.join(said)}"
            for seg in sources
            if (said := [PLAIN[f] for f in WARNINGS if f in seg.flags])
        ]
        warned += [EXPLANATIONS[f] for f in s.flags if f in EXPLANATIONS and f not in WARNINGS]
        chosen = [seg.index + 1 for seg in sources if OTHER_WORDING in seg.flags]
        points.append({"n": k, "text": s.text, "cites": [seg.index + 1 for seg in sources],
                       "warned": warned, "chosen": chosen})  # fmt: skip
    if what == "points":
        cited = sorted({i for s in doc.summary for i in s.sources if i in by_index})
        paragraphs = [[_sentence(by_index[i], doc) for i in cited]] if cited else []
    else:
        paragraphs = [
            [_sentence(s, doc) for s in p.segments if s.english]
            for p in doc.paragraphs
            if any(s.english for s in p.segments)
        ]
    return {"about": about(doc), "points": points, "paragraphs": paragraphs, "what": what}


def plain_text(p: dict) -> str:
    """A copy's `parts` as plain text: numbered sentences, ⚑ and the reasons under every
    marked one, the source lines first."""
    head = p["about"]
    lines = [head["title"]] + ([head["where"]] if head["where"] else []) + [head["made"], ""]
    if p["points"]:
        lines.append("Key points")
        for pt in p["points"]:
            cites = f" [{', '.join(map(str, pt['cites']))}]" if pt["cites"] else ""
            lines.append(f"{pt['n']}. {pt['text']}{cites}")
            for w in pt["warned"]:
                lines.append(f"   {MARK} check {w}")
            if pt["chosen"]:
                lines.append(f"   (sentence {', '.join(map(str, pt['chosen']))}: {CHOSEN})")
        lines.append("")
    if p["paragraphs"]:
        lines.append("Cited sentences" if p["what"] == "points" else "English translation")
        for para in p["paragraphs"]:
            for s in para:
                flag = f" {MARK}" if s["reasons"] else ""
                lines.append(f"[{s['n']}]{flag} {s['english']}")
                lines += [f"    {MARK} {r}" for r in s["reasons"]]
                if s["chosen"]:
                    lines.append(f"    ({CHOSEN})")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
