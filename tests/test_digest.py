"""The coverage digest on the constructed coverage set (khulasa.eval.coverage_set): the sample
article, three copies of it (new headline, trimmed, two sentences added), an English report
on the same meeting and an unrelated Arabic article. Replica models translate through a
sentence memory that holds the team's English, so the English side reads as real news."""

from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import reference_memory
from markupsafe import escape

from khulasa.eval.coverage_set import records, references
from khulasa.models.digest.build import SCHEMA, DigestInput, DigestLimits, make_digest
from khulasa.models.errors import InputError
from khulasa.models.factory import build_pipeline
from khulasa.models.options import ModelOptions

COPIES = ["akhbar-alaan", "copy-headline", "copy-trimmed", "copy-added"]


def inputs(recs=None) -> list[DigestInput]:
    return [
        DigestInput(r["id"], r["text"], outlet=r.get("outlet"), date=r.get("date"))
        for r in (recs or records())
    ]


@pytest.fixture(scope="module")
def models(replicas, tmp_path_factory) -> ModelOptions:
    """Replica translator behind a memory of the team's English for the set's sentences."""
    path = tmp_path_factory.mktemp("memory") / "memory.sqlite"
    models = ModelOptions(translator=str(replicas["opus-mt"]), summarizer="extractive")
    arabic = [r["text"] for r in records() if r["id"] != "report-en"]
    return models.with_(memory=reference_memory(models, path, arabic, references()))


@pytest.fixture(scope="module")
def digest(models):
    return make_digest(build_pipeline(models), inputs(), points=16)


def english(digest, doc_id: str, segment: int) -> str:
    return digest.document(doc_id).document.segments[segment].english


def test_the_copies_are_one_story_with_four_outlets(digest):
    stories = digest.to_dict()["stories"]
    assert stories[0]["documents"] == COPIES
    assert stories[0]["outlets"] == ["Akhbar Al-Aan", "Outlet B", "Outlet C", "Outlet D"]
    assert [s["documents"] for s in stories[1:]] == [["report-en"], ["unrelated"]]


def test_what_each_document_adds_is_listed_as_only_in_it(digest):
    added = [english(digest, "copy-added", i) for i in digest.document("copy-added").only_in]
    assert added == [
        "In Baghdad, the Iraqi government welcomed the results of the meeting and called on "
        "the participating countries to speed up the delivery of weapons to the Iraqi army.",
        "A European diplomat said that the ministers agreed to hold a new meeting of the "
        "coalition early next year.",
    ]
    report = digest.document("report-en")
    own = [english(digest, "report-en", i) for i in report.only_in]
    assert any("NATO headquarters" in s for s in own)
    assert any("Some 60 countries" in s for s in own)
    assert any("training and equipment" in s for s in own)
    # What the English report shares with the wire is not "only in" it.
    assert not any("no plans to coordinate with Iran" in s for s in own)
    assert not any("Pentagon" in s for s in own)
    # Copies add nothing of their own (a new headline that restates the lead is no news).
    assert digest.document("akhbar-alaan").only_in == []
    assert digest.document("copy-trimmed").only_in == []


def test_restated_headlines_and_datelines_are_not_what_an_article_alone_reports(digest):
    # Outlet B's new headline restates the story's lead; "Rabat (agencies)" reports nothing.
    assert digest.document("copy-headline").only_in == []
    assert 0 not in digest.document("unrelated").only_in
    assert digest.document("unrelated").only_in == [1, 2, 3, 4]


def test_the_wire_agency_is_read_from_the_dateline(digest):
    from khulasa.models.digest.coverage import wire_agency

    stories = digest.to_dict()["stories"]
    assert [s["agency"] for s in stories] == ["AFP", None, None]
    assert "| 1 | AFP wire via 4 outlets: Akhbar Al-Aan, Outlet B, Outlet C, Outlet D |" in (
        digest.to_markdown()
    )
    assert wire_agency(["LONDON (Reuters) - Ministers met ..."]) == "Reuters"
    assert wire_agency(["بيروت (رويترز) - قال"]) == "Reuters"
    assert wire_agency(["قال الوزير إن الاجتماع ..."]) is None


