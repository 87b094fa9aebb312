"""Trust signals: each check on a real-looking pair, the model's confidence from both
backends, the second try, and the signals where readers look."""

import pytest
from conftest import ROOT

from khulasa.models import checks
from khulasa.models.checks import EXPLANATIONS, check_pair, check_summary, numbers
from khulasa.models.document import Document
from khulasa.models.factory import load_pipeline, load_translator
from khulasa.models.pipeline import segment
from khulasa.models.report import to_markdown

# (Arabic, English, the flag it must raise): real-looking faults of neural MT.
EXAMPLES = [
    (
        "قال وزير الدفاع إن 25 جنديا قتلوا في الهجوم قرب الحدود.",
        "The defence minister said 35 soldiers were killed in the attack near the border.",
        checks.NUMBER_MISMATCH,
    ),
    (
        "أعلنت وزارة الصحة تسجيل ٣٤٢ إصابة جديدة خلال الساعات الأربع والعشرين الماضية.",
        "The health ministry announced new infections in the past day.",
        checks.NUMBER_MISMATCH,
    ),
    (
        "أكد الرئيس الفرنسي إيمانويل ماكرون أن بلاده ستواصل دعم أوكرانيا.",
        "French President Emmanuel ماكرون stressed that his country will continue to support "
        "Ukraine.",
        checks.UNTRANSLATED,
    ),
    (
        "دعا مجلس الأمن الدولي إلى وقف فوري للأعمال القتالية في السودان.",
        "The Security Council called for an immediate immediate immediate immediate cessation of "
        "hostilities.",
        checks.REPETITION,
    ),
    (
        "قال رئيس الوزراء العراقي إن القوات الأمنية استعادت السيطرة على ثلاث قرى شمال الموصل.",
        "The Iraqi prime minister said the security forces",
        checks.LENGTH_RATIO,
    ),
    (
        "وقال المتحدث باسم الأمم المتحدة: «نحن قلقون جدا من تدهور الوضع الإنساني في المدينة».",
        "The UN spokesman said they were very concerned about the humanitarian situation in the "
        "city.",
        checks.QUOTE_MISMATCH,
    ),
]
CLEAN = [
    (
        "ارتفعت أسعار النفط بنسبة 3.5 في المئة لتصل إلى 84 دولارا للبرميل يوم الخميس.",
        "Oil prices rose by 3.5 percent to reach 84 dollars a barrel on Thursday.",
    ),
    (
        "وصل نحو خمسة آلاف لاجئ إلى الجزيرة منذ مطلع الشهر، وفق المفوضية.",
        "About 5,000 refugees have arrived on the island since the start of the month, according "
        "to the agency.",
    ),
    (
        "في 23 سبتمبر أسقطت طائرات F-4 ثلاثة عشر هدفا يوم الاثنين.",
        "On 23 September, F-4 jets brought down thirteen targets on Monday.",
    ),
]


@pytest.mark.parametrize("source, english, flag", EXAMPLES, ids=[e[2] for e in EXAMPLES])
def test_each_check_flags_its_fault_and_explains_it(source, english, flag):
    flags = check_pair(source, english)
    print(f"\n{flag}: {source}\n  -> {english}\n  flags {flags}: {EXPLANATIONS[flag]}")
    assert flag in flags
    assert EXPLANATIONS[flag] and "\n" not in EXPLANATIONS[flag]


@pytest.mark.parametrize("source, english", CLEAN)
def test_faithful_translations_are_not_flagged(source, english):
    assert check_pair(source, english) == []


def test_numbers_compare_by_value_in_every_writing():
    assert numbers("٣٤٢ و۱۲ و3٫5 و1٬500 وخمسة وعشرون وثلاثمائة وألفين", arabic=True) == {
        342.0,
        12.0,
        3.5,
        1500.0,
        25.0,
        300.0,
        2000.0,
    }
    assert numbers("twenty-five, three hundred, 1,500 and 3.5 million", arabic=False) == {
        25.0,
        300.0,
        1500.0,
        3_500_000.0,
    }
    assert numbers("يوم الاثنين، أحد المسؤولين، آلاف الأشخاص، 20 في المئة", arabic=True) == {20.0}


