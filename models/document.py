"""The one result type: a `Document` of aligned segments, a summary with provenance, and
metadata. The CLI, the page, the REST API and the batch script all emit its JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

# Segment flags
SPLIT_AT_LENGTH_LIMIT = "split_at_length_limit"  # translated in pieces, joined back
FROM_MEMORY = "from_memory"  # answered by the sentence memory, no model call
NOT_ARABIC = "not_arabic"  # the sentence has no Arabic letter
VERIFIED = "verified"  # a reader's correction from the sentence memory (POST /suggest)
FROM_DESK = "from_desk_memory"  # the desk's own translation, imported from its TMX
OTHER_WORDING = "other_wording"  # another of the model's wordings, chosen by the reader
# Summary sentence flags
UNSUPPORTED = "unsupported"  # no source sentence supports it
# Document warnings (meta["warnings"])
MOSTLY_NON_ARABIC = "mostly_non_arabic"


@dataclass
class Segment:
    index: int  # global, in document order; summary `sources` refer to it
    source: str
    english: str | None = None  # None until translated (streaming)
    flags: list[str] = field(default_factory=list)
    score: float | None = None  # model confidence: mean log-probability per output token
    # Further translations when asked for (REST `alternatives`); never in the JSON.
    alternatives: list[str] = field(default_factory=list, repr=False, compare=False)
    # Pinned spellings (models/glossary.py): each term the sentence holds and how it was
    # applied ({"ar", "en", "how"[, "replaced"]}); None for a sentence with no term.
    glossary: list[dict] | None = None

    def to_dict(self) -> dict:
        out = {
            "index": self.index,
            "source": self.source,
            "english": self.english,
            "flags": list(self.flags),
            "score": self.score,
        }
        if self.glossary is not None:
            out["glossary"] = [dict(g) for g in self.glossary]
        return out


@dataclass
class Paragraph:
    segments: list[Segment]


@dataclass
class SummarySentence:
    text: str
    sources: list[int]
    flags: list[str] = field(default_factory=list)  # its own checks (unsupported_number...)
    # The warnings its source sentences carry (low_confidence, number_mismatch...): a key
    # point is no surer than the sentences it rests on.
    source_flags: list[str] = field(default_factory=list)


@dataclass
class Document:
    paragraphs: list[Paragraph]
    summary: list[SummarySentence] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    source_language: str = "ar"
    target_language: str = "en"

    @property
    def segments(self) -> list[Segment]:
        return [s for p in self.paragraphs for s in p.segments]

    @property
    def translation(self) -> str:
        """English text, paragraphs separated by blank lines ('' for untranslated parts)."""
        return "\n\n".join(
            " ".join(s.english for s in p.segments if s.english) for p in self.paragraphs
        ).strip()

    @property
    def complete(self) -> bool:
        return all(s.english is not None for s in self.segments)

    def to_dict(self) -> dict:
        return {
            "source_language": self.source_language,
            "target_language": self.target_language,
            "paragraphs": [
                {"segments": [s.to_dict() for s in p.segments]} for p in self.paragraphs
            ],
            "translation": self.translation,
            "summary": [asdict(s) for s in self.summary],
            "meta": self.meta,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: dict) -> Document:
        return cls(
            paragraphs=[
                Paragraph([Segment(**s) for s in p["segments"]]) for p in data["paragraphs"]
            ],
            summary=[SummarySentence(**s) for s in data.get("summary", [])],
            meta=data.get("meta", {}),
            source_language=data.get("source_language", "ar"),
            target_language=data.get("target_language", "en"),
        )

    @classmethod
    def from_json(cls, text: str) -> Document:
        return cls.from_dict(json.loads(text))
