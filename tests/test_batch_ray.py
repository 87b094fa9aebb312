"""`khulasa batch --engine ray` on a local Ray instance (this machine's CPUs): the same records
as `--engine local`, every id exactly once across the part files, through a driver killed
with SIGKILL and rerun, and through an actor killed mid-run."""

import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from khulasa.eval.replicas import arabic_text
from khulasa.serve.batch.inputs import UsageError
from khulasa.serve.batch.parts import RUN_NAME, PartsOutput, PartStore, StaleRun, encode_part

pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install -e '.[ray]'")
pa = pytest.importorskip("pyarrow", reason="pyarrow comes with the ray extra")
import pyarrow.parquet as pq  # noqa: E402

VOLATILE = ("timings_ms", "created")  # wall-clock facts, different in every run


READY = "will now block forever"  # `ray start --block`, once its address is printed


class Cluster:
    """One local Ray instance for every Ray test of the session (`ray start --head --block` in
    its own process group, so its processes are the group's and ended with it); commands join
    it through RAY_ADDRESS, as `ray.init()` does, instead of each starting and stopping one."""

    def __init__(self):
        from conftest import free_port

        # Its own temp dir: `ray start` records its address there, so nobody else's bare
        # `ray.init()` on this machine joins it (under /tmp/ray they would).
        self.temp_dir = tempfile.mkdtemp(prefix="kray-", dir="/tmp")
        command = [
            str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
            "--port", str(free_port()), "--temp-dir", self.temp_dir,
            "--dashboard-agent-listen-port", str(free_port()),
            "--include-dashboard", "false", "--disable-usage-stats",
        ]  # fmt: skip
        # Token authentication with a token of its own, given to the commands that join it
        # (cli_env): nothing read from or written to ~/.ray, so a fresh machine runs it too.
        self.auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True, env={**os.environ, **self.auth},
        )  # fmt: skip
        lines: list[str] = []
        reader = threading.Thread(target=self._read, args=(lines,), daemon=True)
        reader.start()
        reader.join(timeout=120)
        if not any(READY in line for line in lines):
            self.close()
            raise RuntimeError("ray start did not start in 120 s:\n" + "".join(lines[-40:]))
        # The address Ray gives (the node's IP: Ray turns 127.0.0.1 into it when joining).
        [self.address] = re.findall(r"--address='([^']+)'", "".join(lines))[:1]

    def _read(self, lines: list[str]) -> None:
        for line in self.process.stdout:
            lines.append(line)
            if READY in line:
                threading.Thread(target=self.process.stdout.read, daemon=True).start()
                return

    def pids(self, name: str = "") -> list[int]:
        """The cluster's Ray processes (workers and actors included) whose command line holds
        `name`."""
        return _ray_pids(name, parent=self.process.pid)

    def close(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=2)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        for pid in self.pids():  # workers the raylet left
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    running = Cluster()
    yield running
    running.close()


@pytest.fixture()
def cli_env(cli_env, cluster):
    """The commands of these tests join the module's Ray instance, with its token."""
    return {**cli_env, "RAY_ADDRESS": cluster.address, **cluster.auth}


@pytest.fixture(autouse=True)
def no_stray_ray_processes():
    """Ray processes a test started in this process's session (a command that started its own
    instance, a killed driver's leftovers) are ended after it; the shared instance runs in a
    session of its own, and nobody else's are touched."""
    before = set(_ray_pids())
    yield
    for pid in set(_ray_pids()) - before:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _ray_pids(name: str = "", parent: int | None = None) -> list[int]:
    """Ray's processes in this process's session, or with `parent`: among its descendants."""
    session, found, children = os.getsid(0), [], {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry.name))
        ray_process = (
            cmd.startswith("ray::") or "/ray/core/src/ray/" in cmd or "ray/_private" in cmd
        )
        if ray_process and name in cmd and stat[0] != "Z":
            if parent is not None or int(stat[3]) == session:
                found.append(int(entry.name))
    if parent is None:
        return found
    family, todo = set(), [parent]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in family:
                family.add(child)
                todo.append(child)
    return [pid for pid in found if pid in family]


