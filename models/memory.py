"""The sentence memory: translations already made, in SQLite, so identical sentences (wire
datelines, boilerplate, a resumed batch) are translated once.

Keyed by everything that decides the output (model id, revision, backend, beams, and how many
hypotheses were asked for) and the normalised source sentence. It is a cache: deleting the
file loses nothing but time, and a memory that cannot be used (corrupt, read-only, a
directory) is set aside with a warning rather than stopping the work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from .interface import Translation, collect

log = logging.getLogger("khulasa.memory")

# Named, append-only migrations, run on open (the llm logs.db way).
MIGRATIONS = [
    (
        "001_translations",
        """
        CREATE TABLE translations (
            key TEXT PRIMARY KEY,
            settings TEXT NOT NULL,
            source TEXT NOT NULL,
            english TEXT NOT NULL,
            created REAL NOT NULL
        )""",
    ),
    (
        # Readers' corrections (/suggest): who, when, and what the English was before (undo).
        "002_corrections",
        """
        CREATE TABLE corrections (
            id INTEGER PRIMARY KEY,
            created REAL NOT NULL,
            client TEXT NOT NULL,
            key_id TEXT,
            key TEXT NOT NULL,
            settings TEXT NOT NULL,
            source TEXT NOT NULL,
            english TEXT NOT NULL,
            previous TEXT,
            undone REAL
        )""",
    ),
]


DESK = json.dumps({"desk": True})  # the settings key of entries from a desk's memory (TMX)


class SentenceMemory:
    """A SQLite sentence memory, safe for several threads and processes at once (WAL).

    After a database error it turns itself off (`problem` says why; lookups find nothing,
    stores are dropped), so a broken cache never stops a translation."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.problem: str | None = None
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY)")
            done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
            for name, sql in MIGRATIONS:
                if name not in done:
                    conn.execute(sql)
                    conn.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))

    def _conn(self) -> _Transaction:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=60, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
        return _Transaction(conn)

    def _give_up(self, exc: Exception) -> None:
        if self.problem is None:
            self.problem = f"the sentence memory {self.path} failed ({exc}); going on without it"
            log.warning("khulasa: warning: %s", self.problem)

    @staticmethod
    def key(settings: str, source: str) -> str:
        return hashlib.sha256(f"{settings}\x00{source}".encode()).hexdigest()

    def get_many(self, settings: str, sources: list[str]) -> dict[str, str]:
        """The remembered translations of those `sources` made with `settings`."""
        found: dict[str, str] = {}
        if self.problem:
            return found
        unique = list(dict.fromkeys(sources))
        try:
            with self._conn() as conn:
                for start in range(0, len(unique), 500):
                    part = unique[start : start + 500]
                    keys = {self.key(settings, s): s for s in part}
                    marks = ",".join("?" * len(keys))
                    for key, english in conn.execute(
                        f"SELECT key, english FROM translations WHERE key IN ({marks})", list(keys)
                    ):
                        found[keys[key]] = english
        except sqlite3.Error as exc:
            self._give_up(exc)
            return {}
        return found

    def put_many(self, settings: str, pairs: list[tuple[str, str]], replace: bool = False) -> None:
        """Remember `pairs`. Model output never replaces what is there (a reader's verified
        correction stored meanwhile wins); `replace` is for those corrections."""
        if self.problem or not pairs:
            return
        now = time.time()
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        try:
            with self._conn() as conn:
                conn.executemany(
                    f"{verb} INTO translations (key, settings, source, english, "
                    "created) VALUES (?, ?, ?, ?, ?)",
                    [(self.key(settings, s), settings, s, e, now) for s, e in pairs],
                )
        except sqlite3.Error as exc:
            self._give_up(exc)

    def __len__(self) -> int:
        with self._conn() as conn:
            return conn.execute("SELECT COUNT(*) FROM translations").fetchone()[0]

    def correct(self, settings: str, source: str, english: str, client: str,
                key_id: str | None) -> int:  # fmt: skip
        """Keep a reader's correction (the entry's new value) and its record: when, from which
        client and key, and the value it replaced. The record's id (for `undo`)."""
        key = self.key(settings, source)
        with self._conn() as conn:
            row = conn.execute("SELECT english FROM translations WHERE key=?", (key,)).fetchone()
            conn.execute(
                "INSERT OR REPLACE INTO translations (key, settings, source, english, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, settings, source, english, time.time()),
            )
            cursor = conn.execute(
                "INSERT INTO corrections (created, client, key_id, key, settings, source, "
                "english, previous) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), client, key_id, key, settings, source, english,
                 row[0] if row else None),
            )  # fmt: skip
            return cursor.lastrowid

    def corrections(self, limit: int = 50) -> list[dict]:
        """The latest corrections, newest first."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT id, created, client, key_id, source, english, previous, undone "
                "FROM corrections ORDER BY id DESC LIMIT ?",
                (min(limit, 2**62),),  # SQLite's integers are 64-bit
            ).fetchall()
        names = ("id", "created", "client", "key_id", "source", "english", "previous", "undone")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def undo(self, correction: int) -> dict:
        """Put back the English a correction replaced (or forget the sentence, when it had
        none) and mark the correction undone; KeyError when there is no such correction,
        ValueError when it was undone already or a later correction of the sentence stands."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT key, previous, undone FROM corrections WHERE id=?", (correction,)
            ).fetchone()
            if row is None:
                raise KeyError(correction)
            key, previous, undone = row
            if undone is not None:
                raise ValueError(f"correction {correction} was undone already")
            later = conn.execute(
                "SELECT id FROM corrections WHERE key=? AND id>? AND undone IS NULL",
                (key, correction),
            ).fetchone()
            if later is not None:
                raise ValueError(
                    f"correction {later[0]} of the same sentence came later: undo it first"
                )
            if previous is None:
                conn.execute("DELETE FROM translations WHERE key=?", (key,))
            else:
                conn.execute("UPDATE translations SET english=? WHERE key=?", (previous, key))
            conn.execute("UPDATE corrections SET undone=? WHERE id=?", (time.time(), correction))
        return {"id": correction, "previous": previous}


