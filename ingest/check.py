"""``chatbot-ingest --check``: do the catalog, the keyword index and the vector index agree?

Ingestion writes every file to three places (``ingest.sync`` gives the
order): the keyword index, the vector index (Chroma: a main collection plus
one collection per access group) and, last, the catalog record that lists the
file's chunk ids and groups. A run that dies part-way leaves a state the next
run repairs; this check says whether the three agree now, reading ids and
access labels only (no text, no vectors, no embedding model), so it stays
cheap at 100k chunks.

What it checks, each finding a ``Problem`` of one ``ProblemKind``
(``ingest.check_report``):

- the catalog lists each chunk id once (``DUPLICATE``);
- every chunk id the catalog lists is in the keyword index, under the same
  source, with its text and search terms (``MISSING_KEYWORD``,
  ``WRONG_SOURCE``, ``INCOMPLETE_KEYWORD``), and in the vector index
  (``MISSING_VECTOR``), both with the record's groups (``KEYWORD_LABEL``,
  ``VECTOR_LABEL``);
- no index holds a chunk the catalog does not list: under a recorded
  source (``ORPHAN_KEYWORD``, ``ORPHAN_VECTOR``) or under a source with no
  record at all (``UNRECORDED_SOURCE``);
- each chunk is in exactly the group stores of its groups
  (``GROUP_MISSING``, ``GROUP_EXTRA``), with the label the main store has
  (``GROUP_LABEL``).

With the corpus folder, records whose file changed or is gone are listed as
needing a sync: that is the normal state between an edit and the next run,
not an inconsistency. Every problem's message says what is wrong and how to
repair it; plain ``chatbot-ingest`` repairs only what it can see (it trusts
the catalog for unchanged files), the rest needs ``--rebuild``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

from chatbot.catalog import CheckableCatalog, DocumentRecord, StoredChunk, VectorInventory
from chatbot.errors import IngestionError
from ingest.check_report import CheckReport, PendingFile, PendingReason, Problem, ProblemKind
from ingest.loaders import file_sha256

REBUILD = "run `chatbot-ingest --rebuild` to rebuild both indexes from the corpus"
SYNC = "run `chatbot-ingest` to repair (or `chatbot-ingest --rebuild`)"
_READ_BATCH = 1000  # chunks read back at a time (orphans: normally none)


def check_index(
    catalog: CheckableCatalog, vectors: VectorInventory, corpus_dir: Path | None = None
) -> CheckReport:
    """Compare the catalog, the keyword index and the vector index (reads only).

    ``corpus_dir``: also list the recorded files that changed or are gone,
    and say so in the repair hint of their problems.
    """
    records = catalog.catalog()
    pending = _pending(records, corpus_dir) if corpus_dir is not None else ()
    found = _Findings(records, {p.source for p in pending})

    keyword = {c.id: c for c in catalog.stored_chunks()}
    owner = found.catalog_owners(keyword)
    main = vectors.stored_labels()
    found.keyword_side(owner, keyword)
    found.vector_side(owner, keyword, main, vectors)
    groups = vectors.group_labels()
    found.group_side(owner, keyword, main, groups)
    return CheckReport(
        documents=len(records),
        chunks=len(owner),
        group_stores=len(groups),
        problems=tuple(sorted(found.problems, key=lambda p: (p.source, p.kind, p.group))),
        needs_sync=tuple(pending),
    )


class _Findings:
    """Collects problems; one per (kind, source, group, label) so a file with
    300 missing chunks is one line, not 300."""

    def __init__(self, records: Mapping[str, DocumentRecord], pending: set[str]) -> None:
        self.records = records
        self.pending = pending
        self.problems: list[Problem] = []

    def catalog_owners(self, keyword: Mapping[str, StoredChunk]) -> dict[str, str]:
        """Chunk id -> the source whose record lists it. An id listed twice
        belongs to the source the keyword index stores it under (else the
        first record); every other listing is a duplicate."""
        listed: dict[str, list[str]] = defaultdict(list)
        for source, record in self.records.items():
            for chunk_id in record.chunk_ids:
                listed[chunk_id].append(source)
        owner: dict[str, str] = {}
        twice: dict[str, dict[str, set[str]]] = defaultdict(dict)
        for chunk_id, sources in listed.items():
            stored = keyword.get(chunk_id)
            home = stored.source if stored is not None and stored.source in sources else sources[0]
            owner[chunk_id] = home
            extra = list(sources)
            extra.remove(home)
            for source in extra:
                twice[source][chunk_id] = {s for s in sources if s != source}
        for source, ids in twice.items():
            others = sorted({s for also in ids.values() for s in also})
            also = f" (also under {', '.join(others)})" if others else ""
            self._add(
                ProblemKind.DUPLICATE,
                source,
                ids,
                f"{len(ids)} chunk id(s) in the catalog record of {source} are listed twice"
                f"{also}: the catalog is damaged; {REBUILD}.",
            )
        return owner

    def keyword_side(self, owner: Mapping[str, str], keyword: Mapping[str, StoredChunk]) -> None:
        by_kind: dict[tuple[ProblemKind, str, tuple[str, ...]], list[str]] = defaultdict(list)
        for chunk_id, source in owner.items():
            stored = keyword.get(chunk_id)
            if stored is None:
                by_kind[(ProblemKind.MISSING_KEYWORD, source, ())].append(chunk_id)
            elif stored.source != source:
                by_kind[(ProblemKind.WRONG_SOURCE, source, (stored.source,))].append(chunk_id)
            else:
                if not stored.complete:
                    by_kind[(ProblemKind.INCOMPLETE_KEYWORD, source, ())].append(chunk_id)
                if stored.groups != self.records[source].groups:
                    by_kind[(ProblemKind.KEYWORD_LABEL, source, stored.groups)].append(chunk_id)
        for stored in keyword.values():
            if stored.id not in owner and stored.source in self.records:
                by_kind[(ProblemKind.ORPHAN_KEYWORD, stored.source, ())].append(stored.id)
        for (kind, source, extra), ids in by_kind.items():
            self._add(kind, source, ids, self._keyword_message(kind, source, len(ids), extra))

    def vector_side(
        self,
        owner: Mapping[str, str],
        keyword: Mapping[str, StoredChunk],
        main: Mapping[str, tuple[str, ...]],
        vectors: VectorInventory,
    ) -> None:
        by_kind: dict[tuple[ProblemKind, str, tuple[str, ...]], list[str]] = defaultdict(list)
        for chunk_id, source in owner.items():
            label = main.get(chunk_id)
            if label is None:
                by_kind[(ProblemKind.MISSING_VECTOR, source, ())].append(chunk_id)
            elif label != self.records[source].groups:
                by_kind[(ProblemKind.VECTOR_LABEL, source, label)].append(chunk_id)
        # Chunks no record lists: under which source? The keyword index knows
        # most; the vector index is asked about the rest (few, normally none).
        unknown = [i for i in main if i not in owner and i not in keyword]
        sources = {
            c.id: c.source
            for start in range(0, len(unknown), _READ_BATCH)
            for c in vectors.get_chunks(unknown[start : start + _READ_BATCH])
        }
        unrecorded: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for stored in keyword.values():
            if stored.id not in owner and stored.source not in self.records:
                unrecorded[stored.source][stored.id].add("keyword")
        for chunk_id in main:
            if chunk_id in owner:
                continue
            source = keyword[chunk_id].source if chunk_id in keyword else sources.get(chunk_id, "")
            if source in self.records:
                by_kind[(ProblemKind.ORPHAN_VECTOR, source, ())].append(chunk_id)
            else:
                unrecorded[source][chunk_id].add("vector")
        for (kind, source, extra), ids in by_kind.items():
            self._add(kind, source, ids, self._vector_message(kind, source, ids, extra, keyword))
        for source, where in sorted(unrecorded.items()):
            self._add(
                ProblemKind.UNRECORDED_SOURCE,
                source,
                where,
                _unrecorded_message(source, where),
            )

    def group_side(
        self,
        owner: Mapping[str, str],
        keyword: Mapping[str, StoredChunk],
        main: Mapping[str, tuple[str, ...]],
        groups: Mapping[str, Mapping[str, tuple[str, ...]]],
    ) -> None:
        def source_of(chunk_id: str) -> str:
            if chunk_id in owner:
                return owner[chunk_id]
            return keyword[chunk_id].source if chunk_id in keyword else ""

        def expected(chunk_id: str) -> tuple[str, ...]:
            if chunk_id in owner:
                return self.records[owner[chunk_id]].groups
            return main.get(chunk_id, ())

        found: dict[tuple[ProblemKind, str, str, tuple[str, ...]], list[str]] = defaultdict(list)
        for chunk_id in main:
            for group in expected(chunk_id):
                if chunk_id not in groups.get(group, {}):
                    found[(ProblemKind.GROUP_MISSING, source_of(chunk_id), group, ())].append(
                        chunk_id
                    )
        for group, members in groups.items():
            for chunk_id, label in members.items():
                source = source_of(chunk_id)
                if group not in expected(chunk_id) or chunk_id not in main:
                    found[(ProblemKind.GROUP_EXTRA, source, group, ())].append(chunk_id)
                elif label != main[chunk_id]:
                    found[(ProblemKind.GROUP_LABEL, source, group, label)].append(chunk_id)
        for (kind, source, group, label), ids in found.items():
            self._add(
                kind, source, ids, self._group_message(kind, source, group, len(ids), label), group
            )

    # -- messages ------------------------------------------------------------

    def _repair(self, source: str) -> str:
        """How to repair a recorded source: a file the next sync redoes anyway
        repairs itself; an unchanged one is skipped (the catalog is trusted)."""
        if source in self.pending:
            return f"{source} needs a sync anyway: {SYNC}"
        return f"`chatbot-ingest` skips the unchanged file, so {REBUILD}"

    def _keyword_message(
        self, kind: ProblemKind, source: str, n: int, extra: tuple[str, ...]
    ) -> str:
        fix = self._repair(source)
        recorded = _groups(self.records[source].groups) if source in self.records else ""
        match kind:
            case ProblemKind.MISSING_KEYWORD:
                what = "are not in the keyword index, so keyword search cannot find them"
                return f"{n} chunk(s) the catalog lists for {source} {what}; {fix}."
            case ProblemKind.WRONG_SOURCE:
                return (
                    f"{n} chunk(s) the catalog lists for {source} are stored under "
                    f"{extra[0]} in the keyword index; {REBUILD}."
                )
            case ProblemKind.INCOMPLETE_KEYWORD:
                return (
                    f"{n} chunk(s) of {source} are in the keyword index without their text "
                    "or their search terms, or with terms labelled for other groups; "
                    f"{fix}."
                )
            case ProblemKind.KEYWORD_LABEL:
                return (
                    f"{n} chunk(s) of {source} carry the groups {_groups(extra)} in the "
                    f"keyword index but the catalog says {recorded}, so keyword search "
                    f"applies the wrong access; {fix}."
                )
            case _:  # ORPHAN_KEYWORD
                return (
                    f"{n} chunk(s) in the keyword index under {source} are not in its "
                    f"catalog record (left from an earlier version of the file); {fix}."
                )

    def _vector_message(
        self,
        kind: ProblemKind,
        source: str,
        ids: list[str],
        extra: tuple[str, ...],
        keyword: Mapping[str, StoredChunk],
    ) -> str:
        fix = self._repair(source)
        n = len(ids)
        match kind:
            case ProblemKind.MISSING_VECTOR:
                return (
                    f"{n} chunk(s) the catalog lists for {source} are not in the vector "
                    f"index, so semantic search cannot find them; {fix}."
                )
            case ProblemKind.VECTOR_LABEL:
                recorded = _groups(self.records[source].groups)
                return (
                    f"{n} chunk(s) of {source} carry the groups {_groups(extra)} in the "
                    f"vector index but the catalog says {recorded}, so semantic search "
                    f"applies the wrong access; {fix}."
                )
            case _:  # ORPHAN_VECTOR
                # A sync removes stale ids it finds in the keyword index under
                # the source; ids only the vector index has, it never sees.
                if all(i in keyword for i in ids):
                    fix = self._repair(source)
                else:
                    fix = f"`chatbot-ingest` cannot see them, so {REBUILD}"
                return (
                    f"{n} chunk(s) in the vector index under {source} are not in its "
                    f"catalog record (left from an earlier version of the file); {fix}."
                )

    def _group_message(
        self, kind: ProblemKind, source: str, group: str, n: int, label: tuple[str, ...]
    ) -> str:
        of = f"of {source} " if source else "that no store knows the source of "
        fix = self._repair(source) if source in self.records else REBUILD
        match kind:
            case ProblemKind.GROUP_MISSING:
                return (
                    f"{n} chunk(s) {of}are missing from the collection of group '{group}', "
                    f"so members of '{group}' without a broader group cannot find them; "
                    f"{fix}."
                )
            case ProblemKind.GROUP_EXTRA:
                return (
                    f"{n} chunk(s) {of}are in the collection of group '{group}' but not in "
                    f"that group (answers still check the main label, so nothing is shown "
                    f"to '{group}', but they take search places); {fix}."
                )
            case _:  # GROUP_LABEL
                return (
                    f"{n} chunk(s) {of}carry the groups {_groups(label)} in the collection "
                    f"of group '{group}' but other groups in the main collection; {fix}."
                )

    def _add(
        self,
        kind: ProblemKind,
        source: str,
        ids: Iterable[str],
        message: str,
        group: str = "",
    ) -> None:
        self.problems.append(Problem(kind, source, tuple(sorted(ids)), message, group))


def _unrecorded_message(source: str, where: Mapping[str, set[str]]) -> str:
    stores = sorted({s for places in where.values() for s in places})
    held = " and ".join(f"{s} index" for s in stores)
    name = source or "an unknown source"
    said = f"{len(where)} chunk(s) of {name} are in the {held} but the catalog has no record of it"
    if all("keyword" in places for places in where.values()):
        # Sync finds these by source in the keyword index: it re-indexes the
        # file (replacing them) or, when the file is gone, deletes them.
        return (
            f"{said} (an ingestion stopped part-way); run `chatbot-ingest` to finish it "
            "(or `chatbot-ingest --rebuild`)."
        )
    return f"{said}, and `chatbot-ingest` cannot see chunks the keyword index lacks; {REBUILD}."


def _groups(groups: tuple[str, ...]) -> str:
    return "[" + ", ".join(groups) + "]" if groups else "[] (no group)"


def _pending(records: Mapping[str, DocumentRecord], corpus_dir: Path) -> list[PendingFile]:
    """Recorded files whose bytes changed, or that are gone (hashes every file)."""
    pending: list[PendingFile] = []
    for source, record in records.items():
        path = corpus_dir / source
        if not path.is_file():
            pending.append(PendingFile(source, PendingReason.GONE))
            continue
        if not record.file_hash:  # marked while its relabelling was under way
            pending.append(PendingFile(source, PendingReason.UNFINISHED))
            continue
        try:
            digest = file_sha256(path, source)
        except IngestionError:
            pending.append(PendingFile(source, PendingReason.UNREADABLE))
            continue
        if digest != record.file_hash:
            pending.append(PendingFile(source, PendingReason.CHANGED))
    return pending