def test_summary_numbers_and_names_must_come_from_the_translation():
    sources = ["Kerry said 60 countries took part in the meeting in Brussels."]
    assert check_summary("Kerry said 60 countries met in Brussels.", sources, sources) == []
    assert checks.UNSUPPORTED_NUMBER in check_summary(
        "Kerry said 70 countries met.", sources, sources
    )
    assert checks.UNSUPPORTED_NAME in check_summary(
        "Lavrov said 60 countries met.", sources, sources
    )


@pytest.mark.parametrize("preset", ["opus-mt-tc-big", "opus-mt"])
def test_torch_and_ct2_scores_agree(replicas, sample_ar, preset):
    sentences = [s.source for s in segment(sample_ar).segments]
    torch_tr = load_translator(str(replicas[preset]), beams=1, backend="torch")
    ct2_tr = load_translator(str(replicas[preset]), beams=1, backend="ct2", compute_type="float32")
    # One sentence a batch, so each decodes to its own cap on both backends.
    torch_scores = [torch_tr.translate_nbest([s])[0].score for s in sentences]
    ct2_scores = [ct2_tr.translate_nbest([s])[0].score for s in sentences]
    assert all(s < 0 for s in torch_scores)
    # Stated tolerance: 0.01 nats per token.
    assert torch_scores == pytest.approx(ct2_scores, abs=0.01)


def test_flagged_sentences_get_one_second_try(replicas, sample_ar, monkeypatch):
    from khulasa.models.translate import TorchTranslator

    calls = []
    real = TorchTranslator.translate_nbest

    def counting(self, texts, n=1, retry=False):
        calls.append(retry)
        return real(self, texts, n, retry)

    monkeypatch.setattr(TorchTranslator, "translate_nbest", counting)
    doc = load_pipeline(str(replicas["opus-mt"]), "none", backend="torch").process(sample_ar)
    # Random replica output keeps Arabic pieces in its English: every sentence is flagged,
    # retried once (one more pass of batches), and says so.
    assert all(checks.RETRIED in s.flags and checks.UNTRANSLATED in s.flags for s in doc.segments)
    assert calls.count(True) >= 1 and calls.count(True) <= calls.count(False)
    assert all(s.flags.count(checks.RETRIED) == 1 for s in doc.segments)
    assert all(isinstance(s.score, float) for s in doc.segments)
    trust = doc.meta["trust"]
    assert trust["to_check"] == 16 and trust["flags"][checks.RETRIED] == 16


def test_signals_reach_json_markdown_and_batch(replicas, sample_ar, tmp_path):
    doc = load_pipeline(str(replicas["opus-mt"]), "extractive", backend="torch").process(sample_ar)
    data = doc.to_dict()
    first = data["paragraphs"][0]["segments"][0]
    assert isinstance(first["score"], float) and checks.LOW_CONFIDENCE in first["flags"]
    assert Document.from_dict(data).to_dict() == data
    md = to_markdown(doc)
    assert "## Check these sentences" in md
    first_line = next(line for line in md.splitlines() if line.startswith("- [1] "))
    assert "the model was unsure: Model confidence: low (score " in first_line  # 1-based
    from test_batch import options, read_lines

    from khulasa.serve.batch.local import run_batch

    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "قال كيري إن 60 دولة شاركت."}\n', encoding="utf-8")
    stats = run_batch(options(replicas, [src], tmp_path / "out.jsonl"))
    assert "to check: 1 of 1 sentences" in stats.line() and "low_confidence 1" in stats.line()
    assert read_lines(tmp_path / "out.jsonl")[0]["document"]["meta"]["trust"]["to_check"] == 1


def test_checks_can_be_turned_off_for_measuring(replicas, sample_ar):
    pipeline = load_pipeline(str(replicas["opus-mt"]), "none", backend="torch")
    pipeline.checks = False
    doc = pipeline.process(sample_ar)
    assert not any(f in EXPLANATIONS for s in doc.segments for f in s.flags)
    pipeline.checks = True


