"""The coverage digest as a reader's Markdown report: key points with their corroboration and
citations (document id and 1-based sentence number, as the page numbers them), the stories and
their outlets, what each document alone reports, documents left out, and every cited sentence
in English and in its source language, so each claim can be checked."""

from __future__ import annotations

from ..checks import EXPLANATIONS
from ..report import MT_NOTE, created_at, cut, md
from .coverage import MIN_CONTENT

OFF_TOPIC_NOTE = "shares no reported fact with the rest of the coverage (off topic?)"


def points_made_by(meta: dict) -> str:
    """How the digest's key points were made, in a reader's words."""
    points = meta["key_points"]
    if points["mode"] == "abstractive":
        return f"Written by the model {points['model']} from the sentences that report each one"
    return (
        "Each is one article's own sentence: the one closest to what the others report (no new "
        "wording)"
    )


def cite(doc_id: str, segment: int) -> str:
    return f"[{md(doc_id)} {segment + 1}]"


def title(digest) -> str:
    """The largest story's own title when its records gave one, else the first key point that
    carries no warning and no disagreement."""
    if not digest.stories:
        return "Coverage digest"
    lead = digest.documents[max(digest.stories, key=len)[0]]
    if lead.input.title:
        return f"Coverage digest: {cut(lead.input.title)}"
    # Never a marked key point: a title is read first and trusted most.
    plain = [k for k in digest.key_points if not k.flags and not k.disagree]
    if plain:
        return f"Coverage digest: {cut(plain[0].text)}"
    return f"Coverage digest: {cut(lead.title or 'untitled')}"


def to_markdown(digest) -> str:
    meta = digest.meta
    counts = meta["counts"]
    tr = meta.get("translator", {})
    created = created_at(meta)
    how = points_made_by(meta)
    lines = [
        f"# {md(title(digest))}",
        "",
        f"_{MT_NOTE}_",
        "",
        f"- Made: {created}",
        f"- Documents: {counts['documents']} ({counts['arabic']} Arabic, {counts['english']} "
        f"English, {counts['failed']} left out) in {counts['stories']} stories",
        f"- Translator: {tr.get('model', '?')} ({tr.get('backend', '?')}, beams "
        f"{tr.get('beams', '?')}); English documents are not translated",
        f"- Key points: {how}; corroboration counts stories, a story's copies once",
        f"- khulasa {meta.get('version', '?')}",
        "",
    ]
    lines += (
        _disagreements(digest)
        + _names(digest)
        + _key_points(digest)
        + _stories(digest)
        + _only_in(digest)
        + _left_out(digest)
    )
    lines += _cited(digest)
    return "\n".join(lines).rstrip("\n") + "\n"


def no_key_points(digest) -> str:
    """Why a digest has no key points, true to its counts."""
    read = digest.meta["counts"]["read"]
    if not read:
        return "No key points: no document could be read."
    documents = "the document" if read == 1 else f"the {read} documents"
    return (
        f"No key points: no sentence of {documents} read has the {MIN_CONTENT} content words "
        "a key point needs."
    )


def disagreement_words(digest, found: dict) -> str:
    """One disagreement in a reader's words: "Key point 1: the sources disagree (negation)"."""
    points = " and ".join(str(k + 1) for k in found["key_points"])
    what = ", ".join(found["differs"])
    if found["kind"] == "sources":
        return f"Key point {points}: the sources disagree ({what})"
    return f"Key points {points} say opposite things ({what})"


def _disagreements(digest) -> list[str]:
    found = digest.disagreements
    if not found:
        return []
    lines = ["## Sources disagree", "", "Not counted as corroboration: read each side.", ""]
    for d in found:
        lines.append(f"- {md(disagreement_words(digest, d))}:")
        for s in d["sentences"]:
            lines.append(
                f"  - {md(s['outlet'])}: {md(s['text'])} {cite(s['document'], s['segment'])}"
            )
    return lines + [""]


