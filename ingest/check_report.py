"""What ``chatbot-ingest --check`` (``ingest.check``) found: each way the
catalog, the keyword index and the vector index disagree, the recorded files
the next sync will redo anyway, and the report that sums them up."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

_SHOWN_IDS = 5  # chunk ids a problem's line names before "+n more"


class ProblemKind(StrEnum):
    DUPLICATE = "duplicate"
    UNRECORDED_SOURCE = "unrecorded_source"
    MISSING_KEYWORD = "missing_keyword"
    WRONG_SOURCE = "wrong_source"
    INCOMPLETE_KEYWORD = "incomplete_keyword"
    KEYWORD_LABEL = "keyword_label"
    ORPHAN_KEYWORD = "orphan_keyword"
    MISSING_VECTOR = "missing_vector"
    VECTOR_LABEL = "vector_label"
    ORPHAN_VECTOR = "orphan_vector"
    GROUP_MISSING = "group_missing"
    GROUP_EXTRA = "group_extra"
    GROUP_LABEL = "group_label"


@dataclass(frozen=True, slots=True)
class Problem:
    """One way the stores disagree, for one source (and group store)."""

    kind: ProblemKind
    source: str  # "" when no store says which file the chunks came from
    chunk_ids: tuple[str, ...]
    message: str  # what is wrong and how to repair it, one sentence
    group: str = ""  # the group store concerned (group kinds only)

    def line(self) -> str:
        """The problem as the CLI prints it."""
        shown = ", ".join(self.chunk_ids[:_SHOWN_IDS])
        more = len(self.chunk_ids) - _SHOWN_IDS
        ids = f"{shown}, +{more} more" if more > 0 else shown
        return f"PROBLEM [{self.kind}] {self.message} (chunk ids: {ids})"


class PendingReason(StrEnum):
    CHANGED = "changed on disk"
    GONE = "gone from the corpus folder"
    UNREADABLE = "unreadable"
    UNFINISHED = "left unfinished by an interrupted run"  # ``ingest.sync._regroup``


@dataclass(frozen=True, slots=True)
class PendingFile:
    """A recorded file the next ``chatbot-ingest`` will re-index or remove."""

    source: str
    reason: PendingReason


@dataclass(frozen=True, slots=True)
class CheckReport:
    documents: int  # catalog records
    chunks: int  # chunk ids the catalog lists
    group_stores: int  # group collections found in the vector index
    problems: tuple[Problem, ...]
    needs_sync: tuple[PendingFile, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line for the CLI."""
        counts = (
            f"{self.documents} documents, {self.chunks} chunks, "
            f"{self.group_stores} group collections"
        )
        if self.ok:
            return f"index consistent: catalog, keyword index and vector index agree ({counts})"
        kinds = sorted({p.kind.value for p in self.problems})
        return (
            f"index INCONSISTENT: {len(self.problems)} problem(s) ({', '.join(kinds)}) "
            f"over {counts}"
        )


__all__ = ["CheckReport", "PendingFile", "PendingReason", "Problem", "ProblemKind"]
