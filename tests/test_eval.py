import json
from pathlib import Path

import pytest

from khulasa.eval.metrics import summary_scores, translation_scores
from khulasa.models.errors import InputError
from khulasa.serve.cli import main


def eval_main(argv: list[str]) -> int:
    return main(["eval", *argv])


DATA = Path(__file__).resolve().parent.parent / "eval" / "data"
HYP = ["The cat sat on the mat.", "Kerry said the coalition is united.", "It is too early."]
REF = [
    "The cat is on the mat.",
    "Kerry said that the coalition is united.",
    "It is too early to say.",
]


def test_metrics_match_the_sacrebleu_cli():
    # Checked once with: sacrebleu ref.txt -i hyp.txt -m bleu chrf -b -w 4  -> 53.4104, 76.9714
    # and: sacrebleu ref.txt -i hyp.txt -m chrf --chrf-word-order 2 -b -w 4   -> 76.3958
    scores = translation_scores(HYP, REF)
    assert scores["bleu"]["score"] == pytest.approx(53.4104, abs=1e-4)
    assert scores["chrf"]["score"] == pytest.approx(76.9714, abs=1e-4)
    assert scores["chrf++"]["score"] == pytest.approx(76.3958, abs=1e-4)
    assert scores["bleu"]["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert "nw:2" in scores["chrf++"]["signature"]
    with pytest.raises(InputError, match="aligned"):
        translation_scores(HYP, REF[:2])


def test_rouge_of_identical_and_disjoint_summaries():
    same = summary_scores(["Kerry met the ministers."], ["Kerry met the ministers."])
    assert all(s["score"] == 100.0 for s in same.values())
    disjoint = summary_scores(["Football results."], ["Kerry met the ministers."])
    assert all(s["score"] == 0.0 for s in disjoint.values())


def test_eval_translation_and_summary_emit_json_and_append_results(replicas, tmp_path, capsys):
    results = tmp_path / "results.jsonl"
    assert (
        eval_main(
            [
                "translation",
                "--src",
                str(DATA / "brussels.sent.ar"),
                "--ref",
                str(DATA / "brussels.sent.en"),
                "--translator",
                str(replicas["opus-mt"]),
                "--backend",
                "torch",
                "--results",
                str(results),
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["segments"] == 16 and set(out["scores"]) == {"bleu", "chrf", "chrf++"}
    assert out["translator"]["backend"] == "torch" and out["versions"]["sacrebleu"]
    assert (
        eval_main(
            [
                "summary",
                "--src",
                str(DATA / "brussels_ar.txt"),
                "--ref",
                str(DATA / "brussels_summary_en.txt"),
                "--translator",
                str(replicas["opus-mt"]),
                "--summarizer",
                "extractive",
                "--results",
                str(results),
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert set(out["scores"]) == {"rouge1", "rouge2", "rougeL"}
    assert out["summary_sentences_with_sources"] == out["summary_sentences"] >= 1
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert [r["metric"] for r in rows] == ["bleu", "chrf", "chrf++", "rouge1", "rouge2", "rougeL"]
    assert rows[0]["set"] == "brussels.sent.ar" and rows[0]["model_revision"]


def test_checksum_verification_fails_loudly_on_a_wrong_file(tmp_path, capsys):
    wrong = tmp_path / "flores200_dataset.tar.gz"
    wrong.write_bytes(b"not the archive")
    assert eval_main(["sets", "--verify", "flores200-devtest", str(wrong)]) == 1
    assert "CHECKSUM MISMATCH" in capsys.readouterr().err
    assert eval_main(["sets", "--json"]) == 0
    sets = json.loads(capsys.readouterr().out)["sets"]
    assert {s["name"] for s in sets} == {"flores200-devtest", "tatoeba-ara-eng-test"}
