"""Where khulasa keeps its state and which versions it runs: the one place for both.

Read at call time, so a caller (or a test) that sets KHULASA_HOME or HF_HOME is obeyed.
"""

from __future__ import annotations

import functools
import os
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path

# The packages whose versions decide a result; recorded in every Document's meta.
RESULT_PACKAGES = ("khulasa", "transformers", "ctranslate2", "torch")


def khulasa_home() -> Path:
    """Where khulasa keeps its state: KHULASA_HOME, else ~/.cache/khulasa."""
    return Path(os.environ.get("KHULASA_HOME") or Path("~/.cache/khulasa").expanduser())


def default_memory_path() -> Path:
    return khulasa_home() / "memory.sqlite"


def usable_cpus() -> int:
    """The cores this process may use: OMP_NUM_THREADS when set (Ray sets it to a worker's
    CPUs), else the cores it is allowed to run on (a container's or taskset's share)."""
    try:
        threads = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        threads = 0
    if threads > 0:
        return threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def hf_cache_dir() -> Path:
    """Where Hugging Face caches hub models (HF_HUB_CACHE, else HF_HOME/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def package_version(name: str) -> str | None:
    try:
        return dist_version(name)
    except PackageNotFoundError:
        return None


def version() -> str:
    """khulasa's own version ("0+unknown" when run from a tree that is not installed)."""
    return package_version("khulasa") or "0+unknown"


@functools.lru_cache(maxsize=8)
def versions(names: tuple[str, ...] = RESULT_PACKAGES) -> dict[str, str | None]:
    """Installed versions of `names` (None for a package that is not installed)."""
    return {name: package_version(name) for name in names}  # a cached dict: copy to change
