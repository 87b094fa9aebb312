"""Plausible mistakes on the command line: each gets one line that says what to do, exit 2 for
a usage mistake and 1 for a problem at run time, and never a traceback."""

import os
import pty
import socket
import subprocess
import sys
import time

import pytest
from conftest import SAMPLE_AR

from khulasa.serve.cli import main

CASES = [  # (arguments, exit status, what the message must say)
    (["translate", "{sample}", "--beams", "-1"], 2, "beams must be 0 (the model's default) or 1"),
    (["translate", "{sample}", "--beams", "100000"], 2, "beams must be 0"),
    (["batch", "{sample}", "-o", "{tmp}/o.jsonl", "--beams", "-1"], 2, "beams must be 0"),
    (["translate", "{sample}", "--device", "gpu"], 2, "Unknown device 'gpu'"),
    (["translate", "{sample}", "--sentences", "0"], 2, "--sentences must be a whole number"),
    (["translate", "{sample}", "--sentences", "-2"], 2, "--sentences must be a whole number"),
    (["batch", "{sample}", "-o", "{tmp}/o.jsonl", "--max-chars", "-5"], 2, "--max-chars must"),
    (["batch", "{sample}", "-o", "{tmp}"], 2, "is a directory. Fix: name a file"),
    (["serve", "--port", "99999"], 2, "--port must be between 1 and 65535"),
    (["serve", "--api-keys", "{tmp}/missing"], 2, "does not exist. Fix: give a file"),
    (["translate", "{tmp}"], 2, "is a directory: translate takes one file"),
    (["translate", "/dev/null"], 1, "The input is empty"),
    (["translate", "{sample}", "--translator", "opus-mt-big"], 2, "Did you mean opus-mt"),
    (["translate", "{tmp}/en.txt"], 1, "This text is not Arabic (0% of its letters are Arabic)"),
    (["translate", "{tmp}/en.txt"], 1, "pass --force to translate it anyway"),
    (
        ["translate", "{sample}", "{sample}"],
        2,
        "translate takes one article, not 2. For several: khulasa batch",
    ),
    (["translate", "{tmp}/bad.docx"], 1, "cannot be opened as one (it is damaged or cut short)"),
    (["eval", "summary", "--src", "{tmp}/cp1256.txt", "--pred", "{sample}"], 2, "not allowed"),
    (
        [
            "eval",
            "summary",
            "--src",
            "{tmp}/cp1256.txt",
            "--ref",
            "{sample}",
            "--translator",
            "{opus}",
            "--summarizer",
            "extractive",
        ],
        1,
        "is not valid UTF-8",
    ),
]


@pytest.mark.parametrize("argv, status, fragment", CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_a_mistake_gets_one_line_and_the_right_exit(
    argv, status, fragment, replicas, tmp_path, capsys
):
    (tmp_path / "cp1256.txt").write_bytes("قال كيري".encode("cp1256"))
    (tmp_path / "en.txt").write_text("The coalition met in Brussels on Wednesday.", "utf-8")
    (tmp_path / "bad.docx").write_bytes(b"PK\x03\x04 cut short")
    argv = [a.format(sample=SAMPLE_AR, tmp=tmp_path, opus=replicas["opus-mt"]) for a in argv]
    if "--translator" not in argv and argv[0] in ("translate", "batch"):
        argv += ["--translator", str(replicas["opus-mt"]), "--summarizer", "extractive"]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == status, err
    assert fragment in err and "Traceback" not in err
    if status == 1 or "khulasa" in err.split(":")[0]:
        assert len(err.strip().splitlines()) == 1, err


def test_force_translates_what_is_not_arabic_and_warns(replicas, tmp_path, capsys):
    english = tmp_path / "en.txt"
    english.write_text("The coalition met in Brussels on Wednesday.", "utf-8")
    models = ["--translator", str(replicas["opus-mt"]), "--summarizer", "extractive"]
    assert main(["translate", str(english), "--force", "--json", *models]) == 0
    assert '"mostly_non_arabic"' in capsys.readouterr().out
    assert main(["translate", str(english), "--force", *models]) == 0
    assert "khulasa: warning: mostly non arabic" in capsys.readouterr().err


def test_a_bare_model_name_that_is_no_preset_names_the_presets(capsys):
    assert main(["translate", str(SAMPLE_AR), "--translator", "foo"]) == 1
    err = capsys.readouterr().err
    assert "'foo' is not a preset" in err and "opus-mt-tc-big, opus-mt, nllb-600m" in err
    assert "models fetch foo" not in err and "khulasa models fetch ORG/NAME" in err


def test_beams_0_means_the_models_own_everywhere(replicas, capsys):
    argv = [
        "translate",
        str(SAMPLE_AR),
        "--translator",
        str(replicas["opus-mt"]),
        "--summarizer",
        "none",
        "--beams",
        "0",
        "--backend",
        "torch",
        "--json",
        "--no-summary",
    ]
    assert main(argv) == 0
    assert '"beams": 4' in capsys.readouterr().out  # the replica's generation config


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_named(replicas, capsys):
    argv = [
        "translate",
        str(SAMPLE_AR),
        "--translator",
        str(replicas["opus-mt"]),
        "--summarizer",
        "extractive",
        "--device",
        "cuda",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "no usable GPU" in err and "--device cpu" in err


def test_a_taken_port_is_named_before_any_model_loads(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--translator", "opus-mt"]) == 1
    err = capsys.readouterr().err
    assert f"Cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_reading_a_terminal_says_so(replicas, cli_env):
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "khulasa.serve",
            "translate",
            "--translator",
            str(replicas["opus-mt"]),
            "--summarizer",
            "extractive",
        ],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env,
    )
    said = b""
    while b"standard input" not in said:  # the prompt, once it reads the terminal
        line = proc.stderr.readline()
        if not line:
            break  # it ended without one: the assertions below say so
        said += line
    os.write(leader, b"\x04")  # Ctrl-D: the end of an empty article
    _, err = proc.communicate(timeout=60)
    err = said + err
    os.close(leader)
    os.close(follower)
    assert b"reading the article from standard input; end it with Ctrl-D" in err
    assert proc.returncode == 1 and b"The input is empty" in err


def test_serve_starts_quietly_and_says_where(replicas, cli_env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "khulasa.serve",
            "serve",
            "--port",
            str(port),
            "--translator",
            str(replicas["opus-mt"]),
            "--summarizer",
            "extractive",
            "--backend",
            "torch",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=cli_env,
    )
    out = b""
    try:
        deadline = time.monotonic() + 120
        while b"serving on" not in out and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out += line
    finally:
        proc.terminate()
        proc.wait(30)
    assert f"serving on http://127.0.0.1:{port}".encode() in out, out
    assert b"share=True" not in out and b"Traceback" not in out