def test_eval_trust_meets_its_targets(capsys):
    import json

    from khulasa.serve.cli import main

    assert main(["eval", "trust", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["data"]["pairs"] == 88 and len(result["data"]["sha256"]) == 64
    for flag, r in result["checks"].items():
        assert r["fault_cases"] >= 8, flag
        assert r["recall"] >= r["recall_target"] >= 0.9, (flag, r)
        assert r["false_flag_rate"] <= 0.05, (flag, r)
    assert result["clean_with_any_flag"] <= 0.05


def _reader_doc(replicas, tmp_path, score: float):
    """The example through the extractive summariser, every sentence answered by a memory
    holding the team's English at `score` (under -1.2: every sentence low_confidence)."""
    from conftest import reference_memory

    from khulasa.eval.coverage_set import references
    from khulasa.models.factory import build_pipeline
    from khulasa.models.options import ModelOptions

    text = (ROOT / "eval" / "data" / "brussels_ar.txt").read_text(encoding="utf-8")
    models = ModelOptions(translator=str(replicas["opus-mt"]), summarizer="extractive")
    memory = reference_memory(models, tmp_path / f"m{score}.sqlite", [text], references(), score)
    return build_pipeline(models.with_(memory=memory)).process(text)


def test_key_points_carry_the_warnings_of_the_sentences_they_rest_on(replicas, tmp_path):
    from khulasa.serve.web.render import render_results

    clean = _reader_doc(replicas, tmp_path, -0.3)
    assert clean.summary and all(s.source_flags == [] for s in clean.summary)
    html = render_results(clean)
    assert "check its sources" not in html and "unreliable" not in html

    unsure = _reader_doc(replicas, tmp_path, -3.0)  # the finding: all 16 flagged, points clean
    assert [seg.flags for seg in unsure.segments].count([]) == 0
    for s in unsure.summary:
        assert s.source_flags == [checks.LOW_CONFIDENCE]
    data = unsure.to_dict()
    assert data["summary"][0]["source_flags"] == ["low_confidence"]
    assert Document.from_dict(data).to_dict() == data
    first = unsure.summary[0]
    n = first.sources[0] + 1
    assert f"\\[check: sentence {n}: the model was unsure\\]" in to_markdown(unsure)
    html = render_results(unsure)
    assert html.count('class="kh-point kh-marked"') == len(unsure.summary)
    assert f'data-check="check: sentence {n}: the model was unsure' in html
    assert "16 of 16 sentences are marked:</strong> the translation of this article" in html
    assert html.count('aria-label="Go to sentence ') == 16  # "Check these sentences"


def test_the_check_note_names_each_marked_source_and_its_reasons():
    from khulasa.models.document import Paragraph, Segment, SummarySentence
    from khulasa.models.report import check_note

    segs = [
        Segment(0, "أ", "A.", []),
        Segment(4, "ب", "B 18.", [checks.NUMBER_MISMATCH, checks.LOW_CONFIDENCE]),
        Segment(6, "ج", "C.", [checks.RETRIED, checks.QUOTE_MISMATCH]),
    ]
    doc = Document([Paragraph(segs)])
    point = SummarySentence("B and C.", [0, 4, 6])
    point.source_flags = checks.source_warnings(point.sources, {s.index: s.flags for s in segs})
    assert point.source_flags == [
        checks.NUMBER_MISMATCH,
        checks.QUOTE_MISMATCH,
        checks.LOW_CONFIDENCE,
    ]
    assert check_note(point, doc) == (
        "check: sentence 5: a number differs, the model was unsure; "
        "sentence 7: a quotation was lost"
    )
    assert check_note(SummarySentence("A.", [0]), doc) == ""


def test_a_marked_sentence_shows_its_evidence_and_the_status_links_to_the_list():
    from khulasa.models.document import Paragraph, Segment
    from khulasa.serve.web.render import render_results, render_status

    arabic = "قال كيري إن 8 دول شاركت في اجتماع عام 2014."
    english = "Kerry said 18 countries took part in a 2014 meeting."
    assert check_pair(arabic, english, None) == [checks.NUMBER_MISMATCH]
    doc = Document([Paragraph([Segment(0, arabic, english, [checks.NUMBER_MISMATCH], -0.2)])])
    doc.meta["trust"] = {"to_check": 1}
    html = render_results(doc)
    assert "Arabic 8, English 18." in html  # which number, not only "check numbers"
    assert '<div class="kh-pair kh-marked"' in html and 'id="kh-check"' in html
    status = render_status(doc, "Done:", "done")
    assert "1 to check (marked)" in status and 'href="#kh-check"' in status
    clean = Document([Paragraph([Segment(0, arabic, "Kerry said 8 countries met in 2014.", [])])])
    assert 'href="#kh-check"' not in render_status(clean, "Done:", "done")
    assert "kh-marked" not in render_results(clean)