def _names(digest) -> list[str]:
    """Names the sources write two ways, each rendering with where it is used."""
    found = digest.meta.get("names") or []
    if not found:
        return []
    lines = ["## Names written two ways", "", "Check which rendering is right.", ""]
    for name in found:
        rarer = "".join(
            f"“{md(form)}” in {' '.join(cite(d, k) for d, k in places)}, "
            for form, places in name["variants"].items()
            if form != name["used"]
        )
        n = len(name["variants"][name["used"]])
        lines.append(
            f"- «{md(name['arabic'])}» is {rarer}“{md(name['used'])}” in {n} other "
            f"{'sentence' if n == 1 else 'sentences'}"
        )
    return lines + [""]


def _key_points(digest) -> list[str]:
    if not digest.key_points:
        return ["## Key points", "", no_key_points(digest), ""]
    lines = ["## Key points", ""]
    for n, point in enumerate(digest.key_points, start=1):
        stories = "story" if point.corroboration == 1 else "stories"
        documents = "document" if point.documents == 1 else "documents"
        refs = " ".join(cite(d, s) for d, s in point.sources)
        reasons = "".join(f" _({EXPLANATIONS[f]})_" for f in point.flags if f in EXPLANATIONS)
        against = " — **sources disagree** (see above)" if point.disagree else ""
        lines.append(
            f"{n}. {md(point.text)} — **{point.corroboration} {stories}**, "
            f"{point.documents} {documents}: {refs}{reasons}{against}"
        )
    return lines + [""]


def story_source(digest, story: int, outlets_named: bool = True) -> str:
    """Who reports a story, in a reader's words: "AFP wire via 4 outlets: A, B, C, D" for
    copies of a wire story whose dateline names its agency (without the names where chips
    name them), else its outlets."""
    outlets, agency = digest.outlets(story), digest.agencies[story]
    if agency and len(outlets) > 1:
        named = f": {', '.join(outlets)}" if outlets_named else ""
        return f"{agency} wire via {len(outlets)} outlets{named}"
    if agency:
        return f"{outlets[0]} ({agency})"
    return ", ".join(outlets)


def _stories(digest) -> list[str]:
    lines = ["## Stories", "", "| story | reported by | documents | title |", "|---|---|---|---|"]
    for k, members in enumerate(digest.stories):
        docs = [digest.documents[d] for d in members]
        ids = ", ".join(md(d.input.id) for d in docs)
        source = md(story_source(digest, k))
        lines.append(f"| {k + 1} | {source} | {ids} | {md(docs[0].title or '')} |")
    return lines + [""]


def _only_in(digest) -> list[str]:
    lines = ["## Only in one document", ""]
    for d in digest.documents:
        if d.document is None or not d.only_in:
            continue
        name = f"{d.input.outlet} ({d.input.id})" if d.input.outlet else d.input.id
        note = f" — {OFF_TOPIC_NOTE}" if "off_topic" in d.flags else ""
        lines += [f"### Only in {md(name)}{note}", ""]
        segments = d.document.segments
        for i in d.only_in:
            lines.append(f"- {cite(d.input.id, i)} {md(segments[i].english or '')}")
        lines.append("")
    return lines if len(lines) > 2 else []


def _left_out(digest) -> list[str]:
    failed = [d for d in digest.documents if d.input.error is not None]
    if not failed:
        return []
    lines = ["## Left out", ""]
    for d in failed:
        code = getattr(d.input.error, "code", "error")
        lines.append(f"- {md(d.input.id)}: {md(str(d.input.error))} (`{code}`)")
    return lines + [""]


def _cited(digest) -> list[str]:
    """Each key point's sentences, a sentence that several copies share once with all their
    citations."""
    lines = ["## Sentences cited", ""]
    for n, point in enumerate(digest.key_points, start=1):
        same: dict[tuple[str, str], list[str]] = {}
        for doc_id, i in point.sources:
            d = digest.document(doc_id)
            seg = d.document.segments[i]
            source = seg.source if d.document.source_language != "en" else ""
            mark = " ⚑" if any(f in EXPLANATIONS for f in seg.flags) else ""
            same.setdefault((seg.english or "", source), []).append(cite(doc_id, i) + mark)
        lines += [f"Key point {n}:", ""]
        for (english, source), cites in same.items():
            lines.append(f"**{' '.join(cites)}** {md(english)}  ")
            if source:
                lines.append(f"> {md(source)}")
            lines.append("")
    return lines