def test_the_page_shows_who_reports_which_key_point(digest):
    from khulasa.serve.web.render_digest import render_digest

    html = render_digest(digest)
    grid = html[html.index('<table class="kh-grid">') : html.index("</table>")]
    assert '<th scope="col" title="Outlet E">Outlet E</th>' in grid and "Outlet F" not in grid
    assert "the one closest to what the others report" in html  # how, in a reader's words
    assert "central" not in html and "extractive" not in html
    columns = 5  # the six articles but the off-topic one
    for n, point in enumerate(digest.key_points, start=1):
        # Each row names its key point in words (the first of them; all in its title).
        head = f'<th scope="row" title="{escape(point.text)}">{n}. '
        row = grid[grid.index(head) :].split("</tr>")[0]
        cited = {doc: s for doc, s in point.sources}
        assert row.count("<td>–</td>") == columns - len(cited)  # a dash where it is not
        for doc, s in cited.items():
            k = [d.input.id for d in digest.documents if "off_topic" not in d.flags].index(doc)
            assert row.split("<td>")[k + 1].startswith(f"{s + 1}</td>")  # its sentence


def test_outlets_cut_from_long_file_names_stay_apart():
    from khulasa.serve.web.render_digest import NAME_CHARS, short_names

    names = [f"2014-12-03-coalition-meeting-brussels-{k}.txt" for k in
             ("akhbar-alaan", "copy-headline", "copy-trimmed", "report-en")]  # fmt: skip
    assert short_names(names) == ["akhbar-alaan", "copy-headline", "copy-trimmed", "report-en"]
    long = [f"a-very-long-outlet-name-that-runs-on-and-on-{k}" for k in (1, 2)] + ["Outlet E"]
    shown = short_names(long)
    assert len(set(shown)) == 3 and all(len(n) <= NAME_CHARS + 1 for n in shown)
    assert short_names(["same", "same"]) == ["same", "same (2)"]


def test_every_provenance_pair_points_at_a_real_segment(digest):
    assert digest.key_points
    for point in digest.key_points:
        for doc_id, segment in point.sources:
            segments = digest.document(doc_id).document.segments
            assert 0 <= segment < len(segments)
        # Extractive: the key point is the first source's English, word for word.
        assert point.text == english(digest, *point.sources[0])


def test_the_unrelated_article_shares_no_key_point(digest):
    unrelated = digest.document("unrelated")
    assert unrelated.flags == ["off_topic"]
    for point in digest.key_points:
        assert "unrelated" not in {d for d, _ in point.sources}
    assert digest.meta["counts"]["off_topic"] == 1


def test_corroboration_counts_stories_not_copies(digest):
    story = {d.input.id: d.story for d in digest.documents}
    in_all_copies = [p for p in digest.key_points if set(COPIES) <= {d for d, _ in p.sources}]
    assert in_all_copies
    for point in in_all_copies:
        ids = {d for d, _ in point.sources}
        assert point.corroboration == len({story[d] for d in ids}) == 1 + ("report-en" in ids)
        assert point.documents == len(ids)
    kerry = next(p for p in digest.key_points if "no plans to coordinate with Iran" in p.text)
    assert (kerry.corroboration, kerry.documents) == (2, 5)
    # Ranked by corroboration first.
    ranks = [p.corroboration for p in digest.key_points]
    assert ranks == sorted(ranks, reverse=True)


def test_english_documents_pass_through_untranslated(digest):
    report = digest.document("report-en")
    assert report.language == "en"
    assert all(s.english == s.source for s in report.document.segments)
    assert report.document.meta["translator"]["model"] == "none"


def test_the_json_follows_its_schema_and_the_markdown_cites(digest):
    data = json.loads(digest.to_json())
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text("utf-8"))).validate(data)
    text = digest.to_markdown()
    assert "\n### Only in Outlet D (copy-added)\n" in text
    assert "**2 stories**, 5 documents: [akhbar-alaan 2] [copy-headline 3]" in text
    assert "[report-en 3]" in text  # the English report's sentence, cited 1-based


