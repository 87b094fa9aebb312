"""Checks of meaning (#32, the negation part): a sentence whose English says no where the
Arabic does not, or loses a negation, is marked "the meaning may be reversed", with the words
it rests on, first in every list; `khulasa check` runs every check on a translation made
elsewhere."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, reference_memory

from khulasa.models import checks
from khulasa.models.checks import arabic_negations, check_pair, english_negations
from khulasa.models.evidence import evidence

LEAD_AR = "وقال كيري إنه لا توجد لديه أي خطط للتنسيق مع إيران."


@pytest.mark.parametrize(
    "arabic, english, reversed_",
    [
        (LEAD_AR, "Kerry said he has no plans to coordinate with Iran.", False),
        (LEAD_AR, "Kerry said he has plans to coordinate with Iran.", True),  # lost
        ("قال كيري إنه سينسق مع إيران.", "Kerry said he will not coordinate with Iran.", True),
        ("لن نقبل أي حل لا يحترم السيادة.", "We will not accept any solution.", True),  # 2 -> 1
        (
            "لن نقبل أي حل لا يحترم السيادة.",
            "We won't accept a solution that does not respect sovereignty.",
            False,
        ),  # fmt: skip
        (
            "نفت الوزارة أن يكون الوزير قد التقى نظيره.",
            "The ministry denied that the minister met his counterpart.",
            False,
        ),  # fmt: skip
        (
            "نفت الوزارة أن يكون الوزير قد التقى نظيره.",
            "The ministry confirmed that the minister met his counterpart.",
            True,
        ),  # fmt: skip
        # Words that look negative and are not: still, especially, must, however, only.
        ("لا يزال النازحون في المخيمات.", "The displaced are still in the camps.", False),
        (
            "شاركت ستون دولة لا سيما دول الجوار.",
            "Sixty countries took part, especially the neighbours.",
            False,
        ),  # fmt: skip
        ("قال إنه لا بد من قطع التمويل.", "He said the funding must be cut.", False),
        ("غير أن الوزراء اتفقوا.", "However, the ministers agreed.", False),
        ("لم يبق إلا مئات السكان.", "Only hundreds of residents remained.", False),
        ("قالت إن الوضع غير مسبوق.", "She said the situation was unprecedented.", False),
        ("حالت الغارات دون سقوط المدينة.", "The strikes prevented the fall of the city.", False),
        ("حالت الغارات دون سقوط المدينة.", "The strikes caused the fall of the city.", True),
    ],
)
def test_a_reversed_negation_is_flagged_and_lookalikes_are_not(arabic, english, reversed_):
    assert (checks.NEGATION_MISMATCH in check_pair(arabic, english)) is reversed_


def test_the_evidence_names_the_words_and_their_gloss():
    english = "Kerry said he has plans to coordinate with Iran."
    flags = check_pair(LEAD_AR, english)
    assert flags == [checks.NEGATION_MISMATCH]
    said = evidence(LEAD_AR, english, flags)[checks.NEGATION_MISMATCH]
    assert said == "The Arabic says «لا» (no, not); the English has none."
    assert [w for w, _ in arabic_negations("ولم يقل ولن يفعل")] == ["ولم", "ولن"]
    assert english_negations("He didn't, and never will; no-fly zones aside.") == ["n't", "never"]
    added = evidence("قال كيري إنه سيذهب.", "Kerry said he will not go.",
                     [checks.NEGATION_MISMATCH])  # fmt: skip
    assert added[checks.NEGATION_MISMATCH] == "The Arabic has no negation; the English says “not”."


def test_the_reversed_meaning_is_the_most_harmful_warning_everywhere():
    from khulasa.models.document import Document, Paragraph, Segment, SummarySentence
    from khulasa.models.report import to_markdown
    from khulasa.serve.web.render import render_results

    assert checks.WARNINGS[0] == checks.NEGATION_MISMATCH
    assert checks.NEGATION_MISMATCH in checks.RETRY_FLAGS  # retried like a number mismatch
    segs = [
        Segment(0, "قال إن 8 دول شاركت.", "He said 18 countries took part.",
                [checks.NUMBER_MISMATCH]),
        Segment(1, LEAD_AR, "Kerry said he has plans to coordinate with Iran.",
                [checks.LOW_CONFIDENCE, checks.NEGATION_MISMATCH], -1.5),
    ]  # fmt: skip
    doc = Document([Paragraph(segs)])
    point = SummarySentence("Kerry said he has plans to coordinate with Iran.", [1])
    point.source_flags = checks.source_warnings([1], {s.index: s.flags for s in segs})
    doc.summary = [point]
    assert point.source_flags == [checks.NEGATION_MISMATCH, checks.LOW_CONFIDENCE]
    html = render_results(doc)
    check_list = html[html.index('class="kh-check-list"') :]
    assert check_list.index('data-sources="1"') < check_list.index('data-sources="0"')
    assert "the meaning may be reversed, the model was unsure" in check_list
    pair = html[html.index('data-seg="1"') :]
    assert pair.index("meaning may be reversed") < pair.index("model unsure")  # markers
    assert "«لا» (no, not)" in pair
    assert 'data-check="check: sentence 2: the meaning may be reversed' in html  # key point
    markdown = to_markdown(doc)
    listed = markdown[markdown.index("## Check these sentences") :]
    assert listed.index("- [2]") < listed.index("- [1]")
    assert "the meaning may be reversed" in listed
    assert doc.to_dict()["paragraphs"][0]["segments"][1]["flags"][1] == "negation_mismatch"


def test_a_reversed_lead_through_the_pipeline_is_marked_and_its_key_point_warns(replicas, tmp_path):
    from khulasa.eval.coverage_set import references
    from khulasa.models.factory import build_pipeline
    from khulasa.models.options import ModelOptions
    from khulasa.models.text import normalize

    text = (ROOT / "eval" / "data" / "brussels_ar.txt").read_text(encoding="utf-8")
    lines = (ROOT / "eval" / "data" / "brussels.sent.ar").read_text("utf-8").splitlines()
    refs = references()
    lead = normalize(lines[1])
    refs[lead] = refs[lead].replace("he has no plans", "he has plans")  # the planted fault
    models = ModelOptions(translator=str(replicas["opus-mt"]), summarizer="extractive")
    memory = reference_memory(models, tmp_path / "m.sqlite", [text], refs, -0.9)  # sure enough
    doc = build_pipeline(models.with_(memory=memory)).process(text)
    marked = {s.index: s.flags for s in doc.segments if s.flags}
    assert checks.NEGATION_MISMATCH in marked.pop(1)
    assert checks.LOW_CONFIDENCE not in doc.segments[1].flags  # the score alone says nothing
    assert not any(checks.NEGATION_MISMATCH in f for f in marked.values())  # the rest is clean
    resting = [s for s in doc.summary if 1 in s.sources]
    assert resting and all(s.source_flags[0] == checks.NEGATION_MISMATCH for s in resting)
    assert doc.meta["trust"]["flags"][checks.NEGATION_MISMATCH] == 1


def test_check_runs_every_check_on_a_translation_made_elsewhere(tmp_path, capsys):
    from khulasa.serve.cli import main

    source = ROOT / "eval" / "data" / "brussels.sent.ar"
    english = (ROOT / "eval" / "data" / "brussels.sent.en").read_text("utf-8").splitlines()
    english[1] = english[1].replace("he has no plans", "he has plans")
    theirs = tmp_path / "theirs.en"
    theirs.write_text("\n".join(english) + "\n", encoding="utf-8")
    assert main(["check", str(source), str(theirs)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("line 2: the meaning may be reversed: The Arabic says «لا»")
    assert "1 of 16 lines to check" in err
    assert main(["check", str(source), str(theirs), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["to_check"] == 1 and len(result["pairs"]) == 16
    assert result["pairs"][1]["flags"] == ["negation_mismatch"]
    assert "«لا»" in result["pairs"][1]["evidence"]["negation_mismatch"]
    clean = main(["check", str(source), str(ROOT / "eval" / "data" / "brussels.sent.en")])
    assert clean == 0 and "0 of 16 lines to check" in capsys.readouterr().err
    short = tmp_path / "short.en"
    short.write_text("One line.\n", encoding="utf-8")
    assert main(["check", str(source), str(short)]) == 2
    assert "align them" in capsys.readouterr().err


# Sources that agree, and sources that disagree (the coverage digest) -------------------------


def _digest(replicas, tmp_path, lead=None, report=None, headline=None):
    """The coverage example's digest, the Arabic answered by a memory of the team's English
    (the lead's English replaced by `lead`), the English report's text edited by `report`."""
    from khulasa.eval.coverage_set import records, references
    from khulasa.models.digest.build import DigestInput, make_digest
    from khulasa.models.factory import build_pipeline
    from khulasa.models.options import ModelOptions
    from khulasa.models.text import normalize

    lines = (ROOT / "eval" / "data" / "brussels.sent.ar").read_text("utf-8").splitlines()
    refs = references()
    if lead is not None:
        refs[normalize(lines[1])] = lead(refs[normalize(lines[1])])
    if headline is not None:  # Outlet B's own headline (the coverage set's "added" sentences)
        added = (ROOT / "eval" / "data" / "coverage" / "added.sent.ar").read_text("utf-8")
        key = normalize(added.splitlines()[0])
        refs[key] = headline(refs[key])
    recs = records()
    for r in recs:
        if r["id"] == "report-en" and report is not None:
            r["text"] = report(r["text"])
    models = ModelOptions(translator=str(replicas["opus-mt"]), summarizer="extractive")
    arabic = [r["text"] for r in recs if r["id"] != "report-en"]
    memory = reference_memory(models, tmp_path / "m.sqlite", arabic, refs)
    inputs = [DigestInput(r["id"], r["text"], outlet=r.get("outlet")) for r in recs]
    return make_digest(build_pipeline(models.with_(memory=memory)), inputs, points=6)


def test_the_clean_coverage_has_no_disagreement(replicas, tmp_path):
    digest = _digest(replicas, tmp_path)
    assert digest.disagreements == []
    assert [k.corroboration for k in digest.key_points[:4]] == [2, 2, 2, 2]


def test_a_reversed_source_is_a_disagreement_not_corroboration(replicas, tmp_path):
    import jsonschema

    from khulasa.models.digest.build import SCHEMA
    from khulasa.models.digest.report import to_markdown
    from khulasa.serve.web.render_digest import render_digest

    digest = _digest(replicas, tmp_path, lead=lambda e: e.replace("no plans", "plans"))
    lead = next(k for k in digest.key_points if ("report-en", 2) in k.sources)
    assert lead.corroboration == 1  # the report that says "no plans" does not corroborate it
    assert [(d, s, what) for d, s, what in lead.disagree] == [("report-en", 2, ["negation"])]
    assert "sources_disagree" in lead.flags
    data = json.loads(digest.to_json())
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text("utf-8"))).validate(data)
    [found] = data["disagreements"]
    assert found["kind"] == "sources" and found["differs"] == ["negation"]
    assert "he has plans" in found["sentences"][0]["text"]
    assert "he had no plans" in found["sentences"][1]["text"]
    markdown = to_markdown(digest)
    assert markdown.index("## Sources disagree") < markdown.index("## Key points")
    assert "Key point 1: the sources disagree (negation)" in markdown
    assert "he has plans" not in markdown.splitlines()[0]  # the title is no marked sentence
    html = render_digest(digest)
    assert html.index('id="kh-disagree"') < html.index('class="kh-points"')
    assert "Sources disagree (negation): reported as shown by 1 source" in html


def test_other_numbers_in_one_report_are_a_disagreement(replicas, tmp_path):
    digest = _digest(
        replicas, tmp_path,
        lead=lambda e: e.replace("coalition countries", "60 coalition countries"),
        report=lambda t: t.replace("coordinate with Iran", "coordinate with Iran, 62 countries"),
    )  # fmt: skip
    lead = next(k for k in digest.key_points if ("report-en", 2) in k.sources)
    assert lead.corroboration == 1
    assert lead.disagree[0][2] == ["numbers: 60 / 62"]


# A name written two ways in one article -------------------------------------------------------


def test_one_arabic_name_written_two_ways_is_found_and_lookalikes_are_not():
    from khulasa.models.names import name_variants

    pairs = [
        ("قال كيري إن التحالف متحد.", "Kerry said the coalition is united."),
        ("وأضاف كيري أن التنظيم يخسر.", "Kerry added that the group is losing."),
        ("وأكد كيري دعم المعارضة.", "Kerri stressed support for the opposition."),
        ("وقصفت إيران مواقع في العراق.", "Iran struck positions in Iraq."),
        (
            "التقى الأمين العام أنطونيو غوتيريش الوزراء.",
            "The Secretary-General Antonio Guterres met the ministers.",
        ),  # fmt: skip
        (
            "وزار الوزير الأميركي أنتوني بلينكن القاهرة.",
            "The US secretary Antony Blinken visited Cairo.",
        ),  # fmt: skip
    ]
    [found] = name_variants(pairs)
    assert found == {"arabic": "كيري", "used": "Kerry", "variants": {"Kerri": [2], "Kerry": [0, 1]}}


def _brussels_third_as(replicas, tmp_path, old: str, new: str):
    """The example through the pipeline, its memory holding the team's English with `old`
    replaced by `new` in sentence 3 ("Kerry added that the conference was not concerned...")."""
    from khulasa.eval.coverage_set import references
    from khulasa.models.factory import build_pipeline
    from khulasa.models.options import ModelOptions
    from khulasa.models.text import normalize

    text = (ROOT / "eval" / "data" / "brussels_ar.txt").read_text(encoding="utf-8")
    lines = (ROOT / "eval" / "data" / "brussels.sent.ar").read_text("utf-8").splitlines()
    refs = references()
    third = normalize(lines[2])
    refs[third] = refs[third].replace(old, new)
    models = ModelOptions(translator=str(replicas["opus-mt"]), summarizer="extractive")
    memory = reference_memory(models, tmp_path / "m.sqlite", [text], refs, -0.3)
    return build_pipeline(models.with_(memory=memory)).process(text)


def test_a_name_written_otherwise_in_one_sentence_is_marked_with_both_renderings(
    replicas, tmp_path
):
    from khulasa.serve.web.render import render_results

    doc = _brussels_third_as(replicas, tmp_path, "Kerry", "Kerri")
    flagged = [s.index for s in doc.segments if checks.NAME_MISMATCH in s.flags]
    assert flagged == [2]
    [name] = doc.meta["names"]
    assert name["arabic"] == "كيري" and name["used"] == "Kerry" and name["variants"]["Kerri"] == [2]
    html = render_results(doc)
    assert "«كيري» is “Kerri” here and “Kerry” in" in html
    assert "a name differs" in html[html.index('class="kh-check-list"') :]
    assert doc.to_dict()["meta"]["names"] == doc.meta["names"]


def test_a_name_the_english_leaves_out_is_flagged_where_the_article_renders_it():
    from khulasa.models.names import missing_names

    pairs = [
        ("قال كيري إن التحالف متحد.", "Kerry said the coalition is united."),
        ("وأضاف كيري أن التنظيم يخسر.", "He added that the group is losing."),  # no Kerry
        ("وقصفت الطائرات الإيرانية مواقع.", "Iranian jets struck positions."),
        ("وقالت إيران إنها لم تنسق.", "Iran said it did not coordinate."),  # Iranian/Iran
        ("وأكدت الحكومة العراقية ذلك.", "The Iraqi government confirmed it."),
        ("وزار الوفد العراق.", "The delegation visited Iraq."),
        ("التقى الوزراء في بروكسل.", "The ministers met in Brussels."),
        ("واجتمع الوزراء في المدينة.", "The ministers met in the city."),  # no name either side
    ]
    [found] = missing_names(pairs)
    assert found == {"arabic": "كيري", "used": "Kerry", "variants": {"Kerry": [0]}, "missing": [1]}
    # `khulasa check` reads its lines as one article: the same flag and words.
    from khulasa.serve.check_cli import check_lines

    lines = check_lines([a for a, _ in pairs], [e for _, e in pairs])
    assert [line["flags"] for line in lines] == [[], [checks.NAME_MISMATCH]] + [[]] * 6
    assert lines[1]["evidence"][checks.NAME_MISMATCH] == (
        "The Arabic names «كيري», “Kerry” in 1 other sentence; this sentence's English does not."
    )


def test_a_left_out_name_through_the_pipeline_is_marked_with_its_rendering(replicas, tmp_path):
    from khulasa.serve.web.render import render_results

    doc = _brussels_third_as(replicas, tmp_path, "Kerry added", "He added")
    assert [s.index for s in doc.segments if checks.NAME_MISMATCH in s.flags] == [2]
    [name] = doc.meta["names"]
    assert name["arabic"] == "كيري" and name["missing"] == [2]
    html = render_results(doc)
    assert "The Arabic names «كيري», “Kerry” in" in html
    assert "this sentence&#39;s English does not." in html


def test_a_name_the_sources_write_two_ways_is_marked_across_the_digest(replicas, tmp_path):
    import jsonschema

    from khulasa.models.digest.build import SCHEMA
    from khulasa.models.document import Document, Paragraph, Segment
    from khulasa.models.names import flag_names_across, name_evidence

    def doc(pairs):
        return Document([Paragraph([Segment(k, a, e) for k, (a, e) in enumerate(pairs)])])

    one = doc(
        [
            ("قال كيري إن التحالف متحد.", "Kerry said the coalition is united."),
            ("وأضاف كيري أن التنظيم يخسر.", "Kerry added that the group is losing."),
            ("وأكد كيري دعم المعارضة.", "Kerry stressed support for the opposition."),
        ]
    )
    other = doc(
        [
            ("قال كيري إن الضربات مستمرة.", "Kerri said the strikes go on."),
            ("وأضاف كيري أن إيران لم تنسق.", "Kerri added that Iran did not coordinate."),
        ]
    )
    [found] = flag_names_across([one, other])
    assert found["used"] == "Kerry" and found["variants"]["Kerri"] == [(1, 0), (1, 1)]
    assert [s.flags for s in one.segments] == [[], [], []]
    assert [s.flags for s in other.segments] == [[checks.NAME_MISMATCH]] * 2
    said = name_evidence(1, other.meta["names"])
    assert said == "«كيري» is “Kerri” here and “Kerry” in 3 sentences of the other sources."

    # Through the digest: the coverage example with Outlet B's headline written "Kerri".
    digest = _digest(replicas, tmp_path, headline=lambda e: e.replace("Kerry", "Kerri"))
    data = json.loads(digest.to_json())
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text("utf-8"))).validate(data)
    [name] = data["meta"]["names"]
    assert name["used"] == "Kerry" and name["variants"]["Kerri"] == [["copy-headline", 0]]
    point = next(k for k in digest.key_points if ("copy-headline", 0) in k.sources)
    assert checks.NAME_MISMATCH in point.flags
    markdown = digest.to_markdown()
    assert "## Names written two ways" in markdown and "“Kerri” in [copy-headline 1]" in markdown
    from khulasa.serve.web.render_digest import render_digest

    assert "Names written two ways" in render_digest(digest)
