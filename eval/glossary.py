"""`khulasa eval glossary`: pinned spellings applied, measured on the team's references.

Each reference set (the sample article, the trust and negation sets, the coverage set's two
reports) is one document, translated through the pipeline users run with tiny replica models
and a sentence memory holding the team's English, and n-best lists planted in it:

- terms: each name the document renders one way (names.py's `renderings`: "Kerry" for كيري),
  pinned to a desk's other spelling (DESK, else the last letter doubled), plus a term no
  English word renders (التحالف as "the alliance": the team writes "coalition");
- per sentence holding a term, in turn: the pinned spelling planted in the 2nd wording, in
  the 3rd, or in none (then the model's words for the term must be replaced);
- measured: pinned spellings applied (target at least 0.95, by case), sentences without a
  term unchanged (target 100 %), no word changed outside a term (target 100 %), and the term
  no English renders marked "glossary term not applied" (target 100 %).
"""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
from pathlib import Path

from .replicas import DATA_DIR
from .trust import SETS

DESK = {"Kerry": "Kerrey", "Brussels": "Bruxelles", "Syria": "Suriya", "Iraq": "Iraak",
        "Iran": "Eeran", "Washington": "Washingtun"}  # fmt: skip
CASES = ("2nd", "3rd", "none")
UNRENDERED = ("التحالف", "the alliance")  # the team writes "coalition": nothing to replace
TARGETS = {"applied": 0.95, "unchanged": 1.0, "outside_terms_untouched": 1.0,
           "unrendered_marked": 1.0}  # fmt: skip


def desk_spelling(form: str) -> str:
    return DESK.get(form) or form + form[-1]


def _documents() -> list[list[tuple[str, str]]]:
    docs = []
    for name in SETS:
        ar = (DATA_DIR / f"{name}.sent.ar").read_text("utf-8").splitlines()
        en = (DATA_DIR / f"{name}.sent.en").read_text("utf-8").splitlines()
        docs.append([(a, e) for a, e in zip(ar, en, strict=True) if a.strip()])
    return docs


def run(root: Path | None = None) -> dict:
    from ..models.factory import build_pipeline
    from ..models.glossary import NBEST, from_pairs, uses
    from ..models.names import renderings
    from ..models.options import ModelOptions
    from ..models.text import fold_spelling, normalize
    from .replicas import offline_models

    translator, _ = offline_models(root)
    work = Path(tempfile.mkdtemp(prefix="khulasa-eval-glossary-"))
    memory = work / "memory.sqlite"
    models = ModelOptions(translator=str(translator), summarizer="none", memory=memory)
    docs = _documents()
    texts = ["\n\n".join(a for a, _ in pairs) for pairs in docs]
    plan, glossaries, team = {}, [], {}
    turn = 0
    for pairs in docs:
        names = renderings(pairs)
        terms = [(arabic, desk_spelling(form), form) for form, arabic in sorted(names.items())]
        terms = [t for t in terms if not any(uses(e, t[1]) for _, e in pairs)]
        glossaries.append(from_pairs([(a, p) for a, p, _ in terms] + [UNRENDERED], "eval"))
        for a, e in pairs:
            team[normalize(a)] = e
            held = [(p, f) for arabic, p, f in terms
                    if glossaries[-1].in_sentence(a) and uses(e, f)
                    and any(t.english == p for t in glossaries[-1].in_sentence(a))]  # fmt: skip
            if not held:
                continue
            case = CASES[turn % len(CASES)]
            turn += 1
            pinned = e
            for p, f in held:
                pinned = re.sub(rf"(?<!\w){re.escape(f)}(?!\w)", p, pinned)
            wordings = [e, e + " ", e + "  ", e + "   "][:NBEST]
            if case != "none":
                wordings[1 if case == "2nd" else 2] = pinned
            plan[normalize(a)] = {"case": case, "held": held, "wordings": wordings,
                                  "pinned": pinned}  # fmt: skip
    # The memory: the team's English as the first wording, the planted n-best lists.
    build_pipeline(models, mark_memory=False).process_many(texts, False, alternatives=NBEST - 1)
    build_pipeline(models, mark_memory=False).process_many(texts, False)
    with sqlite3.connect(memory) as db:
        for key, settings, source in db.execute("SELECT key, settings, source FROM translations"):
            n = json.loads(settings).get("hypotheses", 1)
            if source not in team:
                continue
            h = plan[source]["wordings"] if n == NBEST and source in plan else [team[source]] * n
            value = json.dumps({"h": h, "s": [-0.3 - 0.1 * k for k in range(n)]})
            db.execute("UPDATE translations SET english=? WHERE key=?", (value, key))
    pipeline = build_pipeline(models, mark_memory=False)
    pipeline.checks = False  # the glossary's own measure: no second try in between
    plain = pipeline.process_many(texts, summary=False)
    pinned = [
        pipeline.process_many([t], summary=False, glossary=g)[0]
        for t, g in zip(texts, glossaries, strict=True)
    ]
    counts = {c: [0, 0] for c in CASES}
    unchanged, untouched, marked = [0, 0], [0, 0], [0, 0]
    clitics = 0  # sentences where a held term is written only with a clitic
    for before, after in zip(plain, pinned, strict=True):
        for a, b in zip(before.segments, after.segments, strict=True):
            if b.glossary is None:
                unchanged[1] += 1
                unchanged[0] += a.to_dict() == b.to_dict()
                continue
            how = {g["ar"]: g for g in b.glossary}
            if UNRENDERED[0] in how:
                marked[1] += 1
                marked[0] += how[UNRENDERED[0]]["how"] == "not_applied" and (
                    "glossary_not_applied" in b.flags
                )
            entry = plan.get(normalize(a.source))
            if entry is None:
                continue
            case = entry["case"]
            counts[case][1] += 1
            applied = all(uses(b.english, p) for p, _ in entry["held"])
            counts[case][0] += applied
            untouched[1] += 1
            untouched[0] += b.english.strip() == entry["pinned"].strip()
            written = set(re.findall(r"[\u0621-\u064a]+", fold_spelling(a.source)))
            pins = {p for p, _ in entry["held"]}
            clitics += any(g["ar"] not in written for g in b.glossary if g["en"] in pins)
    rate = {c: round(k / n, 3) if n else None for c, (k, n) in counts.items()}
    total = [sum(k for k, _ in counts.values()), sum(n for _, n in counts.values())]
    result = {
        "documents": len(docs),
        "sentences": sum(len(p) for p in docs),
        "terms": sum(len(g) for g in glossaries),
        "applied": round(total[0] / total[1], 3) if total[1] else None,
        "applied_by_case": rate,
        "cases": {c: n for c, (_, n) in counts.items()},
        "with_clitic": clitics,
        "unchanged": round(unchanged[0] / unchanged[1], 3) if unchanged[1] else None,
        "sentences_without_a_term": unchanged[1],
        "outside_terms_untouched": round(untouched[0] / untouched[1], 3) if untouched[1] else None,
        "unrendered_marked": round(marked[0] / marked[1], 3) if marked[1] else None,
        "unrendered_cases": marked[1],
        "targets": TARGETS,
    }
    result["meets_targets"] = all(
        result[k] is not None and result[k] >= v for k, v in TARGETS.items()
    )
    return result