def corpus(tmp_path: Path, n: int = 100) -> tuple[list[str], set[str]]:
    """~`n` records over a JSONL, a CSV and a folder of .txt files, some of them bad: the
    inputs and every id they hold."""
    sentences = [s.strip() for s in arabic_text().replace("\n", " ").split(".") if s.strip()]
    rng = random.Random(7)

    def text() -> str:
        return ". ".join(rng.sample(sentences, rng.randint(1, 2))) + "."

    lines, ids = [], set()
    for i in range(n - 20):
        rid = f"j{i}"
        if i % 17 == 5:
            lines.append(json.dumps({"id": rid, "body": text()}))  # missing_text_field
        elif i % 23 == 7:
            lines.append(json.dumps({"id": rid, "text": "  "}))  # empty_input
        elif i % 29 == 11:
            lines.append(json.dumps({"id": rid, "text": text() * 40}))  # too_long
        else:
            lines.append(json.dumps({"id": rid, "text": text()}, ensure_ascii=False))
        ids.add(rid)
    lines.insert(10, "{not json")
    ids.add(f"{tmp_path}/in.jsonl:11")
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    quoted = (text().replace('"', '""') for _ in range(10))  # CSV doubles quotes inside
    rows = "".join(f'c{i},"{t}"\n' for i, t in enumerate(quoted))
    (tmp_path / "in.csv").write_text("id,text\n" + rows, encoding="utf-8")
    ids |= {f"c{i}" for i in range(10)}
    (tmp_path / "txt").mkdir()
    for i in range(9):
        (tmp_path / "txt" / f"t{i}.txt").write_text(text(), encoding="utf-8")
        ids.add(str(tmp_path / "txt" / f"t{i}.txt"))
    (tmp_path / "txt" / "bad.pdf").write_bytes(b"not a PDF at all")  # type_mismatch
    ids.add(str(tmp_path / "txt" / "bad.pdf"))
    inputs = [str(tmp_path / "in.jsonl"), str(tmp_path / "in.csv"), str(tmp_path / "txt")]
    return inputs, ids


def batch_command(replicas, inputs, out, *extra) -> list[str]:
    return [
        sys.executable, "-m", "khulasa.serve", "batch", *map(str, inputs), "-o", str(out),
        "--translator", str(replicas["opus-mt"]), "--summarizer", "extractive",
        "--beams", "1", "--backend", "torch", "--no-memory", "--max-chars", "1500", "--quiet",
        *extra,
    ]  # fmt: skip