def open_memory(path: Path) -> tuple[SentenceMemory | None, str | None]:
    """The memory at `path`, or (None, why not). A file that is not a database is moved
    aside (kept, renamed) and a new memory started in its place."""
    path = Path(path)
    if path.is_dir():
        return None, f"the sentence memory {path} is a directory; going on without a memory"
    try:
        return SentenceMemory(path), None
    except sqlite3.DatabaseError as exc:
        if path.is_file() and "not a database" in str(exc):
            aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                path.rename(aside)
                for extra in ("-wal", "-shm"):
                    Path(f"{path}{extra}").unlink(missing_ok=True)
                return SentenceMemory(path), (
                    f"the sentence memory {path} was not a database "
                    f"({exc}); moved it to {aside} and started anew"
                )
            except (OSError, sqlite3.Error) as again:
                exc = again
        return None, f"the sentence memory {path} cannot be used ({exc}); going on without it"
    except OSError as exc:
        return None, (
            f"the sentence memory {path} cannot be used "
            f"({exc.strerror or exc}); going on without it"
        )


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
    """Any translator with the sentence memory in front: hits come back at once, misses go to
    the model in its own batches and are remembered as each batch finishes. Identical texts
    among the misses are translated once; the copies are answered from the memory."""

    def __init__(self, translator, memory: SentenceMemory):
        self.inner = translator
        self.memory = memory
        self.backend = translator.backend

    @property
    def settings(self) -> dict:
        return self.inner.settings

    def settings_key(self, n: int, retry: bool = False) -> str:
        settings = dict(self.inner.settings)
        settings["stored"] = "hypotheses+scores"  # what a value holds (older files: text only)
        if n > 1:  # n-best lists are remembered apart from 1-best translations
            settings["hypotheses"] = n
        if retry:  # and second tries apart from first ones
            settings["retry"] = True
        return json.dumps(settings, sort_keys=True)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def pieces(self, sentence: str) -> list[str]:
        return self.inner.pieces(sentence)

    def translate_iter(
        self, texts: list[str], n: int = 1, first_batch: int | None = None, retry: bool = False
    ) -> Iterator[list[Translation]]:
        key = self.settings_key(n, retry)
        known = {s: self._decode(v) for s, v in self.memory.get_many(key, texts).items()}
        if n == 1 and not retry:  # the desk's memory (TMX) for what no reader corrected
            for s, v in self.memory.get_many(DESK, texts).items():
                if s not in known or not known[s].verified:
                    known[s] = self._decode(v)
        found = [replace(known[t], index=i) for i, t in enumerate(texts) if t in known]
        if found:
            yield found
        misses = [i for i, t in enumerate(texts) if t not in known]
        unique = list(dict.fromkeys(texts[i] for i in misses))
        first_of: dict[str, int] = {}
        for i in misses:
            first_of.setdefault(texts[i], i)
        for batch in self.inner.translate_iter(unique, n, first_batch, retry):
            done = {unique[r.index]: r for r in batch}
            self.memory.put_many(key, [(s, self._encode(r)) for s, r in done.items()])
            yield [
                replace(done[texts[i]], index=i, from_memory=first_of[texts[i]] != i)
                for i in misses
                if texts[i] in done
            ]

    def translate(self, texts: list[str]) -> list[str]:
        return [h[0] for h in collect(self, texts)]

    def suggest(self, piece: str, english: str, client: str = "local",
                key_id: str | None = None) -> int:  # fmt: skip
        """Keep a reader's English for `piece` (one normalised sentence within the model's
        limit) as a verified entry: it wins over the model's output for this model and these
        settings from then on. Recorded with `client` and `key_id`; the record's id."""
        value = json.dumps({"h": [english], "s": [None], "v": 1}, ensure_ascii=False)
        return self.memory.correct(self.settings_key(1), piece, value, client, key_id)

    @staticmethod
    def _encode(result: Translation) -> str:
        return json.dumps(
            {"h": list(result.hypotheses), "s": list(result.scores)}, ensure_ascii=False
        )

    @staticmethod
    def _decode(value: str) -> Translation:
        data = json.loads(value)
        return Translation(0, tuple(data["h"]), True, tuple(data["s"]), data.get("v") == 1,
                           desk=data.get("d") == 1)  # fmt: skip
