"""A Document as the page's HTML: three aligned panes, a status line, a metadata line.

Every piece of untrusted text (the user's input and all model output) goes through
`html.escape` here, because Gradio's HTML component sets innerHTML without sanitising.
Attribute values we write are integers we made; no untrusted text ever reaches an attribute.
"""

from __future__ import annotations

from html import escape

from khulasa.models.checks import EXPLANATIONS
from khulasa.models.document import Document, Segment, SummarySentence

FLAG_LABELS = {
    "split_at_length_limit": "split at the length limit",
    "from_memory": "from memory",
    "not_arabic": "not Arabic",
    "unsupported": "no supporting source sentence",
    "low_confidence": "unsure",
    "number_mismatch": "check numbers",
    "untranslated": "untranslated words",
    "repetition": "repeats itself",
    "length_ratio": "length off",
    "quote_mismatch": "quote lost",
    "retried": "second try",
    "unsupported_number": "number not in sources",
    "unsupported_name": "name not in text",
}
WARNING_LABELS = {
    "mostly_non_arabic": "Most of this text is not Arabic: the translation may be poor.",
}

CSS = """
.kh-panes { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 14px; }
@media (max-width: 900px) { .kh-panes { grid-template-columns: 1fr; } }
.kh-pane { border: 1px solid var(--border-color-primary, #d0d7de); border-radius: 8px;
  padding: 10px 14px; background: var(--background-fill-primary, #fff); min-height: 120px;
  overflow-wrap: anywhere; }
.kh-pane h3 { margin: 0 0 8px; font-size: 0.95rem; color: var(--body-text-color-subdued, #555); }
.kh-pane p { margin: 0 0 10px; line-height: 1.6; }
.kh-source { direction: rtl; text-align: right;
  font-family: "Noto Naskh Arabic", "Amiri", "Noto Sans Arabic", "DejaVu Sans", sans-serif;
  font-size: 1.08rem; line-height: 1.9; }
.kh-source h3 { direction: ltr; text-align: left; }
.kh-seg, .kh-sum { border-radius: 3px; cursor: pointer; transition: background 0.1s; }
.kh-seg.kh-hl, .kh-sum.kh-hl { background: #fde68a; color: #111; }
.kh-pending { color: var(--body-text-color-subdued, #888); font-style: italic; }
.kh-n { font-size: 0.7em; color: #777; margin: 0 2px; }
.kh-flag:focus { outline: 2px solid #1d4ed8; outline-offset: 1px; }
.kh-flag { display: inline-block; font-size: 0.72em; padding: 0 5px; margin: 0 3px;
  border-radius: 8px; background: #fee2e2; color: #991b1b; border: 1px solid #fecaca; }
.kh-summary ul { padding-left: 18px; margin: 0; }
.kh-summary li { margin-bottom: 8px; line-height: 1.5; }
.kh-status { display: flex; gap: 12px; align-items: center; min-height: 1.6em; }
.kh-status progress { width: 220px; }
.kh-warning { color: #9a3412; background: #ffedd5; padding: 2px 8px; border-radius: 6px; }
.kh-meta { font-size: 0.82rem; color: var(--body-text-color-subdued, #666); }
"""

# Delegated listeners on the document survive every re-render of the panes.
HEAD = """<script>
(() => {
  const panes = () => document.querySelectorAll('.kh-panes');
  const clear = () =>
    document.querySelectorAll('.kh-hl').forEach(e => e.classList.remove('kh-hl'));
  const mark = (ids, self) => {
    clear();
    if (self) self.classList.add('kh-hl');
    panes().forEach(root => ids.forEach(i => root
      .querySelectorAll('.kh-seg[data-seg="' + i + '"]').forEach(e => e.classList.add('kh-hl'))));
  };
  const target = ev =>
    ev.target.closest && ev.target.closest('.kh-panes .kh-seg, .kh-panes .kh-sum');
  const ids = el => el.classList.contains('kh-sum')
      ? (el.dataset.sources || '').split(' ').filter(Boolean) : [el.dataset.seg];
  document.addEventListener('mouseover', ev => { const t = target(ev); if (t) mark(ids(t), t); });
  document.addEventListener('click', ev => { const t = target(ev); if (t) mark(ids(t), t); });
})();
</script>"""


QUIET_FLAGS = {"from_memory"}  # bookkeeping, not a warning: counted in the status line