def run(command, env, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def part_lines(out: Path) -> list[dict]:
    lines = []
    for part in sorted(out.glob("part-*.jsonl")):
        lines += [json.loads(x) for x in part.read_text(encoding="utf-8").splitlines()]
    return lines


def comparable(line: dict) -> dict:
    if "document" in line:
        for key in VOLATILE:
            line["document"]["meta"].pop(key, None)
    return line


def exactly_once(lines: list[dict], ids: set[str]) -> Counter:
    counts = Counter(line["id"] for line in lines)
    assert set(counts) == ids
    assert max(counts.values()) == 1, [i for i, n in counts.items() if n > 1]
    return counts


def test_ray_gives_the_records_local_gives_each_id_once(replicas, tmp_path, cli_env):
    inputs, ids = corpus(tmp_path)
    ray_out, local_out = tmp_path / "ray-out", tmp_path / "local.jsonl"
    ray_run = run(batch_command(replicas, inputs, ray_out, "--engine", "ray"), cli_env)
    local_run = run(batch_command(replicas, inputs, local_out), cli_env)
    assert local_run.returncode == ray_run.returncode == 1, ray_run.stderr[-3000:]  # bad records
    summary = [r.stderr.strip().splitlines()[-1] for r in (ray_run, local_run)]
    assert summary[0].split(",")[:3] == summary[1].split(",")[:3]  # done, failed, skipped
    assert "khulasa batch: " in summary[0] and " failed" in summary[0]
    ray_lines = part_lines(ray_out)
    exactly_once(ray_lines, ids)
    local_lines = [json.loads(x) for x in local_out.read_text(encoding="utf-8").splitlines()]
    by_id = {line["id"]: comparable(line) for line in local_lines}
    assert {line["id"]: comparable(line) for line in ray_lines} == by_id
    errors = Counter(line["error"]["code"] for line in ray_lines if "error" in line)
    assert set(errors) == {
        "missing_text_field", "empty_input", "too_long", "invalid_json", "type_mismatch"
    }  # fmt: skip
    assert not list(ray_out.glob(".*.tmp"))  # every part renamed into place
    again = run(batch_command(replicas, inputs, ray_out, "--engine", "ray"), cli_env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"0 documents done, 0 failed, {len(ids)} skipped" in again.stderr
    exactly_once(part_lines(ray_out), ids)


def wait_for_parts(out: Path, at_least: int, process, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = len(list(out.glob("part-*"))) if out.is_dir() else 0
        if found >= at_least:
            return found
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.05)
    raise AssertionError(f"no {at_least} parts in {out} after {timeout} s")


def test_an_actor_then_the_driver_killed_mid_run_then_rerun_every_id_once(
    replicas, tmp_path, cli_env, cluster
):
    # One run for both failures (each run costs a driver, its workers and a model load): an
    # actor killed mid-run is replaced and the run goes on; then the driver is killed; the
    # rerun completes every id exactly once.
    inputs, ids = corpus(tmp_path)
    out = tmp_path / "out"
    command = batch_command(replicas, inputs, out, "--engine", "ray", "--batch-docs", "2")
    before = set(cluster.pids("MapBatches(Translate)"))
    driver = subprocess.Popen(command, env=cli_env, stderr=subprocess.PIPE, text=True)
    wait_for_parts(out, 3, driver)
    actors = set(cluster.pids("MapBatches(Translate)")) - before
    assert actors, "no translating actor found"
    for pid in actors:
        os.kill(pid, signal.SIGKILL)
    at_actor_kill = len(list(out.glob("part-*")))
    parts = wait_for_parts(out, at_actor_kill + 2, driver)  # a new actor writes on
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    at_kill = Counter(line["id"] for line in part_lines(out))
    print(f"actor killed at {at_actor_kill} parts, driver at {parts}: {len(at_kill)} ids")
    assert len(at_kill) < len(ids) and max(at_kill.values()) == 1
    rerun = run(command, cli_env)
    assert rerun.returncode == 1, rerun.stderr[-3000:]  # the bad records, nothing else
    counts = exactly_once(part_lines(out), ids)
    print(f"after the rerun: {len(counts)} ids, {sum(counts.values())} records")
    assert "skipped (already done)" in rerun.stderr
    done, failed, skipped = (
        int(rerun.stderr.split(w)[0].split()[-1])
        for w in (" documents done", " failed", " skipped")
    )
    assert done + failed + skipped == len(ids) and skipped >= len(at_kill)


def test_parquet_in_and_out_through_uris_resumes(replicas, tmp_path, cli_env):
    texts = [". ".join(arabic_text().split(".")[i : i + 2]) for i in range(12)]
    table = pa.table({"id": [f"p{i}" for i in range(12)] + ["p12"], "text": texts + [None]})
    pq.write_table(table, tmp_path / "in.parquet")
    out = tmp_path / "pq-out"
    command = batch_command(
        replicas, [f"file://{tmp_path}/*.parquet"], f"file://{out}", "--engine", "ray",
        "--format", "parquet",
    )  # fmt: skip
    first = run(command, cli_env)
    assert first.returncode == 1, first.stderr[-3000:]  # p12 has no text
    rows = pa.concat_tables([pq.read_table(p) for p in out.glob("part-*.parquet")]).to_pylist()
    assert sorted(r["id"] for r in rows) == sorted(f"p{i}" for i in range(13))
    by_id = {r["id"]: r for r in rows}
    assert json.loads(by_id["p12"]["error"])["code"] == "missing_text_field"
    assert by_id["p12"]["document"] is None
    assert json.loads(by_id["p0"]["document"])["paragraphs"][0]["segments"][0]["source"]
    again = run(command, cli_env)
    assert "0 documents done, 0 failed, 13 skipped" in again.stderr
    as_jsonl = run([c for c in command if c not in ("--format", "parquet")], cli_env)
    assert as_jsonl.returncode == 2 and "--format parquet" in as_jsonl.stderr
    local = run(batch_command(replicas, [tmp_path / "in.parquet"], tmp_path / "l.jsonl"), cli_env)
    assert local.returncode == 1 and "12 documents done, 1 failed" in local.stderr


def test_ray_usage_errors_exit_2_before_anything_runs(replicas, tmp_path, cli_env):
    inputs, _ = corpus(tmp_path, n=30)
    (tmp_path / "file.jsonl").write_text("", encoding="utf-8")
    cases = {
        ("--actors", "2"): "--actors needs --engine ray",
        ("-o", "s3://bucket/out/"): "is a URI: --engine local writes a file",
        ("--engine", "ray", "-o", str(tmp_path / "file.jsonl")): "is a file",
        ("--engine", "ray", "--actors", "0"): "--actors must be a whole number",
    }
    for extra, message in cases.items():
        result = run(batch_command(replicas, inputs, tmp_path / "o", *extra), cli_env)
        assert result.returncode == 2, (extra, result.stderr[-2000:])
        assert message in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "dup.jsonl").write_text('{"id": "a", "text": "x"}\n' * 2, encoding="utf-8")
    dup = run(
        batch_command(replicas, [tmp_path / "dup.jsonl"], tmp_path / "o", "--engine", "ray"),
        cli_env,
    )
    assert dup.returncode == 2 and "1 ids occur more than once in the input ('a' x2)" in dup.stderr
    stdin = run(batch_command(replicas, ["-"], tmp_path / "o", "--engine", "ray"), cli_env)
    assert stdin.returncode == 2 and "cannot read stdin" in stdin.stderr
    uri = run(batch_command(replicas, ["s3://bucket/in.jsonl"], tmp_path / "o.jsonl"), cli_env)
    assert uri.returncode == 2 and "reads files on this machine only" in uri.stderr
    missing = ("--engine", "ray", "--translator", str(tmp_path / "nowhere"))
    no_model = run(batch_command(replicas, inputs, tmp_path / "o", *missing), cli_env)
    assert no_model.returncode == 1 and "nowhere" in no_model.stderr
    assert "Fix:" in no_model.stderr and "Traceback" not in no_model.stderr
    assert not (tmp_path / "o").exists()


def test_without_ray_the_engine_names_the_install(monkeypatch):
    from khulasa.serve.batch import ray_engine as batch_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UsageError, match=r"pip install -e '\.\[ray\]'"):
        batch_ray._import_ray()


