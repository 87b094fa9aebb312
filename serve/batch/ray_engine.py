"""`khulasa batch --engine ray`: the same records as `--engine local`, made by Ray Data on a
local Ray instance (the default: nothing to set up) or on a cluster (`--ray-address`).

    input files --read (tasks)--> records --translate (actors)--> part files + a row per record

Files are listed on the driver and parsed in Ray tasks with the parser the local engine uses,
in groups of consecutive files (at most two groups per CPU, at most one task per CPU at once),
so a folder of 10,000 files starts a handful of worker processes, not 10,000.
Each actor builds the pipeline once (the factory), runs `--batch-docs` records at a time
through it (they share model batches, as locally), writes them as one part file
(`parts.py`) and returns one small row per record, which the driver counts. Exactly once by
id: a rerun skips the ids already in the output directory, and parts are named by their ids,
so a retried batch replaces its own part.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ...models.errors import KhulasaError
from ...models.options import check_positive
from .inputs import (
    Source,
    UsageError,
    is_uri,
    list_sources,
    refuse_duplicate_ids,
)
from .local import BatchOptions, BatchStats
from .parts import FORMATS, PartsOutput, check_output_dir
from .ray_tasks import Translate, error_json, parse_source

PARSE_TASKS_PER_CPU = 2  # groups of input files (parse tasks) per CPU of the cluster


@dataclass(frozen=True)
class RayOptions:
    """How `--engine ray` runs. None: a default from what the cluster has (see `plan`)."""

    address: str | None = None  # None: start a local Ray instance on this machine
    actors: int | None = None
    actor_cpus: int | None = None
    actor_gpus: float | None = None
    fmt: str = "jsonl"

    def __post_init__(self):
        check_positive("--actors", self.actors)
        check_positive("--actor-cpus", self.actor_cpus)
        if self.actor_gpus is not None and not 0 <= self.actor_gpus <= 8:
            raise UsageError(f"--actor-gpus must be 0 to 8, not {self.actor_gpus!r}.")
        if self.fmt not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {self.fmt!r}.")


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("--engine ray (pip install -e '.[ray]')")
    group.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process, one JSONL file (default); ray: Ray Data actors, a directory "
        "of part files, inputs and output may be s3://, gs://... URIs",
    )
    group.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="join this Ray cluster (auto, ray://host:10001); default: a local Ray instance",
    )
    group.add_argument(
        "--actors",
        type=int,
        metavar="N",
        help="translating actors (default: one per GPU, else the cluster's CPUs / --actor-cpus)",
    )
    group.add_argument(
        "--actor-cpus",
        type=int,
        metavar="N",
        help="CPUs (model threads) per actor (default: 1 with GPUs, else up to 4)",
    )
    group.add_argument(
        "--actor-gpus",
        type=float,
        metavar="F",
        help="GPUs per actor (default: 1 when the cluster has GPUs, else 0)",
    )
    group.add_argument(
        "--format", choices=FORMATS, default="jsonl", help="part files: jsonl (default) or parquet"
    )


def ray_options(args: argparse.Namespace) -> RayOptions | None:
    """The Ray options given; None for --engine local, where giving one is a usage error."""
    given = {
        "--ray-address": args.ray_address,
        "--actors": args.actors,
        "--actor-cpus": args.actor_cpus,
        "--actor-gpus": args.actor_gpus,
        "--format": None if args.format == "jsonl" else args.format,
    }
    if args.engine == "local":
        named = [name for name, value in given.items() if value is not None]
        if named:
            raise UsageError(f"{', '.join(named)} needs --engine ray. Fix: add --engine ray.")
        return None
    return RayOptions(args.ray_address, args.actors, args.actor_cpus, args.actor_gpus, args.format)


def run_ray(opts: BatchOptions, ray_opts: RayOptions, memory: str, log=None) -> BatchStats:
    """Process every input record not yet in the output directory on Ray. `memory`: 'off',
    'default' (each node's own default file) or a path on each node. Usage errors (bad
    inputs, duplicate ids, a locked or foreign output, a missing model on this machine)
    come before any part is written."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    stats = BatchStats()
    ray = _import_ray()
    root = str(opts.output)
    sources = _sources(opts.inputs)
    if ray_opts.address is None:  # models must be on this machine: check before anything
        from ...models.factory import locate

        locate(opts.models, opts.summary)
    if not is_uri(root):
        check_output_dir(Path(root))  # a bad -o: before Ray starts
    started_here = _start(ray, ray_opts, opts.quiet)
    _configure(opts.quiet)
    try:
        keys = _input_keys(sources, opts)  # duplicate ids: refused before -o is created
        try:
            out = PartsOutput(root, ray_opts.fmt)
        except OSError as exc:
            raise _output_error(root, exc) from None
        try:
            _run(out, keys, sources, opts, ray_opts, memory, stats, log)
        except OSError as exc:
            raise _output_error(root, exc) from None
        finally:
            out.close()
    finally:
        if started_here:
            ray.shutdown()
    stats.seconds = time.perf_counter() - stats.started
    return stats


