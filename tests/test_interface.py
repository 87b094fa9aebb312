"""Every translator behind the one interface: the torch and ct2 backends and the sentence
memory in front of either pass the same conformance checks; n-best is the one primitive."""

import pytest

from khulasa.models.factory import load_pipeline, load_translator
from khulasa.models.interface import Translation, Translator
from khulasa.models.memory import MemoryTranslator, SentenceMemory
from khulasa.models.pipeline import segment

IMPLEMENTATIONS = ["torch", "ct2", "memory+torch", "memory+ct2"]


def make(kind: str, replicas, tmp_path) -> Translator:
    backend = kind.split("+")[-1]
    inner = load_translator(str(replicas["opus-mt"]), beams=2, backend=backend)
    if kind.startswith("memory"):
        return MemoryTranslator(inner, SentenceMemory(tmp_path / "memory.sqlite"))
    return inner


@pytest.mark.parametrize("kind", IMPLEMENTATIONS)
def test_each_translator_conforms(kind, replicas, sample_ar, tmp_path):
    translator = make(kind, replicas, tmp_path)
    assert isinstance(translator, Translator)
    assert translator.backend == kind.split("+")[-1]
    assert {"model", "model_id", "revision", "backend", "beams"} <= set(translator.settings)
    texts = [s.source for s in segment(sample_ar).segments]
    texts.append(texts[3])  # a repeated sentence
    assert all(translator.count_tokens(t) > 0 for t in texts)
    assert " ".join(translator.pieces(texts[1])).split() == texts[1].split()
    for n in (1, 3):
        seen: dict[int, Translation] = {}
        for batch in translator.translate_iter(texts, n, first_batch=2):
            for result in batch:
                assert result.index not in seen  # every index exactly once
                assert len(result.hypotheses) == n and all(result.hypotheses)
                seen[result.index] = result
        assert sorted(seen) == list(range(len(texts)))
        assert seen[len(texts) - 1].hypotheses == seen[3].hypotheses
    best = translator.translate(texts)
    assert len(best) == len(texts) and all(best) and best[-1] == best[3]


@pytest.mark.parametrize("kind", IMPLEMENTATIONS)
def test_one_best_is_the_first_of_the_n_best(kind, replicas, sample_ar, tmp_path):
    translator = make(kind, replicas, tmp_path)
    texts = [s.source for s in segment(sample_ar).segments][:6]
    best = translator.translate(texts)
    two = [r for batch in translator.translate_iter(texts, 2) for r in batch]
    # With n <= beams the search is the same one: its best is the 1-best.
    assert [r.english for r in sorted(two, key=lambda r: r.index)] == best


def test_memory_marks_what_it_answered_in_the_results(replicas, sample_ar, tmp_path):
    translator = make("memory+torch", replicas, tmp_path)
    texts = [s.source for s in segment(sample_ar).segments]
    first = [r for batch in translator.translate_iter(texts) for r in batch]
    assert not any(r.from_memory for r in first)
    again = [r for batch in translator.translate_iter(texts) for r in batch]
    assert all(r.from_memory for r in again)
    assert sorted(r.english for r in again) == sorted(r.english for r in first)


def test_alternatives_decode_once_per_batch_through_the_memory(
    replicas, sample_ar, tmp_path, model_calls
):
    calls = model_calls
    pipeline = load_pipeline(
        str(replicas["opus-mt"]), "none", backend="torch", memory=tmp_path / "memory.sqlite"
    )
    pipeline.checks = False  # first tries only: the calls below are the alternatives' own
    first_tries = load_pipeline(str(replicas["opus-mt"]), "none", backend="torch")
    first_tries.checks = False  # no second tries: the plain first decoding
    plain = first_tries.process(sample_ar)
    calls.clear()
    doc = pipeline.process_many([sample_ar], summary=False, alternatives=3)[0]
    pieces = [p for s in segment(sample_ar).segments for p in pipeline.translator.pieces(s.source)]
    batches = pipeline.translator.inner.batches(pieces, beams=4)
    assert calls == [(len(b), 4) for b in batches]  # once per batch, 4 hypotheses each
    assert all(len(s.alternatives) == 3 and all(s.alternatives) for s in doc.segments)
    assert doc.translation == plain.translation  # n <= beams: the 1-best is unchanged
    calls.clear()
    again = pipeline.process_many([sample_ar], summary=False, alternatives=3)[0]
    assert calls == []  # answered by the memory
    assert [s.alternatives for s in again.segments] == [s.alternatives for s in doc.segments]
    # Alternatives never enter the Document JSON.
    assert "alternatives" not in doc.to_dict()["paragraphs"][0]["segments"][0]


def test_a_long_sentence_joins_its_pieces_alternative_by_alternative(replicas):
    long_sentence = "، ".join(["قال وزير الخارجية الأمركي جون كيري في ختام مؤتمر"] * 25) + "."
    pipeline = load_pipeline(str(replicas["opus-mt"]), "none", backend="torch")
    pieces = pipeline.translator.pieces(long_sentence)
    assert len(pieces) > 1
    seg = pipeline.process_many([long_sentence], summary=False, alternatives=2)[0].segments[0]
    hyps = [r for batch in pipeline.translator.translate_iter(pieces, 3) for r in batch]
    by_index = {r.index: r.hypotheses for r in hyps}
    for k, alternative in enumerate(seg.alternatives, start=1):
        assert alternative == " ".join(by_index[i][k] for i in range(len(pieces)))