def test_an_id_in_two_parts_is_kept_in_the_first_only(tmp_path):
    out = PartsOutput(str(tmp_path), "jsonl")
    store = out.store
    line = {"id": "a", "source": "s", "error": {"code": "x", "message": "m"}}
    store.write("part-1.jsonl", encode_part([line, {**line, "id": "b"}], "jsonl"))
    store.write("part-2.jsonl", encode_part([{**line, "id": "b"}, {**line, "id": "c"}], "jsonl"))
    store.write("part-3.jsonl", encode_part([{**line, "id": "c"}], "jsonl"))
    done, removed = out.scan()
    assert (done, removed) == ({"a", "b", "c"}, 2)
    assert sorted(p.name for p in tmp_path.glob("part-*")) == ["part-1.jsonl", "part-2.jsonl"]
    assert [json.loads(x)["id"] for x in (tmp_path / "part-2.jsonl").read_text().splitlines()] == [
        "c"
    ]
    with pytest.raises(UsageError, match="locked"):
        PartsOutput(str(tmp_path), "jsonl")
    out.close()


def test_a_worker_of_a_replaced_run_writes_nothing(tmp_path):
    first = PartsOutput(str(tmp_path), "jsonl")
    worker = PartStore(str(tmp_path), first.run_id)
    worker.write("part-a.jsonl", b'{"id": "a"}\n')
    first.close()  # the driver dies; a rerun takes the output over
    second = PartsOutput(str(tmp_path), "jsonl")
    assert (tmp_path / RUN_NAME).read_text() == second.run_id
    with pytest.raises(StaleRun):
        worker.write("part-b.jsonl", b'{"id": "b"}\n')
    assert not (tmp_path / "part-b.jsonl").exists()
    second.close()


