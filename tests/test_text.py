from khulasa.models.pipeline import segment
from khulasa.models.text import (
    normalize,
    split_english,
    split_long,
    split_paragraphs,
    split_sentences,
)


def test_sample_article_splits_into_its_sentences(sample_ar):
    doc = segment(sample_ar)
    sentences = [s.source for s in doc.segments]
    assert len(doc.paragraphs) == 14
    assert len(sentences) == 16
    # The dateline's "(أ ف ب" + line break + ")" is one sentence, not a stray ")".
    assert sentences[0] == "أخبار الآن | بروكسل – بلجيكا – (أ ف ب)"
    assert sentences[2].endswith("للمعارضة المعتدلة.")
    assert sentences[3].startswith("واضاف كيري ان من السابق")
    # Quoted speech with a comma inside stays with its sentence.
    assert '"داعش خسر زخمه في العراق، وضحايا التنظيم يتزايدون يوما بعد يوم".' in sentences[5]
    assert [s.index for s in doc.segments] == list(range(16))


def test_glued_sentences_split_between_arabic_words():
    assert split_sentences("هذا ما قالته المنظمة.وكقاعدة عامة فإن الأمر كذلك.") == [
        "هذا ما قالته المنظمة.",
        "وكقاعدة عامة فإن الأمر كذلك.",
    ]


def test_decimals_abbreviations_and_urls_stay_whole():
    assert split_sentences("بلغ النمو 3.5 بالمئة. وقال المسؤول ذلك") == [
        "بلغ النمو 3.5 بالمئة.",
        "وقال المسؤول ذلك",
    ]
    assert split_sentences("قال مراسل (أ.ف.ب) إن الأمر انتهى. ثم غادر") == [
        "قال مراسل (أ.ف.ب) إن الأمر انتهى.",
        "ثم غادر",
    ]
    assert split_sentences("نقلا عن أ.ف.ب إن الوفد وصل") == ["نقلا عن أ.ف.ب إن الوفد وصل"]
    assert split_sentences("زار موقع www.example.com أمس. نعم") == [
        "زار موقع www.example.com أمس.",
        "نعم",
    ]
    assert split_sentences("التقى U.S. وزير الدفاع. ثم عاد") == [
        "التقى U.S. وزير الدفاع.",
        "ثم عاد",
    ]


def test_arabic_marks_quotes_and_line_breaks_end_sentences():
    assert split_sentences("هل جاء؟ نعم جاء! حسنا… ثم؛ انتهى") == [
        "هل جاء؟",
        "نعم جاء!",
        "حسنا…",
        "ثم؛",
        "انتهى",
    ]
    assert split_sentences('قال: "داعش خسر. والضحايا يتزايدون." وأضاف أن') == [
        'قال: "داعش خسر. والضحايا يتزايدون."',
        "وأضاف أن",
    ]
    assert split_sentences("قال «جملة أولى.» ثم مضى") == ["قال «جملة أولى.»", "ثم مضى"]
    assert split_sentences("سطر أول بلا نقطة\nسطر ثان") == ["سطر أول بلا نقطة", "سطر ثان"]
    # The Arabic comma does not end a sentence.
    assert len(split_sentences("قال كيري، وهو يبتسم، إن الأمر انتهى.")) == 1


def test_normalize_strips_tatweel_invisibles_and_controls():
    text = "قـــال\u200f كيري\u200b\x07  إن\t\tالأمر\r\n\r\n\r\n\r\nانتهى"
    assert normalize(text) == "قال كيري إن الأمر\n\nانتهى"
    assert split_paragraphs(normalize(text)) == ["قال كيري إن الأمر", "انتهى"]
    # NFC: a decomposed alef with hamza above becomes the single code point.
    assert normalize("\u0627\u0654") == "\u0623"


def test_split_long_keeps_every_word_and_respects_the_limit():
    def count(s):
        return len(s.split())

    sentence = (
        " ".join(f"كلمة{i}" for i in range(30)) + "، " + " ".join(f"أخرى{i}" for i in range(10))
    )
    pieces = split_long(sentence, count, 12)
    assert all(count(p) <= 12 for p in pieces)
    assert " ".join(pieces).split() == sentence.split()
    # The clause mark is preferred as a cut point over an arbitrary word.
    assert any(p.endswith("،") for p in pieces)
    # A single unbroken run longer than the limit is cut by characters, nothing lost.
    assert "".join(split_long("x" * 50, len, 8)) == "x" * 50


def test_split_english_respects_abbreviations():
    text = 'Kerry said no. The U.S. will help. "It is done." Mr. Smith agreed.'
    assert split_english(text) == [
        "Kerry said no.",
        "The U.S. will help.",
        '"It is done."',
        "Mr. Smith agreed.",
    ]
