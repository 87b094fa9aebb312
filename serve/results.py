"""Kept results: each page result under an unguessable address (`?r=ID`), so a reload, a Back
past the page, a `#sentence-N` link or a colleague with the link shows the same result, its
warnings and the wordings the reader chose included. Kept `keep` seconds after its last
change (--keep-results; 0 keeps none), in the server's own folder for visitors' files, and
deleted with it when the server stops; MOST at most, the oldest dropped first."""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import threading
import time
from pathlib import Path

from ..models.document import Document

ID = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16): 128 random bits
MOST = 2000


class Results:
    def __init__(self, root: Path, keep: int, most: int = MOST):
        self.keep, self.most = keep, most
        self.folder = root / "results"
        self._lock = threading.Lock()

    @property
    def on(self) -> bool:
        return self.keep > 0

    def save(self, doc: Document, models: tuple, result_id: str | None = None) -> str | None:
        """Keep `doc` (made by `models`: translator, summariser, beams) under `result_id`
        (a new one when None); returns the id, or None when results are not kept."""
        if not self.on:
            return None
        result_id = (
            result_id if result_id and ID.fullmatch(result_id) else secrets.token_urlsafe(16)
        )
        body = json.dumps({"models": list(models), "document": doc.to_dict()}, ensure_ascii=False)
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body)
            os.replace(tmp, self.folder / f"{result_id}.json")  # never half a result
            self._prune()
        return result_id

    def load(self, result_id: str) -> tuple[Document, tuple] | None:
        """The result kept under `result_id` and its models, or None (unknown, expired, or
        not an id at all: nothing outside the folder is ever read)."""
        if not self.on or not ID.fullmatch(result_id or ""):
            return None
        path = self.folder / f"{result_id}.json"
        try:
            if time.time() - path.stat().st_mtime > self.keep:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
            return Document.from_dict(data["document"]), tuple(data["models"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def sweep(self) -> None:
        with self._lock:
            self._prune()

    def _prune(self) -> None:
        """Drop the expired results, then the oldest past MOST."""
        if not self.folder.is_dir():
            return
        now = time.time()
        kept = []
        for path in self.folder.glob("*.json"):
            try:
                age = now - path.stat().st_mtime
            except OSError:
                continue
            if age > self.keep:
                path.unlink(missing_ok=True)
            else:
                kept.append((age, path))
        for _, path in sorted(kept)[self.most :]:  # the youngest MOST stay
            path.unlink(missing_ok=True)