def test_a_memory_on_a_network_filesystem_is_recognised(tmp_path):
    from khulasa.serve.batch.ray_tasks import _network_filesystem

    mounts = tmp_path / "mounts"
    mounts.write_text(
        "overlay / overlay rw 0 0\nserver:/export /mnt/shared nfs4 rw 0 0\n", encoding="utf-8"
    )
    assert _network_filesystem("/mnt/shared/khulasa/memory.sqlite", str(mounts))
    assert not _network_filesystem("/home/me/.cache/khulasa/memory.sqlite", str(mounts))
    assert not _network_filesystem("/mnt/sharedother/memory.sqlite", str(mounts))


def test_actors_planned_from_what_the_cluster_has():
    from khulasa.serve.batch.ray_engine import RayOptions, plan

    class Cluster:
        def __init__(self, *nodes):
            self._nodes = [{"Alive": True, "Resources": n} for n in nodes]

        def nodes(self):
            return self._nodes

    cpus_only = Cluster({"CPU": 16}, {"CPU": 16})
    assert plan(cpus_only, RayOptions()) == (8, 4, 0)
    assert plan(Cluster({"CPU": 2}), RayOptions()) == (1, 2, 0)
    assert plan(cpus_only, RayOptions(actor_cpus=2)) == (16, 2, 0)
    with_gpus = Cluster({"CPU": 8, "GPU": 2}, {"CPU": 8})
    assert plan(with_gpus, RayOptions()) == (2, 1, 1)
    assert plan(with_gpus, RayOptions(actor_gpus=0.5)) == (4, 1, 0.5)
    assert plan(with_gpus, RayOptions(actors=3, actor_gpus=0)) == (3, 4, 0)


def test_a_folder_of_many_files_starts_a_few_ray_workers_not_one_per_file(
    replicas, tmp_path, cli_env, cluster
):
    folder = tmp_path / "many"
    folder.mkdir()
    sentences = [s for s in arabic_text().split(".") if s.strip()]
    for k in range(80):
        (folder / f"{k:03d}.txt").write_text(f"{sentences[k % len(sentences)]} {k}.", "utf-8")
    out = tmp_path / "out"
    before = len(cluster.pids("ray::"))  # idle workers earlier tests of the shared instance left
    driver = subprocess.Popen(
        batch_command(replicas, [folder], out, "--engine", "ray"),
        env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    peak = 0
    while driver.poll() is None:
        peak = max(peak, len(cluster.pids("ray::")))
        time.sleep(0.2)
    assert driver.returncode == 0, driver.stderr.read()[-2000:]
    assert len(part_lines(out)) == 80
    cpus = os.cpu_count() or 1
    peak -= before
    print(f"80 files: peak {peak} more Ray worker processes on {cpus} CPUs")
    assert peak <= 4 * cpus + 2, peak  # the parse tasks, the actors, Ray's prestarted idle
