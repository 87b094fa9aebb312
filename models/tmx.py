"""The sentence memory in the format every translation tool reads and writes: TMX 1.4
(through translate-toolkit, a kept library).

- `export_tmx`: every sentence the memory holds with one English (the model's first wording,
  a reader's correction, an entry from the desk's memory), Arabic to English, one
  translation unit each; the model or origin is kept in a `<prop type="x-khulasa-origin">`.
- `import_tmx`: a desk's TMX (from Trados, memoQ, OmegaT, ...) into the memory's desk
  entries: an Arabic sentence normalised as khulasa normalises it, with its English. From
  then on an exact match is used for any model, as the memory is used, and the sentence is
  marked as from the desk's memory. Bounded (MAX_BYTES, MAX_UNITS) and refused with the
  problem named when malformed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from .errors import InputError, OptionError
from .glossary import declares_entities, read_capped
from .memory import DESK, SentenceMemory
from .text import normalize

MAX_BYTES = 64 * 2**20
MAX_UNITS = 200_000
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def bad_tmx(name: str, problem: str) -> InputError:
    return InputError(
        f"{name}: {problem}. Fix: give a TMX 1.4 file whose units hold an Arabic (ar) and an "
        "English (en) variant, as translation tools export it.",
        "bad_tmx",
    )


def _origin(settings: str) -> str | None:
    """What wrote an entry, from its settings key; None for entries not exported (n-best
    lists, second tries)."""
    try:
        data = json.loads(settings)
    except ValueError:
        return None
    if data.get("desk"):
        return "desk"
    if data.get("hypotheses") or data.get("retry"):
        return None
    return str(data.get("model_id") or data.get("model") or "model")


def export_tmx(memory: SentenceMemory, path: Path) -> int:
    """Write the memory's sentences to `path` as TMX 1.4; how many units were written."""
    from translate.storage.tmx import tmxfile

    store = tmxfile(sourcelanguage="ar", targetlanguage="en")
    seen = set()
    with memory._conn() as conn:
        rows = conn.execute("SELECT settings, source, english FROM translations ORDER BY created")
        for settings, source, value in rows:
            origin = _origin(settings)
            if origin is None:
                continue
            entry = json.loads(value)
            english = entry["h"][0] if entry.get("h") else ""
            if not english or (source, english) in seen:
                continue
            seen.add((source, english))
            store.addtranslation(source, "ar", english, "en")
            unit = store.units[-1]
            origin = "reader" if entry.get("v") == 1 and origin != "desk" else origin
            _prop(unit, "x-khulasa-origin", origin)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(bytes(store))
    tmp.replace(path)
    return len(seen)


def _prop(unit, kind: str, text: str) -> None:
    from lxml import etree

    prop = etree.Element("prop", type=kind)
    prop.text = text
    unit.xmlelement.insert(0, prop)


def read_tmx(path: Path) -> list[tuple[str, str]]:
    """(Arabic, English) of each unit of a TMX file that holds both (bounded, checked)."""
    from translate.storage.tmx import tmxfile

    path = Path(path)
    if not path.is_file():
        raise OptionError(f"{path}: no such file. Fix: give the TMX file to import.")
    name = path.name
    data = read_capped(path, MAX_BYTES, bad_tmx)
    if declares_entities(data):
        raise bad_tmx(name, "the file declares entities (not read, for safety)")
    try:
        store = tmxfile(io.BytesIO(data))
    except Exception as exc:
        raise bad_tmx(name, f"not TMX this reader understands ({exc})") from None
    pairs = []
    for k, unit in enumerate(store.units, 1):
        if k > MAX_UNITS:
            raise bad_tmx(name, f"more than {MAX_UNITS:,} units (split it)")
        found = {}
        for node in unit.getlanguageNodes():
            lang = (node.get(XML_LANG) or node.get("lang") or "").lower()
            found.setdefault(lang.split("-")[0].split("_")[0], unit.getNodeText(node))
        if found.get("ar") and found.get("en"):
            pairs.append((found["ar"], found["en"]))
    if not pairs:
        raise bad_tmx(name, "no unit with both an Arabic and an English variant")
    return pairs


def import_tmx(memory: SentenceMemory, path: Path) -> int:
    """The TMX file's units into the memory's desk entries (a sentence already there takes
    the file's English); how many were imported."""
    entries = {}
    for arabic, english in read_tmx(path):
        source, english = normalize(arabic), english.strip()
        if source and english:
            entries[source] = json.dumps({"h": [english], "s": [None], "v": 1, "d": 1},
                                         ensure_ascii=False)  # fmt: skip
    memory.put_many(DESK, list(entries.items()), replace=True)
    if memory.problem:
        raise InputError(f"The import failed: {memory.problem}.", "memory_failed")
    return len(entries)