def _run(out: PartsOutput, keys, sources, opts, ray_opts, memory, stats, log) -> None:
    done, removed = out.scan()
    if removed:
        log(f"khulasa batch: removed {removed} repeated records from {out.root} (kept the first)")
    stats.skipped = sum(1 for k in keys if k in done)
    if len(keys) > stats.skipped:
        steps = -(-(len(keys) - stats.skipped) // opts.docs_per_step)
        _translate(sources, done, out.run_id, steps, opts, ray_opts, memory, stats, log)
    _, removed = out.scan()  # a retry that batched records differently
    if removed:
        log(f"khulasa batch: removed {removed} records a retried batch wrote twice")


def _output_error(root: str, exc: OSError) -> KhulasaError:
    return KhulasaError(
        f"Cannot use {root} as the output: {exc.strerror or exc}. Fix: check that it is "
        f"writable (and its free space), or choose another -o; then rerun to resume."
    )


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UsageError(
            "--engine ray needs Ray Data, which is not installed. Fix: pip install -e '.[ray]' "
            "(or pip install 'ray[data]')."
        ) from None
    return ray


def _sources(inputs: list[str]) -> list[Source]:
    if "-" in inputs:
        raise UsageError(
            "--engine ray cannot read stdin (-): its workers read the inputs. Fix: save the "
            "records to a .jsonl file and pass that."
        )
    return list(list_sources(inputs, remote=_list_uri))


def _list_uri(spec: str) -> list[str]:
    """The files a URI names: one file, a folder (recursive), or a glob in its last part."""
    from fnmatch import fnmatch

    from pyarrow import fs

    scheme = spec.split("://", 1)[0]
    folder, _, pattern = spec.rpartition("/") if "*" in spec else (spec, "", "")
    try:
        filesystem, path = fs.FileSystem.from_uri(folder)
        info = filesystem.get_file_info(path)
        if info.type == fs.FileType.File and not pattern:
            return [spec]
        if info.type != fs.FileType.Directory:
            raise UsageError(f"No such input: {spec}. Fix: check the URI.")
        found = filesystem.get_file_info(fs.FileSelector(path, recursive=not pattern))
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"Cannot list {spec}: {exc}. Fix: check the URI and credentials."
        ) from None
    names = sorted(i.path for i in found if i.is_file)
    if pattern:
        names = [n for n in names if fnmatch(n.rsplit("/", 1)[-1], pattern)]
    prefix = "file://" if scheme == "file" else f"{scheme}://"
    return [prefix + n for n in names]


def _start(ray, ray_opts: RayOptions, quiet: bool) -> bool:
    """Connect to Ray (a local instance, or the cluster at --ray-address); False when the
    caller had already connected (a notebook, the benchmark): that connection is used and
    left open."""
    logging.getLogger("ray.data").setLevel(logging.INFO if not quiet else logging.WARNING)
    if ray.is_initialized():
        return False
    if ray_opts.address is None:
        ray.init(include_dashboard=False, logging_level=logging.WARNING)
    else:
        ray.init(address=ray_opts.address, logging_level=logging.WARNING)
    return True


def _configure(quiet: bool) -> None:
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = not quiet
    # Every row is one step (a batch of records) and its own block: steps spread over all
    # actors, and each step's count reaches the driver as soon as its part is written.
    context.target_max_block_size = 1


def _records(ds_sources, opts: BatchOptions, done: set[str] | None):
    from ray.data import TaskPoolStrategy

    return ds_sources.flat_map(
        parse_source,
        fn_kwargs={
            "text_field": opts.text_field,
            "id_field": opts.id_field,
            "done": done,
            "size": opts.docs_per_step,
            "budget": opts.read,
        },
        num_cpus=0,  # light next to translation; the actors hold the CPUs
        compute=TaskPoolStrategy(size=_cluster_cpus()),  # never more at once than the CPUs
    )