def test_bad_documents_get_their_own_errors_and_the_rest_goes_on(models):
    good = records()[:2]
    items = inputs(good) + [
        DigestInput("empty", "   \n"),
        DigestInput("akhbar-alaan", good[0]["text"]),  # the id again
        DigestInput("french", "Le ministre a déclaré mardi que la réunion de la coalition " * 3),
        DigestInput("chinese", "联盟会议在布鲁塞尔举行，外长们讨论了打击极端组织的措施。"),
        DigestInput("long", good[0]["text"] * 3),
        DigestInput("<b>odd</b>", "\ud800 كلمة"),
    ]
    digest = make_digest(build_pipeline(models), items, limits=DigestLimits(max_chars=5_000))
    codes = {d.input.id: getattr(d.input.error, "code", None) for d in digest.documents}
    assert codes == {
        "akhbar-alaan": "duplicate_id",  # the later one; the first is read
        "copy-headline": None,
        "empty": "empty_input",
        "french": "unsupported_language",
        "chinese": "unsupported_language",
        "long": "too_long",
        "<b>odd</b>": "invalid_unicode",
    }
    assert digest.documents[0].document is not None  # the first akhbar-alaan
    assert digest.to_dict()["stories"][0]["documents"] == ["akhbar-alaan", "copy-headline"]
    text = digest.to_markdown()
    assert "## Left out" in text and "&lt;b&gt;odd&lt;/b&gt;" in text and "<b>" not in text


def test_no_documents_or_too_many_is_one_clear_error(models):
    pipeline = build_pipeline(models)
    with pytest.raises(InputError, match="No documents") as err:
        make_digest(pipeline, [])
    assert err.value.code == "no_documents"
    with pytest.raises(InputError, match="at most 3") as err:
        make_digest(pipeline, inputs(), limits=DigestLimits(max_docs=3))
    assert err.value.code == "too_many_documents"
    with pytest.raises(InputError, match="characters together"):
        make_digest(pipeline, inputs(), limits=DigestLimits(max_total=1_000))


def test_a_digest_without_key_points_says_why_true_to_its_counts(models):
    from khulasa.serve.web.render_digest import render_digest

    digest = make_digest(build_pipeline(models), [DigestInput("short", "قال كيري.")])
    assert digest.meta["counts"]["read"] == 1 and not digest.key_points
    text = digest.to_markdown()
    assert "no document could be read" not in text  # it was read: 1 of 1
    assert "no sentence of the document read has the 4 content words" in text
    assert "no sentence of the document read" in render_digest(digest)
    nothing = make_digest(build_pipeline(models), [DigestInput("empty", "  ")])
    assert "No key points: no document could be read." in nothing.to_markdown()


def test_a_sentence_in_many_documents_is_translated_once(models):
    """Wire copies repeat sentences: each distinct one goes to the model once."""
    pipeline = build_pipeline(models.with_(memory=None))
    calls: list[list[str]] = []
    translate_iter = pipeline.translator.translate_iter

    def spy(texts, *args, **kw):
        calls.append(list(texts))
        return translate_iter(texts, *args, **kw)

    pipeline.translator.translate_iter = spy
    article = records()[0]["text"]
    first, second = pipeline.process_many([article, article], summary=False)
    assert len(calls[0]) == len(first.segments)  # the first try: each sentence once
    for texts in calls:  # second tries (flagged replica output) too
        assert len(texts) == len(set(texts))
    assert [s.english for s in first.segments] == [s.english for s in second.segments]


def test_abstractive_key_points_keep_provenance_and_checks(models, replicas):
    pipeline = build_pipeline(models.with_(summarizer=str(replicas["distilbart-cnn"])))
    digest = make_digest(pipeline, inputs(), points=3)
    assert digest.meta["key_points"]["mode"] == "abstractive"
    assert len(digest.key_points) == 3
    for point in digest.key_points:
        assert point.text.strip()
        assert point.sources and point.corroboration >= 1
        assert set(point.flags) <= {"unsupported_number", "unsupported_name"}
    assert "Written by the model" in digest.to_markdown()
