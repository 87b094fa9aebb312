"""The reader's Markdown export and file names, and the order a watched stream fills in."""

import re

from khulasa.models.checks import EXPLANATIONS, WARNINGS
from khulasa.models.document import Document
from khulasa.models.factory import load_pipeline
from khulasa.models.report import MT_NOTE, file_stem, title, to_markdown

INTERNAL = ["from_memory", "split_at_length_limit", "low_confidence", "not_arabic", "retried"]


def test_markdown_is_a_report_a_reader_can_cite(replicas, sample_ar):
    pipeline = load_pipeline(str(replicas["opus-mt"]), "extractive", backend="torch")
    doc = pipeline.process(sample_ar)
    doc.segments[0].english = "Akhbar Al-Aan | Brussels – Belgium – (AFP)"  # as a real model
    md = to_markdown(doc)
    lines = md.splitlines()
    # The title is a headline, not the dateline (every replica key point is marked: the first
    # line that is no dateline).
    assert lines[0].startswith("# ") and "Akhbar Al-Aan" not in lines[0]
    assert MT_NOTE in md
    assert f"- Translated: {doc.meta['created'][:10]}" in md
    assert "- Source language: Arabic (ar)" in md and "- Translator: " in md
    assert "- Key points: Sentences picked from the English translation" in md
    sections = [x for x in lines if x.startswith("## ")]
    assert sections[0] == "## Key points" and sections[-2:] == [
        "## English translation",
        "## Arabic and English, sentence by sentence",
    ]
    points = lines[
        lines.index("## Key points") + 2 : lines.index("## Key points") + 2 + len(doc.summary)
    ]
    for point, sentence in zip(points, doc.summary, strict=True):
        # The same 1-based numbers as the page's citation chips.
        cited, _, check = point.partition(" \\[check: ")
        assert cited.endswith(", ".join(f"[{i + 1}]" for i in sentence.sources))
        assert bool(check) == bool(sentence.source_flags)  # its sources' warnings, if any
    assert "**[1]**" in md and "**[16]**" in md and "**[0]**" not in md
    for flag in INTERNAL:
        assert flag not in md, f"internal flag {flag} in the Markdown"
    english = md.split("## English translation")[1].split("## Arabic and English")[0]
    assert "> " not in english  # no Arabic; a marked sentence carries ⚑ and its number
    marked = {s.index + 1 for s in doc.segments if any(f in WARNINGS for f in s.flags)}
    assert {int(n) for n in re.findall(r"⚑\[(\d+)\]", english)} == marked


def test_flagged_sentences_are_listed_in_words():
    doc = Document.from_dict(
        {
            "paragraphs": [
                {
                    "segments": [
                        {
                            "index": 0,
                            "source": "قال كيري",
                            "english": "Kerry said",
                            "flags": ["low_confidence", "from_memory"],
                        },  # fmt: skip
                    ]
                }
            ],
            "meta": {"created": "2026-11-29T21:00:00Z"},
        }
    )
    md = to_markdown(doc)
    assert f"- [1] the model was unsure: {EXPLANATIONS['low_confidence']}" in md  # no score
    assert "**[1]** ⚑ Kerry said" in md and "Kerry said ⚑[1]" in md
    assert "from_memory" not in md and "low_confidence" not in md


def test_file_names_come_from_the_date_and_first_words():
    doc = Document.from_dict(
        {
            "paragraphs": [
                {"segments": [{"index": 0, "source": "أ", "english": "Kerry: No plans with Iran!"}]}
            ],
            "meta": {"created": "2026-11-29T21:00:00Z"},
        }
    )
    assert title(doc) == "Kerry: No plans with Iran!"
    assert file_stem(doc) == "2026-11-29-kerry-no-plans-with-iran"
    doc.paragraphs[0].segments[0].english = "؟؟"  # nothing file-safe: still a usable name
    assert file_stem(doc) == "2026-11-29-translation"
    doc.paragraphs[0].segments[0].english = "word " * 80
    assert len(title(doc)) <= 101 and title(doc).endswith("…")
    assert re.fullmatch(r"2026-11-29-[a-z0-9-]+", file_stem(doc))


def test_the_title_is_a_headline_not_the_dateline():
    from khulasa.models.document import SummarySentence

    lines = ["Akhbar Al-Aan | Brussels – (AFP)", "Kerry said he has no plans."]
    doc = Document.from_dict(
        {
            "paragraphs": [
                {"segments": [{"index": k, "source": "أ", "english": line}]}
                for k, line in enumerate(lines)
            ],
            "meta": {"created": "2026-11-29T21:00:00Z"},
        }
    )
    assert title(doc) == "Kerry said he has no plans."  # the first line that is no dateline
    doc.summary = [SummarySentence("The coalition met in Brussels.", [1])]
    assert title(doc) == "The coalition met in Brussels."  # the first unmarked key point
    doc.summary[0].flags = ["unsupported_number"]
    assert title(doc) == "Kerry said he has no plans."  # never a marked one


def test_a_watched_stream_starts_with_the_first_sentences(replicas, sample_ar):
    pipeline = load_pipeline(str(replicas["opus-mt"]), "none", backend="torch")
    filled = []
    for doc in pipeline.stream(sample_ar):
        filled.append({s.index for s in doc.segments if s.english is not None})
    first, second = [f for f in filled if f][:2]
    assert first == {0} and second == {0, 1}  # dateline, then lead; not the shortest ones