def _flags(flags: list[str]) -> str:
    """A quiet marker per flag; its explanation on hover (title) and on keyboard focus (the
    marker takes focus and is labelled with it)."""
    out = []
    for f in flags:
        if f in QUIET_FLAGS:
            continue
        label = escape(FLAG_LABELS.get(f, f))
        why = escape(EXPLANATIONS.get(f, FLAG_LABELS.get(f, f)))
        out.append(
            f'<span class="kh-flag" tabindex="0" title="{why}" aria-label="{label}: {why}">'
            f"{label}</span>"
        )
    return "".join(out)


def _segment(seg: Segment, english: bool) -> str:
    n = f'<sup class="kh-n">{seg.index + 1}</sup>'
    if not english:
        return f'<span class="kh-seg" data-seg="{int(seg.index)}">{escape(seg.source)}</span>{n} '
    if seg.english is None:
        body, cls = "…", "kh-seg kh-pending"
    else:
        body, cls = escape(seg.english), "kh-seg"
    return f'<span class="{cls}" data-seg="{int(seg.index)}">{body}</span>{n}{_flags(seg.flags)} '


def _summary(sentence: SummarySentence) -> str:
    sources = " ".join(str(int(i)) for i in sentence.sources)
    refs = ", ".join(str(int(i) + 1) for i in sentence.sources)
    ref_html = f' <span class="kh-n">[{refs}]</span>' if refs else ""
    return (
        f'<li class="kh-sum" data-sources="{sources}">{escape(sentence.text)}{ref_html}'
        f"{_flags(sentence.flags)}</li>"
    )


def render_panes(doc: Document | None, summary_note: str = "") -> str:
    """Source (RTL) | English | Summary, paragraph breaks kept, sentences aligned by index."""
    if doc is None:
        source = english = '<p class="kh-pending">Paste an Arabic article and press Translate.</p>'
        summary = ""
    else:
        source = "".join(
            "<p>" + "".join(_segment(s, False) for s in p.segments) + "</p>" for p in doc.paragraphs
        )
        english = "".join(
            "<p>" + "".join(_segment(s, True) for s in p.segments) + "</p>" for p in doc.paragraphs
        )
        if doc.summary:
            summary = "<ul>" + "".join(_summary(s) for s in doc.summary) + "</ul>"
        else:
            summary = f'<p class="kh-pending">{escape(summary_note)}</p>' if summary_note else ""
    return (
        '<div class="kh-panes">'
        f'<section class="kh-pane kh-source" dir="rtl" lang="ar"><h3>Arabic source</h3>{source}'
        "</section>"
        f'<section class="kh-pane kh-english" lang="en"><h3>English translation</h3>{english}'
        "</section>"
        f'<section class="kh-pane kh-summary" lang="en"><h3>Summary</h3>{summary}</section>'
        "</div>"
    )


def render_status(doc: Document | None, stage: str) -> str:
    """Progress and warnings above the panes."""
    parts = []
    if doc is not None:
        segments = doc.segments
        done = sum(s.english is not None for s in segments)
        parts.append(f'<progress max="{len(segments)}" value="{done}"></progress>')
        remembered = sum("from_memory" in s.flags for s in segments)
        memo = f" ({remembered} from memory)" if remembered else ""
        to_check = doc.meta.get("trust", {}).get("to_check", 0) if doc.complete else 0
        memo += f" · {to_check} to check (marked)" if to_check else ""
        parts.append(
            f"<span>{escape(stage)} — {done} of {len(segments)} sentences translated{memo}</span>"
        )
        for w in doc.meta.get("warnings", []):
            parts.append(f'<span class="kh-warning">{escape(WARNING_LABELS.get(w, w))}</span>')
    elif stage:
        parts.append(f"<span>{escape(stage)}</span>")
    return '<div class="kh-status">' + "".join(parts) + "</div>"


def render_meta(doc: Document | None) -> str:
    """Model names, backend, beams and timings under the panes."""
    if doc is None:
        return ""
    meta = doc.meta
    tr, su, ms = meta.get("translator", {}), meta.get("summarizer", {}), meta.get("timings_ms", {})
    text = (
        f"Translator: {tr.get('model')} ({tr.get('backend')}, beams {tr.get('beams')}) · "
        f"Summariser: {su.get('model')} ({su.get('mode')}) · "
        f"translate {ms.get('translate', 0) / 1000:.1f} s · "
        f"summarise {ms.get('summarize', 0) / 1000:.1f} s · khulasa {meta.get('version')}"
    )
    return f'<div class="kh-meta">{escape(text)}</div>'
