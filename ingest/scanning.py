"""Which files under the corpus folder a sync reads, and which it refuses.

The scan keeps only regular files inside the corpus folder. Reported as
failed, and never opened: a link that resolves outside the folder, a broken
or looping link, a pipe or device, and a name that is not valid UTF-8 or
holds a control character (a line break, an escape), shown with those
characters escaped (``printable``). Links to folders are not followed
(reported as skipped), nor are files of an unsupported type read. Folders and
files matching an exclude pattern are left out without a word.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
import unicodedata
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ingest.loaders import is_supported
from ingest.sync_report import FileFailure, SkippedFile

_FOLDER_LINK = "a link to a folder: links to folders are not followed"
_LINK_HINT = "copy the file into the corpus folder, or remove the link"
_NAME_HINT = "rename the file (and its folders) to UTF-8 without line breaks or control characters"
_NOT_REGULAR_HINT = "remove it from the corpus folder; only regular files are read"


def scan_corpus(
    corpus_dir: Path,
    patterns: Sequence[str],
    exclude: set[Path] | frozenset[Path] = frozenset(),
) -> tuple[dict[str, Path], list[SkippedFile], list[FileFailure]]:
    """(source -> path to read, skipped, refused) for the corpus folder, by
    source; ``patterns`` are the exclude patterns, ``exclude`` the files never
    to read (the rules and access files, also through a link)."""
    files: dict[str, Path] = {}
    skipped: list[SkippedFile] = []
    refused: list[FileFailure] = []
    root = corpus_dir.resolve()
    never = {p.resolve() for p in exclude}

    def unreadable_folder(exc: OSError) -> None:
        where = Path(exc.filename or corpus_dir)
        source = printable(_relative(where, corpus_dir))
        reason = f"cannot read the folder ({exc.strerror or type(exc).__name__})"
        refused.append(FileFailure(source, reason, "check that the ingesting user may read it"))

    for base_name, dirnames, filenames in os.walk(corpus_dir, onerror=unreadable_folder):
        base = Path(base_name)
        rel_root = base.relative_to(corpus_dir).as_posix()
        kept: list[str] = []
        # Prune excluded folders (e.g. ".git") instead of walking them.
        for name in sorted(dirnames):
            source = _join(rel_root, name)
            if _excluded(source, patterns):
                continue
            if (base / name).is_symlink():  # os.walk does not follow it either
                skipped.append(SkippedFile(printable(source), _FOLDER_LINK))
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            source = _join(rel_root, name)
            path = base / name
            if _excluded(source, patterns) or path in exclude:
                continue
            if not is_supported(path):
                reason = f"unsupported file type '{printable(path.suffix)}'"
                skipped.append(SkippedFile(printable(source), reason))
                continue
            outcome = _inspect(path, source, root)
            if isinstance(outcome, FileFailure):
                refused.append(outcome)
            elif outcome not in never:  # not a link to the rules or access file
                # Read through the link (its name, not its target's, gives the format).
                files[source] = path
    return dict(sorted(files.items())), skipped, refused


def _inspect(path: Path, source: str, root: Path) -> Path | FileFailure:
    """Where a supported file found by the scan really is (links resolved), or
    why it is not to be read."""
    shown = printable(source)
    if shown != source:
        reason = (
            "the file name is not valid UTF-8"
            if _has_undecodable(source)
            else "the file name holds a line break or control character"
        )
        return FileFailure(shown, reason, _NAME_HINT)
    try:
        info = os.stat(path)  # follows links
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return FileFailure(source, "the link is part of a loop of links", "fix or remove it")
        if path.is_symlink():
            missing = printable(os.readlink(path))
            reason = f"the link points to a file that does not exist ({missing})"
            return FileFailure(source, reason, "fix or remove the link")
        return FileFailure(
            source,
            f"cannot read the file ({exc.strerror or type(exc).__name__})",
            "check that it exists and that the ingesting user may read it",
        )
    target = path
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if not target.is_relative_to(root):
            reason = f"links outside the corpus folder (to {printable(str(target))})"
            return FileFailure(source, reason, _LINK_HINT)
    if not stat.S_ISREG(info.st_mode):
        return FileFailure(
            source, "not a regular file (a pipe, socket or device)", _NOT_REGULAR_HINT
        )
    return target


def _has_undecodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(text: str) -> str:
    """``text`` safe to store and print on one line: bytes that were not UTF-8
    (held as surrogates by ``os.fsdecode``) and control characters (line
    breaks, escapes) written as backslash escapes. Sources and failure reasons
    pass through it; a file name that it changes is refused by the scan."""
    if _has_undecodable(text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if not any(unicodedata.category(ch) == "Cc" for ch in text):
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) == "Cc" else ch
        for ch in text
    )


def _relative(path: Path, corpus_dir: Path) -> str:
    try:
        return path.relative_to(corpus_dir).as_posix()
    except ValueError:
        return path.as_posix()


def _join(rel_root: str, name: str) -> str:
    return name if rel_root in ("", ".") else f"{rel_root}/{name}"


def _excluded(source: str, patterns: Sequence[str]) -> bool:
    """True when the relative path, or any one of its parts, matches a pattern."""
    parts = PurePosixPath(source).parts
    return any(
        fnmatch.fnmatchcase(source, pattern) or any(fnmatch.fnmatchcase(p, pattern) for p in parts)
        for pattern in patterns
    )


__all__ = ["printable", "scan_corpus"]
