"""The sentence memory in translators' format (#35): `khulasa memory export --tmx` read by an
independent TMX reader (the standard library's XML parser, not the writer's), a TMX written by
another tool imported and used for exact matches, a round trip into an empty memory giving the
same translations, and malformed files refused."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from conftest import reference_memory, run_main

from khulasa.eval.replicas import DATA_DIR
from khulasa.models.errors import InputError
from khulasa.models.text import normalize

AR = (DATA_DIR / "brussels.sent.ar").read_text("utf-8").splitlines()
EN = (DATA_DIR / "brussels.sent.en").read_text("utf-8").splitlines()
ARTICLE = (DATA_DIR / "brussels_ar.txt").read_text("utf-8")
LANG = "{http://www.w3.org/XML/1998/namespace}lang"

OMEGAT = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE tmx SYSTEM "tmx14.dtd">
<tmx version="1.4">
  <header creationtool="OmegaT" o-tmf="OmegaT TMX" adminlang="EN-US" datatype="plaintext"
   creationtoolversion="6.0.0" segtype="sentence" srclang="AR-SA"/>
  <body>
    <tu>
      <prop type="file">brussels.txt</prop>
      <tuv lang="AR-SA" changeid="desk" creationdate="20261201T101010Z">
        <seg>{ar}</seg>
      </tuv>
      <tuv lang="EN-US" changeid="desk">
        <seg>{en}</seg>
      </tuv>
    </tu>
    <tu><tuv lang="FR-FR"><seg>Bonjour</seg></tuv><tuv lang="EN-US"><seg>Hello</seg></tuv></tu>
  </body>
</tmx>
"""


@pytest.fixture(scope="module")
def models(replicas):
    from khulasa.models.options import ModelOptions

    return ModelOptions(translator=str(replicas["opus-mt"]), summarizer="extractive")


def _english(models, memory) -> list:
    from khulasa.models.factory import build_pipeline

    doc = build_pipeline(models.with_(memory=memory)).process(ARTICLE)
    return [(s.english, sorted(f for f in s.flags if f in ("from_desk_memory", "from_memory")))
            for s in doc.segments]  # fmt: skip


def test_export_is_read_by_an_independent_reader_and_round_trips(models, tmp_path, capsys):
    references = {normalize(a): e for a, e in zip(AR, EN, strict=True)}
    team = reference_memory(models, tmp_path / "team.sqlite", [ARTICLE], references)
    tmx = tmp_path / "desk.tmx"
    done = run_main(["memory", "--memory", str(team), "export", "--tmx", str(tmx)], capsys)
    assert done.returncode == 0, done.stderr
    assert "16 sentences" in done.stdout
    root = ET.parse(tmx).getroot()  # the standard library's reader, not translate-toolkit
    assert root.tag == "tmx" and root.get("version") == "1.4"
    assert root.find("header").get("srclang") == "ar"
    units = {}
    for tu in root.iter("tu"):
        langs = {tuv.get(LANG): tuv.findtext("seg") for tuv in tu.iter("tuv")}
        units[langs["ar"]] = langs["en"]
        assert tu.find("prop").get("type") == "x-khulasa-origin"
    assert units == references
    empty = tmp_path / "empty.sqlite"
    done = run_main(["memory", "--memory", str(empty), "import", str(tmx)], capsys)
    assert done.returncode == 0 and "16 sentences" in done.stdout, done.stderr
    imported = _english(models, empty)
    assert [e for e, _ in imported] == [e for e, _ in _english(models, team)] == EN
    assert all(sorted(flags) == ["from_desk_memory", "from_memory"] for _, flags in imported)


def test_a_tmx_from_another_tool_is_used_for_exact_matches(models, tmp_path):
    from khulasa.models.memory import SentenceMemory
    from khulasa.models.tmx import import_tmx

    path = tmp_path / "omegat.tmx"
    path.write_text(OMEGAT.format(ar=AR[5], en="The desk's own: Kerry said ISIS lost steam."),
                    encoding="utf-8")  # fmt: skip
    memory_path = tmp_path / "m.sqlite"
    assert import_tmx(SentenceMemory(memory_path), path) == 1  # the French unit is not ours
    got = _english(models, memory_path)
    assert got[5] == ("The desk's own: Kerry said ISIS lost steam.",
                      ["from_desk_memory", "from_memory"])  # fmt: skip
    assert all("from_desk_memory" not in flags for k, (_, flags) in enumerate(got) if k != 5)


@pytest.mark.parametrize(
    "text, said",
    [
        ("not xml at all", "not TMX"),
        ('<?xml version="1.0"?><!DOCTYPE tmx [<!ENTITY a "aaaaaaaa">]><tmx version="1.4"/>',
         "entities"),
        (OMEGAT.replace("AR-SA", "DE-DE").format(ar="x", en="y"), "no unit with both"),
    ],
)  # fmt: skip
def test_a_malformed_tmx_is_refused_with_the_problem(tmp_path, text, said):
    from khulasa.models.memory import SentenceMemory
    from khulasa.models.tmx import import_tmx

    path = tmp_path / "bad.tmx"
    path.write_text(text, encoding="utf-8")
    memory = SentenceMemory(tmp_path / "m.sqlite")
    with pytest.raises(InputError, match=said) as exc:
        import_tmx(memory, path)
    assert exc.value.code == "bad_tmx" and "Fix:" in str(exc.value)
    assert len(memory) == 0


def test_memory_commands_name_a_missing_file(tmp_path, capsys):
    done = run_main(["memory", "import", str(tmp_path / "nope.tmx")], capsys)
    assert done.returncode == 2 and "no such file" in done.stderr
    done = run_main(["memory", "--memory", str(tmp_path / "none.sqlite"), "export", "--tmx",
                 str(tmp_path / "x.tmx")], capsys)  # fmt: skip
    assert done.returncode == 2 and "no such file" in done.stderr
