"""The constructed coverage set (eval/data/coverage/): the team's sample article and five more
documents on one event, or beside it, for the coverage digest's tests, bench and demo.

- `akhbar-alaan`: the sample AFP report as Akhbar Al-Aan ran it (eval/data/brussels_ar.txt);
- `copy-headline`: the same wire story under a new headline, dateline without the outlet;
- `copy-trimmed`: the same story cut after its eighth paragraph;
- `copy-added`: the whole story with two sentences added at the end;
- `report-en`: an English report on the same meeting, with details of its own;
- `unrelated`: an Arabic weather report from Morocco.

The added sentences, the English report and the weather report were written for this project
(Apache-2.0, like the code); their details are constructed test text, not reporting.

`python -m khulasa.eval.coverage_set DIR` writes the set as DIR/coverage.jsonl (one record per
document: id, outlet, title, date, text), the input of `khulasa digest`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..models.text import normalize

DATA = Path(__file__).resolve().parent / "data"
COVERAGE = DATA / "coverage"
DATE = "2014-12-03"


def _lines(path: Path) -> list[str]:
    return [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def records() -> list[dict]:
    """The six documents, in a fixed order, as digest inputs."""
    article = (DATA / "brussels_ar.txt").read_text(encoding="utf-8").strip()
    paragraphs = article.split("\n\n")
    headline, added_1, added_2 = _lines(COVERAGE / "added.sent.ar")
    weather = _lines(COVERAGE / "unrelated.sent.ar")
    wire_dateline = "بروكسل – بلجيكا – (أ ف ب)"
    texts = [
        ("akhbar-alaan", "Akhbar Al-Aan", article),
        ("copy-headline", "Outlet B", "\n\n".join([headline, wire_dateline, *paragraphs[1:]])),
        ("copy-trimmed", "Outlet C", "\n\n".join(paragraphs[:8])),
        ("copy-added", "Outlet D", article + "\n\n" + added_1 + " " + added_2),
        ("report-en", "Outlet E", (COVERAGE / "report_en.txt").read_text(encoding="utf-8")),
        ("unrelated", "Outlet F", weather[0] + "\n\n" + " ".join(weather[1:])),
    ]
    return [{"id": i, "outlet": o, "date": DATE, "text": t} for i, o, t in texts]


def references() -> dict[str, str]:
    """The team's English for every Arabic sentence of the set, keyed by the normalised
    Arabic: what a sentence memory can hold so replica models show readable English."""
    pairs = {}
    for stem in ("brussels", "coverage/added", "coverage/unrelated"):
        arabic = _lines(DATA / f"{stem}.sent.ar")
        english = _lines(DATA / f"{stem}.sent.en")
        pairs.update(zip((normalize(a) for a in arabic), english, strict=True))
    pairs[normalize("بروكسل – بلجيكا – (أ ف ب)")] = "Brussels – Belgium – (AFP)"
    return pairs


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m khulasa.eval.coverage_set DIR", file=sys.stderr)
        return 2
    out = Path(args[0])
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "coverage.jsonl", "w", encoding="utf-8") as f:
        for record in records():
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(out / "coverage.jsonl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
