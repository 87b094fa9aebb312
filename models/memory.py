"""The sentence memory: translations already made, in SQLite, so identical sentences (wire
datelines, boilerplate, a resumed batch) are translated once.

Keyed by everything that decides the output (model id, revision, backend, beams) and the
normalised source sentence. It is a cache: deleting the file loses nothing but time.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

# Named, append-only migrations, run on open (the llm logs.db way).
MIGRATIONS = [
    ("001_translations", """
        CREATE TABLE translations (
            key TEXT PRIMARY KEY,
            settings TEXT NOT NULL,
            source TEXT NOT NULL,
            english TEXT NOT NULL,
            created REAL NOT NULL
        )"""),
]


def khulasa_home() -> Path:
    """Where khulasa keeps its state: KHULASA_HOME, else ~/.cache/khulasa."""
    return Path(os.environ.get("KHULASA_HOME") or Path("~/.cache/khulasa").expanduser())


def default_memory_path() -> Path:
    return khulasa_home() / "memory.sqlite"


class SentenceMemory:
    """A SQLite sentence memory, safe for several threads and processes at once (WAL)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY)")
            done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
            for name, sql in MIGRATIONS:
                if name not in done:
                    conn.execute(sql)
                    conn.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
        return _Transaction(conn)

    @staticmethod
    def key(settings: str, source: str) -> str:
        return hashlib.sha256(f"{settings}\x00{source}".encode()).hexdigest()

    def get_many(self, settings: str, sources: list[str]) -> dict[str, str]:
        """The remembered translations of those `sources` made with `settings`."""
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(sources))
        with self._conn() as conn:
            for start in range(0, len(unique), 500):
                part = unique[start:start + 500]
                keys = {self.key(settings, s): s for s in part}
                marks = ",".join("?" * len(keys))
                for key, english in conn.execute(
                        f"SELECT key, english FROM translations WHERE key IN ({marks})",
                        list(keys)):
                    found[keys[key]] = english
        return found

    def put_many(self, settings: str, pairs: list[tuple[str, str]]) -> None:
        now = time.time()
        with self._conn() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO translations (key, settings, source, english, created) "
                "VALUES (?, ?, ?, ?, ?)",
                [(self.key(settings, s), settings, s, e, now) for s, e in pairs])

    def __len__(self) -> int:
        with self._conn() as conn:
            return conn.execute("SELECT COUNT(*) FROM translations").fetchone()[0]


class _Transaction:
    """`with` block = one immediate transaction (committed, or rolled back on error)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


class MemoryTranslator:
    """Any translator, with the sentence memory in front: hits come back at once, misses go
    to the model in its own batches and are remembered as each batch finishes."""

    def __init__(self, translator, memory: SentenceMemory):
        self.inner = translator
        self.memory = memory
        self.settings_key = json.dumps(translator.settings, sort_keys=True)
        self.hits = 0
        self.misses = 0

    @property
    def settings(self) -> dict:
        return self.inner.settings

    @property
    def backend(self) -> str:
        return self.inner.backend

    def pieces(self, sentence: str) -> list[str]:
        return self.inner.pieces(sentence)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def translate_iter(self, texts: list[str], hits: set[int] | None = None,
                       first_batch: int | None = None) -> Iterator[list[tuple[int, str]]]:
        known = self.memory.get_many(self.settings_key, texts)
        found = [(i, known[t]) for i, t in enumerate(texts) if t in known]
        if hits is not None:
            hits.update(i for i, _ in found)
        self.hits += len(found)
        if found:
            yield found
        misses = [i for i, t in enumerate(texts) if t not in known]
        # Identical sentences among the misses are translated once.
        unique = list(dict.fromkeys(texts[i] for i in misses))
        self.misses += len(unique)
        self.hits += len(misses) - len(unique)
        for pairs in self.inner.translate_iter(unique, first_batch=first_batch):
            done = {unique[j]: english for j, english in pairs}
            self.memory.put_many(self.settings_key, list(done.items()))
            yield [(i, done[texts[i]]) for i in misses if texts[i] in done]

    def translate(self, texts: list[str]) -> list[str]:
        out: list[str] = [""] * len(texts)
        for pairs in self.translate_iter(texts):
            for i, english in pairs:
                out[i] = english
        return out
