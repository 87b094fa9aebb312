import pytest

from khulasa.models import load_pipeline, load_translator
from khulasa.models.document import SPLIT_AT_LENGTH_LIMIT
from khulasa.models.translate import output_cap

TRANSLATORS = ["opus-mt-tc-big", "opus-mt", "nllb-600m"]


@pytest.mark.parametrize("preset", TRANSLATORS)
def test_output_is_one_to_one_with_source_sentences(replicas, sample_ar, preset):
    doc = load_pipeline(str(replicas[preset]), "none", backend="torch").process(sample_ar)
    segments = doc.segments
    assert len(segments) == 16
    assert [s.index for s in segments] == list(range(len(segments)))
    assert all(s.english for s in segments)
    assert doc.meta["translator"]["beams"] == 4
    assert doc.meta["translator"]["backend"] == "torch"


@pytest.mark.parametrize("preset", TRANSLATORS)
def test_batched_translation_equals_one_at_a_time(replicas, sample_ar, preset):
    from khulasa.models.pipeline import segment

    translator = load_translator(str(replicas[preset]), beams=1, backend="torch")
    sentences = [s.source for s in segment(sample_ar).segments]
    batched = translator.translate(sentences)
    assert len(translator.batches(sentences)) < len(sentences)  # really batched
    single = [translator.translate_nbest([s])[0].english for s in sentences]
    assert batched == single


def test_nothing_is_truncated_in_a_long_document(replicas, sample_ar):
    translator = load_translator(str(replicas["opus-mt"]), beams=1, backend="torch")
    # One sentence far over the replica's 128-token source limit, in a document of 3,000+ tokens.
    long_sentence = "، ".join(["قال وزير الخارجية الأمركي جون كيري في ختام مؤتمر"] * 25) + "."
    text = "\n\n".join([sample_ar] * 4 + [long_sentence])
    assert translator.count_tokens(text) >= 3000
    doc = load_pipeline(str(replicas["opus-mt"]), "none", beams=1, backend="torch").process(text)
    assert len(doc.segments) == 16 * 4 + 1
    assert all(s.english for s in doc.segments)
    last = doc.segments[-1]
    assert last.source == long_sentence
    assert SPLIT_AT_LENGTH_LIMIT in last.flags
    assert sum(SPLIT_AT_LENGTH_LIMIT in s.flags for s in doc.segments) == 1
    pieces = translator.pieces(long_sentence)
    assert len(pieces) > 1 and all(
        translator.count_tokens(p) <= translator.source_limit for p in pieces
    )
    assert " ".join(pieces).split() == long_sentence.split()


def test_output_length_is_capped_by_source_length(replicas):
    translator = load_translator(str(replicas["opus-mt"]), beams=1, backend="torch")
    captured = {}
    generate = translator.model.generate

    def spy(**kwargs):
        out = generate(**kwargs)
        captured["src"] = int(kwargs["attention_mask"].sum(dim=1).max())
        captured["out"] = out.shape[1]
        return out

    translator.model.generate = spy
    try:
        translator.translate_nbest(["قال كيري"])
    finally:
        translator.model.generate = generate
    # A random replica never stops on its own: it runs to the cap, which binds exactly.
    assert captured["out"] == output_cap(captured["src"], translator.output_limit)
    assert output_cap(5, 512) == 20 and output_cap(400, 512) == 512


def test_nllb_gets_arabic_source_and_english_target_codes(replicas):
    translator = load_translator(str(replicas["nllb-600m"]), beams=1, backend="torch")
    tok = translator.tokenizer
    ids = tok("قال كيري")["input_ids"]
    assert ids[0] == tok.convert_tokens_to_ids("arb_Arab")
    generate = translator.model.generate
    seen = {}

    def spy(**kwargs):
        seen["out"] = generate(**kwargs)
        return seen["out"]

    translator.model.generate = spy
    try:
        translator.translate_nbest(["قال كيري"])
    finally:
        translator.model.generate = generate
    # Decoder start, then the forced English language code.
    assert seen["out"][0, 1].item() == tok.convert_tokens_to_ids("eng_Latn")
