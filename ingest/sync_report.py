"""What one sync did (``ingest.sync``): the run's counts, and each file it
could not index or did not read, with the reason and what to do; counted as
the run goes (``Tally``), summed up at its end (``IngestReport``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FileFailure:
    source: str
    reason: str
    hint: str


@dataclass(frozen=True, slots=True)
class SkippedFile:
    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ``sync`` did. Counts are files unless they say otherwise."""

    files_seen: int  # supported files found in the folder
    added: int
    updated: int
    unchanged: int
    removed: int  # sources dropped because their file is gone
    failed: tuple[FileFailure, ...]
    skipped: tuple[SkippedFile, ...]  # unsupported file types
    pages: int  # PDF pages read in this run
    chunks_written: int
    chunks_deleted: int
    seconds: float
    rebuilt: bool = False
    relabelled: int = 0  # unchanged files whose identity (label, period, version) changed
    regrouped: int = 0  # unchanged files whose access groups changed (no re-embedding)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{self.files_seen} files ({self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged), {self.pages} pages, "
            f"{self.chunks_written} chunks written, {self.chunks_deleted} chunks deleted, "
            + (f"{self.relabelled} relabelled, " if self.relabelled else "")
            + (f"{self.regrouped} with new access groups, " if self.regrouped else "")
            + f"{self.removed} removed, {len(self.skipped)} skipped, "
            f"{len(self.failed)} failed, {self.seconds:.1f}s"
        )


@dataclass(slots=True)
class Tally:
    """A run's counts so far; the sync adds to them file by file."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    pages: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    relabelled: int = 0
    regrouped: int = 0
    failed: list[FileFailure] = field(default_factory=list)

    def report(
        self, *, files_seen: int, skipped: Sequence[SkippedFile], seconds: float, rebuilt: bool
    ) -> IngestReport:
        return IngestReport(
            files_seen=files_seen,
            added=self.added,
            updated=self.updated,
            unchanged=self.unchanged,
            removed=self.removed,
            failed=tuple(self.failed),
            skipped=tuple(skipped),
            pages=self.pages,
            chunks_written=self.chunks_written,
            chunks_deleted=self.chunks_deleted,
            seconds=seconds,
            rebuilt=rebuilt,
            relabelled=self.relabelled,
            regrouped=self.regrouped,
        )


__all__ = ["FileFailure", "IngestReport", "SkippedFile", "Tally"]
