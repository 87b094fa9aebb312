from khulasa.eval.replicas import english_text
from khulasa.models import Document, load_pipeline
from khulasa.models.document import UNSUPPORTED
from khulasa.models.provenance import supporting_sources
from khulasa.models.report import to_markdown
from khulasa.models.summarize import ExtractiveSummarizer
from khulasa.models.text import normalize, split_paragraphs, split_sentences


def english_segments() -> list[tuple[int, str]]:
    """The team's English reference of the sample, as (index, english) segments."""
    sentences = [s for p in split_paragraphs(normalize(english_text())) for s in split_sentences(p)]
    return list(enumerate(sentences))


def test_extractive_summary_quotes_its_sources_exactly():
    segments = english_segments()
    summary = ExtractiveSummarizer().summarize(segments, 3)
    assert len(summary) == 3
    text = dict(segments)
    for s in summary:
        assert len(s.sources) == 1 and s.text == text[s.sources[0]]
    assert [s.sources for s in summary] == sorted(s.sources for s in summary)  # document order
    # The lead (Kerry, Brussels, Iran) is the gist of a news report and must be picked.
    assert any("Iran" in s.text and "Kerry" in s.text for s in summary)
    # The one-line dateline is not a summary sentence.
    assert all(s.sources != [0] for s in summary)


def test_provenance_points_at_the_sentences_a_summary_sentence_rests_on():
    segments = english_segments()
    kirby = next(i for i, t in segments if "Kirby" in t)
    pentagon = next(i for i, t in segments if "Pentagon" in t)
    sentence = "Pentagon spokesman John Kirby said Iranian jets struck ISIS in eastern Iraq."
    sources = supporting_sources(sentence, segments)
    assert kirby in sources and pentagon in sources
    assert supporting_sources("Football scores from the weekend league.", segments) == []


def test_abstractive_summary_flags_unsupported_sentences(replicas, sample_ar):
    doc = load_pipeline(str(replicas["opus-mt"]), str(replicas["distilbart-cnn"])).process(
        sample_ar
    )
    assert doc.summary, "the summariser wrote nothing"
    valid = {s.index for s in doc.segments}
    for s in doc.summary:
        assert set(s.sources) <= valid
        assert (UNSUPPORTED in s.flags) == (not s.sources)
    assert doc.meta["summarizer"]["mode"] == "abstractive"


def greedy_summarizer(replicas, backend="torch", **kw):
    """A summariser of its own (not the factory's shared one), greedy."""
    from khulasa.models.loading import find, load_seq2seq

    loaded = load_seq2seq(
        *find(str(replicas["distilbart-cnn"]), "summarizer"), "cpu", weights=backend == "torch"
    )
    if backend == "ct2":
        from khulasa.models.ct2 import Ct2Summarizer

        return Ct2Summarizer(loaded, beams=1, **kw)
    from khulasa.models.summarize import AbstractiveSummarizer

    return AbstractiveSummarizer(loaded, beams=1)


def test_abstractive_chunks_long_input_then_merges(replicas):
    summarizer = greedy_summarizer(replicas)
    segments = english_segments() * 6  # well over the replica's 512-token input limit
    segments = [(i, t) for i, (_, t) in enumerate(segments)]
    calls = []
    generate = summarizer.generate

    def spy(texts):
        assert all(summarizer.count_tokens(t) <= summarizer.input_limit for t in texts)
        calls.append(len(texts))
        return generate(texts)

    summarizer.generate = spy
    summary = summarizer.summarize(segments)
    assert calls[0] > 1, "a long input must be summarised in several chunks"
    assert len(calls) >= 2, "chunk summaries must be merged by a further pass"
    assert summary
    # Every word of the input went into some chunk: nothing truncated.
    chunks = summarizer.chunks([t for _, t in segments])
    assert " ".join(chunks).split() == " ".join(t for _, t in segments).split()


def test_document_json_round_trips_with_the_documented_names(replicas, sample_ar):
    doc = load_pipeline(str(replicas["opus-mt"]), "extractive").process(sample_ar)
    data = doc.to_dict()
    assert set(data) == {
        "source_language",
        "target_language",
        "paragraphs",
        "translation",
        "summary",
        "meta",
    }
    assert set(data["paragraphs"][0]["segments"][0]) == {
        "index",
        "source",
        "english",
        "flags",
        "score",
    }
    assert set(data["summary"][0]) == {"text", "sources", "flags", "source_flags"}
    assert {"translator", "summarizer", "timings_ms", "version", "versions", "created"} <= set(
        data["meta"]
    )
    assert set(data["meta"]["versions"]) == {"khulasa", "transformers", "ctranslate2", "torch"}
    assert data["meta"]["versions"]["transformers"]
    assert data["meta"]["summarizer"] == {"model": "extractive", "mode": "extractive"}
    assert data["translation"].count("\n\n") == len(doc.paragraphs) - 1
    again = Document.from_json(doc.to_json())
    assert again.to_dict() == data


def test_markdown_escapes_untrusted_text():
    doc = Document.from_dict(
        {
            "paragraphs": [
                {
                    "segments": [
                        {
                            "index": 0,
                            "source": "<script>x</script>",
                            "english": "*bold* <img src=x>",
                            "flags": [],
                        }
                    ]
                }
            ],
            "summary": [{"text": "[link](http://x)", "sources": [0], "flags": []}],
        }
    )
    md = to_markdown(doc)
    assert "<script>" not in md and "<img" not in md
    assert "\\*bold\\*" in md and "\\[link\\]" in md
