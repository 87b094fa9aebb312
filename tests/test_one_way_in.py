"""One way in (serve/admission.py): every door counts what a request brings before and while
it is read, never after, and reads record files in the bounded worker, so a small hostile
file or a long body costs the budget at most. The hostile inputs are built here."""

from __future__ import annotations

import io
import re
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import serve_options
from hostile import token_heavy_pdf

from khulasa.serve.admission import Allowance, Tally
from khulasa.serve.limits import Gate, Guard
from khulasa.serve.service import Downloads, ModelPool
from khulasa.serve.web.coverage import uploaded
from khulasa.serve.web.page import build_app


def parquet_bomb(rows: int = 6_000, chars: int = 100_000) -> bytes:
    """About 500 bytes: one long text, dictionary-encoded and compressed, repeated `rows`
    times (1.2 GB of text once decoded a row at a time)."""
    table = pa.table({"text": pa.array(["ب" * chars] * rows).dictionary_encode()})
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd", use_dictionary=True)
    return out.getvalue()


def peak_mib() -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1)) // 1024


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak (VmHWM) starts again from what is held now


class Visitor:
    session_hash = "visitor-1"
    client = None
    username = None


@pytest.fixture(scope="module")
def coverage(replicas):
    """The Coverage tab's handler as Gradio calls it, on a server with 20 documents and
    100,000 characters a digest."""
    options = serve_options(replicas, summarizer="extractive", backend="torch", digest_docs=20,
                            digest_chars=100_000)  # fmt: skip
    app = build_app(options, ModelPool(options), Gate(1, 1), Guard(options), Downloads(60))
    return next(
        f.fn for f in app.fns.values() if getattr(f.fn, "__qualname__", "") == "CoveragePage.run"
    )


def last_status(updates) -> tuple[str, float]:
    started = time.perf_counter()
    *_, final = updates
    return final[0], time.perf_counter() - started


@pytest.mark.parametrize(
    "chars, refusal",
    [(100_000, "more than 20 records"), (10_000, "more than 100,000 characters")],
)
def test_a_parquet_bomb_on_the_coverage_tab_is_refused_within_its_budget(
    coverage, tmp_path, chars, refusal
):
    bomb = tmp_path / "bomb.parquet"
    bomb.write_bytes(parquet_bomb(chars=chars))
    assert bomb.stat().st_size < 1_000
    reset_peak()
    before = peak_mib()
    status, seconds = last_status(coverage([str(bomb)], "", "", 3, Visitor()))
    assert refusal in status, status
    assert seconds < 10
    assert peak_mib() - before < 100  # the server holds none of it; the worker read it
    assert str(tmp_path) not in status


def test_too_many_files_are_refused_before_any_is_read(coverage, tmp_path):
    heavy = token_heavy_pdf()
    paths = []
    for k in range(22):
        path = tmp_path / f"heavy-{k}.pdf"
        path.write_bytes(heavy)
        paths.append(str(path))
    status, seconds = last_status(coverage(paths, "", "", 3, Visitor()))
    assert "22 documents; at most 20" in status and seconds < 2


def test_a_file_that_expands_past_the_limit_is_refused_where_it_is_read(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("ب " * 60_000, encoding="utf-8")
    tally = Tally(Allowance(max_docs=5, max_chars=20_000, max_total=100_000))
    [item] = uploaded([str(big)], tally)
    assert item.error.code == "too_long" and item.text is None and tally.chars == 0


def test_a_malformed_parquet_is_an_error_record_on_batch_and_digest(replicas, tmp_path, capsys):
    from khulasa.serve.cli import main

    for k, data in enumerate([b"PAR1\0\0", b"not parquet at all" * 20]):
        bad = tmp_path / f"bad-{k}.parquet"
        bad.write_bytes(data)
        out = tmp_path / f"out-{k}.jsonl"
        code = main(["batch", str(bad), "-o", str(out), "--translator", str(replicas["opus-mt"]),
                     "--summarizer", "extractive", "--backend", "torch"])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 1 and "Traceback" not in err
        assert '"code": "unreadable"' in out.read_text(encoding="utf-8")
        digest = tmp_path / f"d-{k}.json"
        main(["digest", str(bad), "-o", str(digest), "--translator", str(replicas["opus-mt"]),
              "--summarizer", "extractive", "--backend", "torch"])  # fmt: skip
        said = capsys.readouterr().err + (digest.read_text("utf-8") if digest.exists() else "")
        assert "Traceback" not in said and f"bad-{k}.parquet as Parquet" in said
