"""Known evaluation sets: where to obtain them, their licence and checksum. Nothing here
downloads; `khulasa eval sets --verify NAME FILE` checks a file the user fetched."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EvalSet:
    name: str
    pair: str
    url: str
    file: str  # the file the checksum is of
    sha256: str | None  # None: not yet recorded here; --verify prints the file's digest
    licence: str
    contents: str


EVAL_SETS = {
    s.name: s
    for s in (
        EvalSet(
            "flores200-devtest",
            "arb_Arab-eng_Latn",
            "https://dl.fbaipublicfiles.com/nllb/flores200_dataset.tar.gz",
            "flores200_dataset.tar.gz",
            "b8b0b76783024b85797e5cc75064eb83fc5288b41e9654dabc7be6ae944011f6",
            "CC-BY-SA-4.0",
            "1,012 sentences; use devtest/arb_Arab.devtest and devtest/eng_Latn.devtest",
        ),
        EvalSet(
            "tatoeba-ara-eng-test",
            "ara-eng",
            "https://object.pouta.csc.fi/Tatoeba-Challenge-v2021-08-07/ara-eng.tar",
            "ara-eng.tar",
            None,
            "CC-BY-2.0-FR",
            "Tatoeba Challenge test set (short sentences); test.src / test.trg",
        ),
    )
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
