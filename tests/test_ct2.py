"""The ct2 backend against the torch reference, on every preset's replica."""

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from test_summarize import english_segments, greedy_summarizer

from khulasa.models.env import khulasa_home
from khulasa.models.errors import OptionError
from khulasa.models.factory import load_pipeline, load_translator, pick_backend
from khulasa.models.pipeline import segment


def test_the_first_ct2_use_says_it_converts_and_how_long(replicas, capsys):
    from khulasa.models.ct2 import converted_dir
    from khulasa.models.loading import find, load_seq2seq

    loaded = load_seq2seq(*find(str(replicas["opus-mt"]), "translator"), "cpu", weights=False)
    converted_dir(loaded, "int8")  # this test's own KHULASA_HOME: converted here
    err = capsys.readouterr().err
    assert "converting" in err and "once:" in err and " MiB, about " in err, err
    assert str(khulasa_home() / "ct2") in err and "converted in" in err
    converted_dir(loaded, "int8")  # kept: not a word the second time
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("preset", ["opus-mt-tc-big", "opus-mt", "nllb-600m"])
def test_ct2_float32_greedy_equals_torch_greedy(replicas, sample_ar, preset):
    sentences = [s.source for s in segment(sample_ar).segments]
    torch_out = load_translator(str(replicas[preset]), beams=1, backend="torch").translate(
        sentences
    )
    ct2 = load_translator(str(replicas[preset]), beams=1, backend="ct2", compute_type="float32")
    assert ct2.translate(sentences) == torch_out


def test_ct2_bart_float32_greedy_equals_torch_greedy(replicas):
    texts = [" ".join(t for _, t in english_segments()[i : i + 4]) for i in (0, 4, 8)]
    torch_sum = greedy_summarizer(replicas)
    ct2 = greedy_summarizer(replicas, "ct2", compute_type="float32")
    assert ct2.generate(texts) == torch_sum.generate(texts)
    # The same min_length clamp on both backends: with the output limit below the model's
    # min_length, both write the clamped length, not the impossible one.
    for s in (torch_sum, ct2):
        s.output_limit = 40
    assert ct2.min_length == torch_sum.min_length == 20
    assert ct2.generate(texts) == torch_sum.generate(texts)


def test_ct2_int8_end_to_end_is_aligned_and_converts_once(replicas, sample_ar, monkeypatch):
    import khulasa.models.ct2
    import khulasa.models.factory

    monkeypatch.setattr(khulasa.models.ct2, "_ENGINES", {})  # engines earlier tests loaded
    monkeypatch.setattr(khulasa.models.factory, "_CACHE", {})
    pipeline = load_pipeline(
        str(replicas["opus-mt-tc-big"]), str(replicas["distilbart-cnn"]), backend="ct2"
    )
    doc = pipeline.process(sample_ar)
    assert len(doc.segments) == 16 and all(s.english for s in doc.segments)
    assert doc.summary
    assert doc.meta["translator"]["backend"] == "ct2"
    assert doc.meta["translator"]["compute_type"] == "int8"
    converted = sorted(p.name for p in (khulasa_home() / "ct2").iterdir())
    assert len(converted) == 2 and all(name.endswith("--int8") for name in converted)
    stamp = [(khulasa_home() / "ct2" / n / "model.bin").stat().st_mtime_ns for n in converted]
    load_translator(str(replicas["opus-mt-tc-big"]), backend="ct2")  # cached: no new copy
    assert sorted(p.name for p in (khulasa_home() / "ct2").iterdir()) == converted
    assert [
        (khulasa_home() / "ct2" / n / "model.bin").stat().st_mtime_ns for n in converted
    ] == stamp


def test_auto_backend_picks_ct2_when_installed():
    assert pick_backend("auto") == "ct2"
    with pytest.raises(OptionError, match="Unknown backend"):
        pick_backend("onnx")


def test_balanced_cuts_let_workers_finish_together():
    from khulasa.models.ct2 import balanced_cuts

    lengths = [10 * k for k in range(1, 17)]
    # Rows x longest length: 10 x 100 = 1000 against 6 x 160 = 960, the best split in two.
    assert balanced_cuts(lengths, 2) == [10]
    assert balanced_cuts([5, 5], 2) == [1] and balanced_cuts([7], 2) == []


def test_ct2_batches_cover_every_sentence_once(replicas, sample_ar):
    ct2 = load_translator(str(replicas["opus-mt"]), backend="ct2")
    sentences = [s.source for s in segment(sample_ar).segments]
    for first in (None, 2):
        groups = ct2.batches(sentences, first)
        assert sorted(i for g in groups for i in g) == list(range(len(sentences)))
        if first:  # a watched stream opens with the article's first sentences
            assert groups[:first] == [[i] for i in range(first)]


TRANSLATORS = ["opus-mt-tc-big", "opus-mt", "nllb-600m"]


def _english_by_sentence(paths: list[str], sentences: list[str]) -> list[list[str]]:
    """Each translator's English for `sentences`, on the default backend (ct2 int8 on CPU)."""
    return [load_translator(path).translate(sentences) for path in paths]


@pytest.mark.parametrize("isa", [None, "AVX2"])
def test_replicas_give_distinct_english_for_distinct_sentences_on_the_default_backend(
    replicas, sample_ar, isa, cli_env
):
    # Summaries, digests and trust checks compare sentences: a replica that wrote one string
    # for every sentence (as int8 did on AVX2-only CPUs) made those tests fail on such CPUs.
    sentences = [s.source for s in segment(sample_ar).segments]
    assert len(set(sentences)) == 16
    paths = [str(replicas[p]) for p in TRANSLATORS]
    if isa is None:  # this CPU's own instruction set, in this process
        english = _english_by_sentence(paths, sentences)
        assert load_translator(paths[0]).settings["compute_type"] == "int8"
    else:  # CTranslate2's kernels for an older CPU, forced (x86 only)
        if platform.machine().lower() not in ("x86_64", "amd64"):
            pytest.skip(f"CT2_FORCE_CPU_ISA={isa} exists on x86 CPUs only")
        code = (
            "import json, sys\n"
            "from test_ct2 import _english_by_sentence\n"
            "print(json.dumps(_english_by_sentence(*json.load(sys.stdin))))\n"
        )
        run = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps([paths, sentences]),
            capture_output=True,
            text=True,
            env={**cli_env, "CT2_FORCE_CPU_ISA": isa, "PYTHONPATH": str(Path(__file__).parent)},
            timeout=300,
        )
        assert run.returncode == 0, run.stderr
        english = json.loads(run.stdout)
    for preset, out in zip(TRANSLATORS, english, strict=True):
        assert len(set(out)) == len(sentences), (preset, isa, out)
