import json
import subprocess
import sys


def test_bench_runs_on_tiny_replicas_and_emits_its_json(cli_env):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "khulasa.serve",
            "bench",
            "--size",
            "tiny",
            "--runs",
            "1",
            "--json",
            "--translator",
            "opus-mt",
        ],
        capture_output=True,
        env=cli_env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    result = json.loads(run.stdout)
    assert result["article"] == "brussels_ar" and result["translator"] == "opus-mt"
    assert set(result["seconds"]) == {
        "demo-path",
        "khulasa-torch",
        "khulasa-ct2",
        "raw-ct2",
        "end-to-end-quality",
        "end-to-end-fast",
        "first-sentence",
    }
    assert all(v > 0 for v in result["seconds"].values())
    assert set(result["ratios"]) == {"demo_over_khulasa", "khulasa_over_raw_ct2"}
    assert result["output_tokens"] > result["source_tokens"] > 0
    # The tiny replica's 128-token limit truncates the demo path's whole-article input.
    assert result["demo_dropped_source_tokens"] > 0
    assert result["peak_rss_mb"] > 0 and result["versions"]["ctranslate2"]
    # A fresh home: every long step says what it is doing and about how long it will take.
    err = run.stderr.decode()
    assert "khulasa bench: building the tiny replica of opus-mt" in err and "built in" in err
    assert "1 of 3" in err and "3 of 3" in err
    assert "khulasa-ct2: warm-up" in err and "timed runs, about" in err
    assert "converting" in err  # the ct2 copy, made once with its size and estimate