def _cluster_cpus() -> int:
    """The CPUs of the cluster Ray is connected to (at least 1)."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _dataset(sources: list[Source]):
    """The input files as a few rows, each a group of consecutive files that one Ray task
    parses: never one task (and one worker process) per file. At most PARSE_TASKS_PER_CPU
    groups for each CPU of the cluster."""
    import ray
    import ray.data

    files = [{"name": s.name, "error": error_json(s.error) if s.error else None} for s in sources]
    groups = max(1, min(len(files), PARSE_TASKS_PER_CPU * _cluster_cpus()))
    size = -(-len(files) // groups) if files else 1
    rows = [{"files": json.dumps(files[i : i + size])} for i in range(0, len(files), size)]
    return ray.data.from_items(rows or [{"files": "[]"}])


def _input_keys(sources: list[Source], opts: BatchOptions) -> list[str]:
    """Every input id (as `id_key`): a first pass that reads and parses the inputs in Ray
    tasks, keeping only the ids, to refuse duplicate ids before anything is written."""
    keys: list[str] = []
    for batch in _records(_dataset(sources), opts, None).iter_batches(batch_format="pyarrow"):
        for step in batch.column("keys").to_pylist():
            keys += step
    refuse_duplicate_ids(keys)
    return keys


def plan(ray, ray_opts: RayOptions) -> tuple[int, int, float]:
    """(actors, CPUs per actor, GPUs per actor) from the options, else from the cluster: one
    actor per GPU when it has GPUs; else actors of up to 4 CPUs filling every node."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    total_gpus = sum(n.get("GPU", 0) for n in nodes)
    gpus = ray_opts.actor_gpus if ray_opts.actor_gpus is not None else (1 if total_gpus else 0)
    smallest = min((int(n.get("CPU", 1)) for n in nodes), default=1)
    cpus = ray_opts.actor_cpus or (1 if gpus else max(1, min(4, smallest)))
    if ray_opts.actors:
        return ray_opts.actors, cpus, gpus
    if gpus:
        return max(1, int(total_gpus // gpus)), cpus, gpus
    return max(1, sum(int(n.get("CPU", 0)) // cpus for n in nodes)), cpus, gpus


def _translate(sources, done, run_id, steps, opts, ray_opts, memory, stats, log) -> None:
    import ray
    from ray.data import ActorPoolStrategy

    actors, cpus, gpus = plan(ray, ray_opts)
    actors = min(actors, steps)  # no actor (and no model load) without a step to do
    log(f"khulasa batch: {actors} actors x {cpus} CPUs, {gpus:g} GPUs each")
    results = _records(_dataset(sources), opts, done).map_batches(
        Translate,
        fn_constructor_kwargs={
            "models": opts.models,
            "memory": memory,
            "summary": opts.summary,
            "max_chars": opts.max_chars,
            "force": opts.force,
            "root": str(opts.output),
            "fmt": ray_opts.fmt,
            "run_id": run_id,
            "read": opts.read,
            "fetch": opts.fetch,
        },
        compute=ActorPoolStrategy(size=actors),
        num_cpus=cpus,
        num_gpus=gpus,
        batch_size=1,  # one step
        batch_format="pyarrow",
    )
    try:
        for batch in results.iter_batches(batch_format="pyarrow", batch_size=None):
            _count(batch.to_pylist(), stats, log)
    except Exception as exc:  # a KhulasaError inside Ray's wrapping: show it, not Ray's
        cause = _khulasa_cause(exc)
        if cause is not None:
            raise cause from None
        raise


def _count(rows: list[dict], stats: BatchStats, log) -> None:
    for row in rows:
        stats.wrote(row["records"])
        if row["note"] and row["note"] not in stats.notes:
            stats.notes.append(row["note"])
            log(f"khulasa batch: warning: {row['note']}")
        stats.failed += row["failed"]
        stats.done += row["records"] - row["failed"]
        stats.sentences += row["sentences"]
        stats.memory_hits += row["memory_hits"]
        stats.count(json.loads(row["trust"]))


def _khulasa_cause(exc: BaseException) -> KhulasaError | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, KhulasaError):
            return exc
        exc = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
    return None
