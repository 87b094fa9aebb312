"""The installed distribution exposes khulasa.models / khulasa.serve / khulasa.eval and puts
nothing named `models`, `serve` or `eval` at the top of site-packages."""

import shutil
import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_installs_under_the_khulasa_name_only(tmp_path):
    # Over 60 lines for a reason: one scenario, step by step, whose order is the point.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in ("models", "serve", "eval"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(src),
            "-w",
            str(wheels),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(wheels.glob("khulasa-*.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"khulasa", wheel.name.split("-py3")[0] + ".dist-info"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "khulasa/serve/examples/brussels_ar.txt" in names
    assert "khulasa/serve/examples/coverage_ar.txt" in names  # the Coverage tab's example
    for door in ("web/page.py", "rest/routes.py", "batch/local.py"):  # the doors' folders
        assert "khulasa/serve/" + door in names
    assert "khulasa/models/reading/article.py" in names
    assert "khulasa/eval/data/brussels.sent.en" in names
    assert "khulasa/eval/data/coverage/report_en.txt" in names  # the coverage set
    assert "khulasa/models/digest/digest.schema.json" in names
    # The page's style, script and Arabic face (with its licence) ship in the package.
    static = "khulasa/serve/web/static/"
    for name in ("page.css", "page.js", "fonts/OFL-NotoNaskhArabic.txt"):
        assert static + name in names
    assert static + "fonts/noto-naskh-arabic-arabic-400-normal.woff2" in names
    assert static + "fonts/noto-naskh-arabic-latin-400-normal.woff2" in names  # digits in Arabic
    # bench and eval reach the `khulasa` command through the khulasa.commands entry points.
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    points = zipfile.ZipFile(wheel).read(entry).decode()
    assert "[khulasa.commands]" in points and "khulasa.eval.bench:register" in points

    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code = (
        "import importlib.util as u, khulasa.models, khulasa.serve, khulasa.eval\n"
        "from khulasa.models.presets import PRESETS\n"
        "print(sorted(n for n in ('models', 'serve', 'eval') if u.find_spec(n)), "
        "len(PRESETS))"
    )
    run = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["[]", "7"]
