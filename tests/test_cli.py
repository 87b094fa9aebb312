import json
import re
import subprocess
import sys

from khulasa.serve.cli import main


def khulasa(args, env, stdin=b""):
    return subprocess.run(
        [sys.executable, "-m", "khulasa.serve", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=300,
    )


def test_translate_end_to_end_in_a_subprocess(replicas, cli_env, tmp_path):
    from conftest import SAMPLE_AR

    run = khulasa(
        [
            "translate",
            str(SAMPLE_AR),
            "--translator",
            str(replicas["opus-mt"]),
            "--summarizer",
            str(replicas["distilbart-cnn"]),
            "--json",
        ],
        cli_env,
    )
    assert run.returncode == 0, run.stderr.decode()
    doc = json.loads(run.stdout.decode("utf-8"))
    assert len([s for p in doc["paragraphs"] for s in p["segments"]]) == 16
    assert doc["meta"]["summarizer"]["mode"] == "abstractive"

    text = SAMPLE_AR.read_bytes()
    run = khulasa(
        [
            "translate",
            "-",
            "--translator",
            str(replicas["nllb-600m"]),
            "--summarizer",
            "extractive",
            "--sentences",
            "2",
        ],
        cli_env,
        stdin=text,
    )
    assert run.returncode == 0, run.stderr.decode()
    out = run.stdout.decode("utf-8")
    assert "Summary:" in out and out.count("  [sentences ") == 2
    # The warnings go to standard error (standard output stays the English and its summary):
    # replicas write random words, so sentences are marked, each with its reason.
    err = run.stderr.decode("utf-8")
    assert "khulasa: ⚑ sentence " in err and "⚑" not in out.split("Summary:")[0]
    assert err.rstrip().splitlines()[-1].startswith("khulasa: to check: ")


def test_bad_input_gets_a_named_error_and_no_traceback(replicas, cli_env, tmp_path):
    opus = ["--translator", str(replicas["opus-mt"]), "--no-summary"]
    latin1 = tmp_path / "legacy.txt"
    latin1.write_bytes("Déclaration du ministère".encode("latin-1"))
    cases = [
        (["translate", str(latin1), *opus], b"", "not valid UTF-8"),
        (["translate", "-", *opus], " \n\u200b\n".encode(), "The input is empty"),
    ]
    # (A missing file is a usage mistake, exit 2: tests/test_first_hour.py.)
    for args, stdin, expected in cases:
        run = khulasa(args, cli_env, stdin)
        err = run.stderr.decode()
        assert run.returncode == 1, (args, err)
        assert expected in err and "Traceback" not in err


def test_help_does_not_import_torch(cli_env):
    code = (
        "import sys\nfrom khulasa.serve.cli import main\ntry:\n    main(['--help'])\n"
        "except SystemExit:\n    pass\nprint('torch' in sys.modules, "
        "'transformers' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, env=cli_env, timeout=60)
    assert run.stdout.decode().strip().splitlines()[-1] == "False False"


def test_models_list_shows_presets_and_whether_they_are_local(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in (
        "opus-mt-tc-big",
        "Helsinki-NLP/opus-mt-tc-big-ar-en",
        "nllb-600m",
        "CC-BY-NC-4.0",
        "distilbart-cnn",
        "extractive",
    ):
        assert name in out
    assert "built in" in out and " no " in out


def test_usage_errors_exit_2(capsys):
    try:
        main(["translate", "--beams"])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("argparse accepted a missing value")


def test_serve_exits_with_the_fix_when_weights_are_missing(replicas, cli_env):
    run = khulasa(
        [
            "serve",
            "--translator",
            str(replicas["opus-mt"]),
            "--summarizer",
            "distilbart-cnn",
            "--port",
            "0",
        ],
        cli_env,
    )
    err = run.stderr.decode()
    assert run.returncode == 1
    assert "khulasa models fetch distilbart-cnn" in err and "Traceback" not in err


def test_fetch_without_network_reports_every_model_and_the_fix(cli_env):
    run = khulasa(["models", "fetch", "opus-mt", "distilbart-cnn"], cli_env)  # offline here
    err = run.stderr.decode()
    assert run.returncode == 1
    assert "Could not download 2 of 2 models" in err
    assert "Helsinki-NLP/opus-mt-ar-en: " in err and "sshleifer/distilbart-cnn-12-6: " in err
    assert "check the network" in err and "--translator DIR or --summarizer DIR" in err
    assert "without network or weights: khulasa serve --replicas" in err
    assert not re.search(r"(?<!\.)\.\.(?!\.)", err)  # no doubled period
    assert "Traceback" not in err


def test_fetch_converts_for_the_ct2_backend_so_the_first_use_does_not(
    replicas, monkeypatch, capsys
):
    import huggingface_hub

    from khulasa.models.env import khulasa_home

    # The hub, unreachable here, hands over the replica as if it had downloaded opus-mt.
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: replicas["opus-mt"])
    assert main(["models", "fetch", "opus-mt"]) == 0
    err = capsys.readouterr().err
    assert "converting 'opus-mt' for the ct2 backend (int8), once" in err and "converted in" in err
    assert list((khulasa_home() / "ct2").glob("*--int8/model.bin"))


def test_output_piped_into_a_reader_that_stops_ends_quietly(cli_env):
    # `khulasa models list | head`: the reader stops reading (here `true`, at once, before
    # khulasa has written a line); no traceback, and khulasa's own exit status is 0.
    command = f"set -o pipefail; '{sys.executable}' -m khulasa.serve models list | true"
    run = subprocess.run(["bash", "-c", command], capture_output=True, env=cli_env, timeout=120)
    assert run.returncode == 0 and b"Traceback" not in run.stderr, run.stderr.decode()
