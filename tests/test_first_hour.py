"""A newcomer's first hour (#36): the documentation builds strictly and its CLI reference is
the parsers' own; its runnable examples run; `serve --replicas` serves without network or
weights and says what its models are; every mistake gets its exit code and its message."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from khulasa.serve.cli import EXAMPLES, build_parser, commands, main, parse


def _mkdocs(site: Path, config: Path = ROOT / "mkdocs.yml"):
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        capture_output=True, text=True, timeout=120, cwd=config.parent,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def test_the_docs_build_strictly_and_a_broken_link_fails_the_build(tmp_path):
    built = _mkdocs(tmp_path / "site")
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").is_file()
    # The same site with one broken link does not build: strict checking works.
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    page = copy / "docs" / "page.md"
    page.write_text(page.read_text("utf-8") + "\nSee [nowhere](no-such-page.md).\n", "utf-8")
    broken = _mkdocs(tmp_path / "site2", copy / "mkdocs.yml")
    assert broken.returncode != 0 and "no-such-page.md" in broken.stderr


def test_the_cli_reference_is_the_parsers_own():
    from khulasa.serve.cli_reference import reference

    shipped = (ROOT / "docs" / "reference" / "cli.md").read_text("utf-8")
    assert shipped == reference(), (
        "docs/reference/cli.md is stale: python -m khulasa.serve.cli_reference --write"
    )


def _runnable(path: Path) -> list[str]:
    """The commands of the code blocks under a `<!-- runs -->` line."""
    text = path.read_text("utf-8")
    blocks = re.findall(r"<!-- runs -->\n```[a-z]*\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


@pytest.mark.parametrize("line", _runnable(ROOT / "docs" / "cli.md"))
def test_the_docs_runnable_examples_run_as_written(line, cli_env):
    args = shlex.split(line)
    assert args[0] == "khulasa"
    run = subprocess.run([sys.executable, "-m", "khulasa.serve", *args[1:]], cwd=ROOT,
                         capture_output=True, env=cli_env, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr.decode()


def test_every_command_has_an_example_in_its_help_and_each_example_parses():
    parser = build_parser()
    for path, command in commands(parser):
        assert "Example: khulasa " in (command.epilog or "") + (command.description or ""), path
    for example in EXAMPLES.values():
        parse(build_parser(), shlex.split(example.split("   (")[0])[1:])  # exits 2 if wrong


@pytest.mark.parametrize(
    "args, said",
    [
        (["translate", "--model", "opus-mt", "x.txt"], "Did you mean --translator?"),
        (["serve", "--replicaz"], "Did you mean --replicas?"),
        (["digest", "a.txt", "--ouptut", "d.md"], "Did you mean --output?"),
        (["translate", "/no/such/file.txt"], "No such file: /no/such/file.txt"),
        (["batch", "/no/such/file.txt", "-o", "out.jsonl"], "No such input: /no/such/file.txt"),
        (["digest", "/no/such/a.txt", "/no/such/b.txt"], "No such input: /no/such/a.txt"),
        (["check", "/no/such/a", "/no/such/b"], "No such file: /no/such/a"),
    ],
)
def test_a_usage_mistake_exits_2_with_its_fix(args, said, capsys):
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and said in err, err
    assert f"khulasa {args[0]}" in err  # the command's own usage or name, not the top level's


def test_every_missing_model_is_named_at_once_with_a_way_without_weights(tmp_path, monkeypatch):
    from khulasa.models.errors import ModelNotFound
    from khulasa.models.factory import locate
    from khulasa.models.options import ModelOptions

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelNotFound) as err:
        locate(ModelOptions(translator="opus-mt-tc-big", summarizer="distilbart-cnn"))
    said = str(err.value)
    assert "khulasa models fetch opus-mt-tc-big" in said
    assert "khulasa models fetch distilbart-cnn" in said
    assert "--summarizer extractive" in said and "khulasa serve --replicas" in said


def test_serve_replicas_builds_once_and_the_page_says_what_its_models_are(
    tmp_path, monkeypatch, capsys
):
    from khulasa.serve.cli import offline_replicas
    from khulasa.serve.limits import Gate, Guard
    from khulasa.serve.service import Downloads, ModelPool, ServeOptions
    from khulasa.serve.web.page import build_app

    monkeypatch.setenv("KHULASA_HOME", str(tmp_path / "home"))
    models = offline_replicas()
    err = capsys.readouterr().err
    assert "random weights" in err and "random words" in err and "models fetch" in err
    built = {k: (Path(v) / "REPLICA.md").stat().st_mtime_ns for k, v in models.items()}
    assert offline_replicas() == models  # cached: the second start builds nothing
    assert {k: (Path(v) / "REPLICA.md").stat().st_mtime_ns for k, v in models.items()} == built
    options = ServeOptions(replicas=True)
    options = ServeOptions(models=options.models.with_(**models), replicas=True)
    app = build_app(options, ModelPool(options), Gate(1, 1), Guard(options), Downloads(60))
    banner = next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == "kh-replicas")
    assert "Demo models, not translations." in banner.value
    assert "random words" in banner.value


def test_how_it_works_names_every_module():
    table = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    modules = [p for d in ("models", "serve", "eval") for p in (ROOT / d).rglob("*.py")]
    missing = [str(p.relative_to(ROOT)) for p in modules
               if p.name != "__init__.py" and p.stem not in table]  # fmt: skip
    assert not missing, f"docs/architecture.md's table does not name: {missing}"
