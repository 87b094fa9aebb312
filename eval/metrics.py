"""Quality metrics with their signatures: BLEU, chrF and chrF++ from sacrebleu; ROUGE from
rouge-score. Imported on use (the `eval` extra installs them)."""

from __future__ import annotations

from importlib.metadata import version

from ..models.errors import InputError


def _need(module: str, package: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise InputError(
            f"{package} is not installed. Fix: pip install -e '.[eval]' "
            f"(or pip install {package}).",
            "missing_package",
        ) from exc


def translation_scores(hypotheses: list[str], references: list[str]) -> dict:
    """Corpus BLEU, chrF and chrF++ (0-100) with sacrebleu's signature for each."""
    if len(hypotheses) != len(references):
        raise InputError(
            f"{len(hypotheses)} translations but {len(references)} references: "
            f"the files must have one segment per line, aligned.",
            "misaligned",
        )
    sacrebleu = _need("sacrebleu.metrics", "sacrebleu")
    metrics = {
        "bleu": sacrebleu.BLEU(),
        "chrf": sacrebleu.CHRF(),
        "chrf++": sacrebleu.CHRF(word_order=2),
    }
    out = {}
    for name, metric in metrics.items():
        score = metric.corpus_score(hypotheses, [references])
        out[name] = {"score": round(score.score, 4), "signature": str(metric.get_signature())}
    return out


def summary_scores(predictions: list[str], references: list[str]) -> dict:
    """Mean ROUGE-1/2/L F1 (0-100), stemmed, as the CNN/DailyMail papers report it."""
    if len(predictions) != len(references):
        raise InputError(
            f"{len(predictions)} summaries but {len(references)} references.", "misaligned"
        )
    rouge = _need("rouge_score.rouge_scorer", "rouge-score")
    scorer = rouge.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for pred, ref in zip(predictions, references, strict=True):
        for name, score in scorer.score(ref, pred).items():
            totals[name] += score.fmeasure
    n = max(1, len(predictions))
    signature = f"rouge-score:{version('rouge-score')}|stemmer:yes|f1:mean"
    return {
        name: {"score": round(100 * total / n, 4), "signature": signature}
        for name, total in totals.items()
    }
