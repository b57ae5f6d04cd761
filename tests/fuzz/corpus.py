"""What the fuzz corpus is made of (``FuzzFile``: a file, its kind and what
ingestion must do with it) and the writer every format's builders add their
files through (``CorpusWriter``)."""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Expect = Literal["fail", "may", "index", "skip"]

OUTSIDE_CANARY = "CANARY-OUTSIDE-4242-ZINC"
"""Written only outside the corpus folder, behind links; must never be indexed."""

SENTENCE = "The fuzz sample {n} says the liquidity buffer stayed above the floor."
MUTE = "- - - . . . * * *"
"""Text with no word in it: a file carrying it is parsed as far as it goes and
then fails as "no indexable text" instead of being embedded. Two in three
samples of the kinds that parse carry it, which keeps the embedding, the
largest cost of a run, to about a hundred files."""

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class FuzzFile:
    path: str  # relative to the corpus folder, as os.fsdecode gives it (may hold surrogates)
    kind: str
    expect: Expect
    note: str = ""
    reason: str = ""  # for some "fail" files: words the failure's reason must hold
    holds: str = ""  # if indexed, words its indexed text must hold
    lacks: str = ""  # if indexed, words its indexed text must never hold

    @property
    def suffix(self) -> str:
        return os.path.splitext(self.path)[1].lower()


@dataclass(frozen=True, slots=True)
class FuzzCorpus:
    folder: Path
    outside: Path  # a sibling folder the links point into
    files: tuple[FuzzFile, ...]
    not_made: tuple[str, ...]  # "kind: why" for files this filesystem refused

    def by_expect(self, expect: Expect) -> list[FuzzFile]:
        return [f for f in self.files if f.expect == expect]


def counts_by_kind(files: tuple[FuzzFile, ...] | list[FuzzFile]) -> dict[str, int]:
    """How many files of each kind, largest first."""
    return dict(Counter(f.kind for f in files).most_common())


def counts_by_expect(files: tuple[FuzzFile, ...] | list[FuzzFile]) -> dict[str, int]:
    return dict(Counter(f.expect for f in files).most_common())


# -- the writer ------------------------------------------------------------


class CorpusWriter:
    def __init__(self, folder: Path, outside: Path, rng: random.Random, max_file_mb: float):
        self.folder = folder
        self.outside = outside
        self.rng = rng
        self.limit = int(max_file_mb * 1024 * 1024)
        self.files: list[FuzzFile] = []
        self.not_made: list[str] = []
        self._n = 0

    def sentence(self) -> str:
        self._n += 1
        return SENTENCE.format(n=self._n)

    def name(self, kind: str, suffix: str) -> str:
        return f"{kind}/{kind}-{len(self.files):04d}{suffix}"

    def _target(self, name: str | bytes) -> Path:
        path = self.folder / os.fsdecode(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def add(
        self,
        name: str | bytes,
        data: bytes,
        kind: str,
        expect: Expect,
        note: str = "",
        reason: str = "",
        *,
        holds: str = "",
        lacks: str = "",
    ) -> None:
        try:
            self._target(name).write_bytes(data)
        except OSError as exc:
            self.not_made.append(f"{kind}: {os.fsdecode(name)!r}: {exc.strerror}")
            return
        self.files.append(FuzzFile(os.fsdecode(name), kind, expect, note, reason, holds, lacks))

    def link(
        self, name: str, target: str | Path, kind: str, expect: Expect, reason: str = ""
    ) -> None:
        """A symbolic link at ``name``; a Path target is made relative to it."""
        path = self._target(name)
        if isinstance(target, Path):
            target = os.path.relpath(target, path.parent)
        try:
            os.symlink(target, path)
        except OSError as exc:
            self.not_made.append(f"{kind}: {name!r}: {exc.strerror}")
            return
        self.files.append(FuzzFile(name, kind, expect, f"-> {target}", reason))

    def special(
        self, name: str, make: Callable[[Path], None], kind: str, expect: Expect, reason: str = ""
    ) -> None:
        path = self._target(name)
        try:
            make(path)
        except (OSError, AttributeError) as exc:
            self.not_made.append(f"{kind}: {name!r}: {exc}")
            return
        self.files.append(FuzzFile(name, kind, expect, "", reason))

    def random_bytes(self, size: int) -> bytes:
        data = bytearray(self.rng.randbytes(size))
        data[self.rng.randrange(size)] = 0xFF  # never valid UTF-8
        return bytes(data)
