"""Which documents of a coverage are copies of one story, and which sentences report the same
thing. Weight-free; the coverage digest (digest.py) builds on it.

Three links, each found the same scalable way: MinHash signatures (datasketch) cut into bands
(locality-sensitive hashing); documents or sentences that share a band's bucket are candidates,
each candidate checked exactly against its bucket's first member, and the links kept in
union-find. Work grows with items x bands, never with all pairs.

1. **Sentence copies** (on the source side, the normalised Arabic or English): word and
   word-pair shingles, Jaccard >= COPY_JACCARD. Identical sentences are joined before hashing.
2. **Stories**: documents whose copied sentences make up at least STORY_SHARE of the shorter
   one (a wire story republished, retitled, trimmed or with sentences added) are one story.
3. **Reports** (on the English side, translations and English originals alike): sentences that
   share enough content words report the same thing. A report group never holds two sentences
   of one document, which keeps groups from chaining across an article.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..provenance import content_words
from ..text import DIGITS, fold_spelling

NUM_PERM = 128
COPY_ROWS = 4  # 32 bands of 4 rows: a pair at Jaccard 0.5 is a candidate with p ~ 0.88
REPORT_ROWS = 2  # 64 bands of 2 rows: at Jaccard 0.2, p ~ 0.93
COPY_JACCARD = 0.5
STORY_SHARE = 0.5
REPORT_JACCARD = 0.3
REPORT_OVERLAP = 0.6  # ... or this share of the shorter sentence's content words
MIN_SHARED = 3  # content words two sentences share at least to report the same thing
MIN_CONTENT = 4  # content words a sentence needs to take part in report groups

_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")
_SEATS = str.maketrans("ةؤئ", "هوي")  # ta marbuta and hamza seats, beyond the spelling fold
_TOKEN = re.compile(r"[^\W_]+")


def source_tokens(text: str) -> list[str]:
    """Words of a sentence for copy detection: case, diacritics, hamza seats, alef maqsura and
    ta marbuta folded, so an edited copy still matches."""
    text = _DIACRITICS.sub("", unicodedata.normalize("NFKC", text).lower())
    return _TOKEN.findall(fold_spelling(text).translate(_SEATS).translate(DIGITS))


def shingles(tokens: list[str]) -> frozenset[str]:
    return frozenset(tokens) | frozenset(
        f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)
    )


# Wire agencies as datelines name them, Arabic and English: "(أ ف ب)", "(رويترز)", "(AFP)".
AGENCIES = {
    "AFP": r"\(\s*[اأ]\s*\.?\s*ف\s*\.?\s*ب\s*\.?\s*\)|فرانس برس|\(AFP\)|\bAFP\b",
    "Reuters": r"\(\s*رويترز\s*\)|\(Reuters\)",
    "AP": r"\(\s*[اأ]\s*\.?\s*ب\s*\.?\s*\)|أسوشيتد برس|\(AP\)",
    "dpa": r"\(\s*د\s*\.?\s*ب\s*\.?\s*[اأ]\s*\.?\s*\)|\(dpa\)",
}
DATELINE_CHARS = 200  # where a dateline names its agency: the article's opening


def wire_agency(texts: Iterable[str]) -> str | None:
    """The wire agency the openings of `texts` name (a story's copies: any of them), or None."""
    for text in texts:
        opening = text[:DATELINE_CHARS]
        for agency, pattern in AGENCIES.items():
            if re.search(pattern, opening):
                return agency
    return None


def restates(words: frozenset[str], others: Iterable[frozenset[str]], share: float) -> bool:
    """Whether `words` (a sentence's content words) are, `share` of them at least, the words
    of one of `others` (a headline that restates its story's lead)."""
    return any(len(words & other) >= share * len(words) for other in others)


def report_words(english: str) -> frozenset[str]:
    """Content words of an English sentence, lightly stemmed (plural -s, possessive 's)."""
    out = set()
    for word in content_words(english):
        word = re.sub(r"['’]s$", "", word)
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(word)
    return frozenset(out)


class UnionFind:
    """Disjoint sets; with `owners`, a set never holds two items of one owner (document)."""

    def __init__(self, n: int, owners: list[int] | None = None, agree=None):
        self.parent = list(range(n))
        self.owned = [{o} for o in owners] if owners is not None else None
        self.agree = agree  # (root, root) -> bool: may these two sets join?

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.agree is not None and not self.agree(ra, rb):
            return False
        if self.owned is not None:
            small, large = sorted((ra, rb), key=lambda r: len(self.owned[r]))
            if not self.owned[small].isdisjoint(self.owned[large]):
                return False
            self.owned[large] |= self.owned[small]
            self.owned[small] = set()
            ra, rb = large, small
        self.parent[rb] = ra
        return True

    def groups(self) -> list[list[int]]:
        """Every set, its members in order; sets ordered by their first member."""
        found: dict[int, list[int]] = {}
        for x in range(len(self.parent)):
            found.setdefault(self.find(x), []).append(x)
        return list(found.values())


def signatures(sets: list[frozenset[str]]):
    """MinHash signatures, one row per set (numpy, NUM_PERM columns)."""
    import numpy as np
    from datasketch import MinHash

    if not sets:
        return np.zeros((0, NUM_PERM), dtype=np.uint64)
    hashes = MinHash.bulk(([s.encode("utf-8") for s in x] for x in sets), num_perm=NUM_PERM)
    return np.stack([m.hashvalues for m in hashes])


def candidates(sets: list[frozenset[str]], rows: int) -> Iterator[tuple[int, int]]:
    """(bucket's first member, other member) for every band bucket with more than one set:
    the pairs worth checking. Empty sets take no part."""
    items = [i for i, s in enumerate(sets) if s]
    sigs = signatures([sets[i] for i in items])
    seen: set[tuple[int, int]] = set()
    for start in range(0, NUM_PERM - rows + 1, rows):
        buckets: dict[bytes, int] = {}
        band = sigs[:, start : start + rows]
        for k, item in enumerate(items):
            head = buckets.setdefault(band[k].tobytes(), item)
            if head != item and (head, item) not in seen:
                seen.add((head, item))
                yield head, item


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass
class Unit:
    """One sentence of the coverage: its document's position, its segment index, and text."""

    doc: int
    segment: int
    source: str
    english: str
    language: str  # of the source: ar or en


@dataclass
class Coverage:
    stories: list[list[int]]  # story -> document positions
    story_of: list[int]  # document position -> story
    copy_of: list[int]  # unit -> copy group
    groups: list[list[int]]  # report group -> units
    group_of: list[int]  # unit -> report group


def _distinct(keys: Iterable) -> tuple[list, list[int]]:
    """The distinct keys in first-seen order, and each key's position among them."""
    index: dict = {}
    of = [index.setdefault(k, len(index)) for k in keys]
    return list(index), of


def link_copies(units: list[Unit]) -> list[int]:
    """Each unit's copy group (the smallest unit index in it)."""
    keys, of = _distinct((u.language, " ".join(source_tokens(u.source))) for u in units)
    sets = [shingles(key.split()) for _, key in keys]
    uf = UnionFind(len(keys))
    for a, b in candidates(sets, COPY_ROWS):
        if keys[a][0] == keys[b][0] and jaccard(sets[a], sets[b]) >= COPY_JACCARD:
            uf.union(a, b)
    first: dict[int, int] = {}
    return [first.setdefault(uf.find(k), i) for i, k in enumerate(of)]


def link_stories(units: list[Unit], copy_of: list[int], n_docs: int) -> list[int]:
    """Each document's story (the smallest document position in it)."""
    sets = [set() for _ in range(n_docs)]
    for u, group in zip(units, copy_of, strict=True):
        sets[u.doc].add(str(group))
    frozen = [frozenset(s) for s in sets]
    uf = UnionFind(n_docs)
    for a, b in candidates(frozen, REPORT_ROWS):
        shared = len(frozen[a] & frozen[b])
        if shared and shared >= STORY_SHARE * min(len(frozen[a]), len(frozen[b])):
            uf.union(a, b)
    first: dict[int, int] = {}
    return [first.setdefault(uf.find(d), d) for d in range(n_docs)]


def link_reports(units: list[Unit], copy_of: list[int]) -> UnionFind:
    """Report groups: copies first, then English sentences that share enough content words,
    the closest pairs first; never two sentences of one document in a group, and two groups
    join only when their first sentences (the union-find roots) report the same thing too, so
    a sentence that mixes two reports does not chain their groups together."""
    words = [report_words(u.english) for u in units]
    uf = UnionFind(len(units), owners=[u.doc for u in units])
    heads: dict[int, int] = {}
    for i, group in enumerate(copy_of):
        uf.union(heads.setdefault(group, i), i)
    uf.agree = lambda a, b: _same_report(words[a], words[b]) > 0
    keys, of = _distinct(words)
    members: dict[int, list[int]] = {}
    for i, k in enumerate(of):
        if len(words[i]) >= MIN_CONTENT:
            members.setdefault(k, []).append(i)
    for unit_list in members.values():  # same content words: the same report
        for i in unit_list[1:]:
            uf.union(unit_list[0], i)
    usable = [k if len(k) >= MIN_CONTENT else frozenset() for k in keys]
    links = []
    for a, b in candidates(usable, REPORT_ROWS):
        score = _same_report(usable[a], usable[b])
        if score > 0:
            links.append((score, a, b))
    for _, a, b in sorted(links, reverse=True):
        uf.union(members[a][0], members[b][0])
    return uf


def _same_report(a: frozenset[str], b: frozenset[str]) -> float:
    """The Jaccard similarity of two sentences' content words when they report the same thing
    (enough shared words: REPORT_JACCARD, or REPORT_OVERLAP of the shorter), else 0."""
    if len(a) < MIN_CONTENT or len(b) < MIN_CONTENT:
        return 0.0
    shared = len(a & b)
    if shared < MIN_SHARED:
        return 0.0
    score = shared / len(a | b)
    enough = score >= REPORT_JACCARD or shared >= REPORT_OVERLAP * min(len(a), len(b))
    return score if enough else 0.0


def link_coverage(units: list[Unit], n_docs: int) -> Coverage:
    """Copies, stories and report groups of the coverage's sentences."""
    copy_of = link_copies(units)
    story_first = link_stories(units, copy_of, n_docs)
    story_ids, story_of = _distinct(story_first)
    stories = [[] for _ in story_ids]
    for d, s in enumerate(story_of):
        stories[s].append(d)
    groups = link_reports(units, copy_of).groups()
    group_of = [0] * len(units)
    for g, members in enumerate(groups):
        for i in members:
            group_of[i] = g
    return Coverage(stories, story_of, copy_of, groups, group_of)
