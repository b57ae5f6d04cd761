"""Bring the indexes in line with the corpus folder, incrementally.

For every supported file under the corpus folder:

- same sha256 as recorded in the catalog: skipped;
- new or changed: loaded, chunked and embedded first; only when all of that
  worked are its old chunks replaced in both indexes. A file that has become
  unreadable keeps its previous, good chunks and is reported as failed;
- recorded but no longer in the folder: removed from both indexes.

Write order, per file (``ingest.index_writes``): keyword index (new chunks),
vector index (new chunks), vector index (delete stale), keyword index (delete
stale), catalog. The files of one embedding pool (``ingest.embed_queue``) go
through each step together, with one call per index. A run that dies
mid-write leaves those files looking changed, and the next run redoes them,
removing any stale ids it finds under their sources.

The embedder's name is stored with the index; vectors from two models cannot
be compared, so a different embedder stops the run until ``--rebuild``.

Each document's identity (``ingest.identity``: label, period, version) is
worked out from the rules file and the document, and goes into every chunk's
context line, which is embedded. The rules file is read and validated before
anything is written; when it (or the detection) changed since the last run,
unchanged files are re-read and only those whose identity changed are
re-chunked and re-embedded.

Each document's access groups (``ingest.access_rules``) go with every chunk
into both indexes and the catalog. The access file is validated before
anything is written too; a document whose file is unchanged but whose
groups changed is relabelled in place (catalog marked unfinished, keyword
index, vector index, catalog, in that order), without being re-read or
re-embedded; one killed mid-way is re-indexed by the next run.

Files are parsed in a worker process with a time and a memory limit per file
(``ingest.isolation``; ``parse_memory_mb = 0`` parses in-process), started on
the first file that needs parsing and stopped when the sync ends, so a file
that hangs, bloats or crashes the parser fails alone.

Chunks are embedded several files at a time on a thread of their own
(``ingest.embed_queue``), and each file is written, in order and with the
write order above, while the next pool embeds; a file counts as done (in the
progress and the catalog) once it is written.

The scan (``ingest.scanning``) keeps only regular files inside the corpus
folder and refuses links out of it, pipes and unprintable names; a file over
the size limit is refused before it is hashed. A source that fails this way
keeps what was indexed for it, like any file that cannot be read. What the
run did comes back as an ``IngestReport`` (``ingest.sync_report``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from chatbot.catalog import (
    CatalogKeywordIndex,
    ClearableVectorIndex,
    DocumentRecord,
    IndexStatus,
    dominant_language,
)
from chatbot.domain import Chunk
from chatbot.errors import ConfigurationError, IngestionError
from chatbot.protocols import Embedder
from chatbot.settings import IngestSettings
from ingest.access_rules import AccessRules, load_access_rules
from ingest.chunking import Chunker
from ingest.embed_queue import EmbedQueue
from ingest.identity import DocumentRules, identify, load_rules, opening_text, rules_path
from ingest.index_writes import IndexWrites, Replacement
from ingest.isolation import DocumentLoader, limits_from, open_loader
from ingest.loaders import check_size, file_sha256
from ingest.scanning import printable, scan_corpus
from ingest.sync_report import FileFailure, IngestReport, Tally

log = logging.getLogger(__name__)

META_EMBEDDER = "embedder"
META_CHUNKING = "chunking"
META_IDENTITY = "identity_rules"
# Crash safety: stored for the identity signature while a run re-checks
# every file; equals no real signature, so a run killed part-way is finished
# by the next one, whatever rules it has.
UNFINISHED = "unfinished"

Progress = Callable[[str, int, int], None]
"""Called after each file with (source, files done, files total)."""


class Ingestor:
    """Loads, chunks, embeds and indexes a corpus folder; see the module docstring."""

    def __init__(
        self,
        embedder: Embedder,
        vector_index: ClearableVectorIndex,
        keyword_index: CatalogKeywordIndex,
        settings: IngestSettings,
    ) -> None:
        self._embedder = embedder
        self._vectors = vector_index
        self._keywords = keyword_index
        self._writes = IndexWrites(keyword_index, vector_index)
        self._settings = settings
        self._chunker = Chunker(
            embedder.token_length, settings.chunk_tokens, settings.chunk_overlap
        )

    def sync(
        self, corpus_dir: Path, progress: Progress | None = None, rebuild: bool = False
    ) -> IngestReport:
        started = time.perf_counter()
        corpus_dir = Path(corpus_dir)
        if not corpus_dir.is_dir():
            raise ConfigurationError(
                f"corpus folder {corpus_dir} does not exist: create it, pass --corpus, "
                "or set CHATBOT_INGEST__CORPUS_DIR"
            )
        # Read before any write: bad rules stop the run with the index intact.
        rules_file = rules_path(corpus_dir, self._settings.documents_file)
        rules = load_rules(rules_file)
        access_file = rules_path(corpus_dir, self._settings.access_file)
        access = load_access_rules(access_file)
        if access.path is None:
            log.info("no access file %s: every document is open to 'everyone'", access_file)
        with self._keywords.ingestion_lock(self._settings.lock_wait_s):
            return self._sync_locked(corpus_dir, progress, rebuild, started, rules, access)

    def _sync_locked(
        self,
        corpus_dir: Path,
        progress: Progress | None,
        rebuild: bool,
        started: float,
        rules: DocumentRules,
        access: AccessRules,
    ) -> IngestReport:
        """The run itself, under the ingestion lock (``sync``)."""
        rules_file = rules_path(corpus_dir, self._settings.documents_file)
        access_file = rules_path(corpus_dir, self._settings.access_file)
        if rebuild:
            log.info("rebuild: clearing both indexes")
            self._keywords.clear()
            self._vectors.clear()
        else:
            self._check_embedder()
            self._clear_unknown_vectors()
        self._keywords.set_meta(META_EMBEDDER, self._embedder.name)
        signature = self._chunker.signature()
        rechunk_all = self._keywords.get_meta(META_CHUNKING) not in (None, signature)
        if rechunk_all:
            log.info("chunking settings changed: every file is re-chunked")
        recheck_identity = self._keywords.get_meta(META_IDENTITY) != rules.signature()
        if recheck_identity and rules.rules:
            log.info("document rules %s changed: identities are re-checked", rules_file)
        # Crash safety: a run that redoes every file and is killed part-way
        # must be finished by the next one, even one started with the old
        # settings again (it would find its own signature, skip the rest and
        # keep the files already redone with the abandoned settings).
        if rechunk_all:
            self._mark_unfinished(signature)
        if recheck_identity:
            self._keywords.set_meta(META_IDENTITY, UNFINISHED)

        files, skipped, refused = scan_corpus(
            corpus_dir, self._settings.exclude, exclude={rules_file, access_file}
        )
        catalog = self._keywords.catalog()
        tally = Tally(failed=list(refused))

        # A source refused by the scan keeps its chunks, like an unreadable file.
        gone = (set(catalog) | self._keywords.sources()) - set(files) - {f.source for f in refused}
        for source in sorted(gone):
            old = catalog[source].chunk_ids if source in catalog else ()
            tally.chunks_deleted += self._writes.delete_source(source, old)
            self._keywords.forget_document(source)
            tally.removed += 1
            log.info("%s: removed (file is gone)", source)

        total = len(files)
        done = 0

        def finished(source: str) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(source, done, total)

        def write(batch: list[tuple[_Pending, list[list[float]]]]) -> None:
            self._write_files(batch, tally)
            for pending, _ in batch:
                finished(pending.source)

        queue = EmbedQueue[_Pending](self._embedder.embed, write)
        with open_loader(limits_from(self._settings)) as loader:
            for source, path in files.items():
                try:
                    pending = self._prepare_file(
                        source,
                        path,
                        catalog.get(source),
                        rechunk_all,
                        _Rules(rules, recheck_identity, access),
                        tally,
                        loader,
                    )
                except IngestionError as exc:
                    log.warning("%s: %s", source, exc)
                    failure = FileFailure(exc.source, printable(exc.reason), printable(exc.hint))
                    tally.failed.append(failure)
                    pending = None
                if pending is None:
                    finished(source)
                else:
                    queue.put(pending, [c.indexed_text() for c in pending.chunks])
            queue.finish()

        self._keywords.set_meta(META_CHUNKING, signature)
        self._keywords.set_meta(META_IDENTITY, rules.signature())
        return tally.report(
            files_seen=total + len(refused),
            skipped=skipped,
            seconds=time.perf_counter() - started,
            rebuilt=rebuild,
        )

    def status(self) -> IndexStatus:
        """Totals over the whole index (not just this run)."""
        return self._keywords.status()

    def documents(self) -> list[DocumentRecord]:
        """Every indexed document, by source, with its recorded identity."""
        return list(self._keywords.catalog().values())

    # -- steps -------------------------------------------------------------

    def _check_embedder(self) -> None:
        stored = self._keywords.get_meta(META_EMBEDDER)
        current = self._embedder.name
        if stored is None or stored == current:
            return
        if not self._keywords.catalog() and self._vectors.count() == 0:
            return  # nothing was embedded with the old model
        raise ConfigurationError(
            f"the index was built with embedder '{stored}' but the current one is "
            f"'{current}'; vectors from different models cannot be mixed. Run "
            "`chatbot-ingest --rebuild` to re-embed everything, or set "
            "CHATBOT_EMBEDDER__MODEL back"
        )

    def _mark_unfinished(self, signature: str) -> None:
        """Before re-chunking every file: mark every record unfinished (an
        empty hash matches no file), then store the new chunking signature.
        Each file re-chunked gets a true record again; a run killed part-way
        leaves the rest marked, so the next run with the same settings redoes
        only those, and one with the old settings again sees a signature
        change and redoes everything."""
        for record in self._keywords.catalog().values():
            if record.file_hash:
                self._keywords.record_document(replace(record, file_hash=""))
        self._keywords.set_meta(META_CHUNKING, signature)

    def _clear_unknown_vectors(self) -> None:
        """Crash safety: the keyword index knows every chunk id that may be in
        the vector index (write order), so when it holds nothing the vector
        index must hold nothing either. A ``--rebuild`` killed between its two
        clears leaves the old vectors behind, and the next run could never
        find the ones of files deleted since."""
        if self._keywords.catalog() or self._keywords.sources():
            return
        if self._vectors.count() > 0:
            log.warning("the keyword index is empty but the vector index is not: clearing it")
            self._vectors.clear()

    def _prepare_file(
        self,
        source: str,
        path: Path,
        record: DocumentRecord | None,
        rechunk_all: bool,
        rules: _Rules,
        tally: Tally,
        loader: DocumentLoader,
    ) -> _Pending | None:
        """Everything for one file short of embedding and writing its chunks:
        ``None`` when the file is done with (unchanged, or only regrouped)."""
        check_size(path, source, self._settings.max_file_mb)
        file_hash = file_sha256(path, source)
        same_file = record is not None and record.file_hash == file_hash and not rechunk_all
        groups = rules.access.groups_for(source)
        if record is not None:
            # First, before anything can fail on the file: a document whose
            # new version cannot be read keeps its old chunks, and they must
            # not keep groups the access file has taken away.
            self._regroup(record, groups, tally)
            record = replace(record, groups=groups)
        if same_file and record is not None and not rules.recheck_identity:
            tally.unchanged += 1
            return None
        # Everything that can fail on a bad file happens before any write.
        doc = loader.load(path, source)
        identity = identify(source, doc.title, opening_text(doc), rules.documents)
        if same_file and record is not None:
            if (record.title, record.context) == (identity.title, identity.context):
                tally.unchanged += 1
                return None
            tally.relabelled += 1
            log.info("%s: identity changed to %r", source, identity.context.label)
        chunks = [
            replace(chunk, groups=groups)
            for chunk in self._chunker.chunk(replace(doc, title=identity.title), identity.context)
        ]
        if not chunks:
            raise IngestionError(
                source, "no indexable text after cleaning", "check the file's content"
            )
        return _Pending(
            source=source,
            chunks=chunks,
            previous=record,
            record=DocumentRecord(
                source=source,
                file_hash=doc.file_hash,
                title=identity.title,
                pages=doc.pages,
                chunk_ids=tuple(c.id for c in chunks),
                language=dominant_language([c.language for c in chunks]),
                ingested_at=datetime.now(UTC),
                context=identity.context,
                period_from=identity.period_from,
                groups=groups,
            ),
        )

    def _write_files(
        self, batch: Sequence[tuple[_Pending, Sequence[Sequence[float]]]], tally: Tally
    ) -> None:
        """Replace several files' chunks in both indexes together, then record
        each file (``IndexWrites`` keeps the write order for each of them)."""
        deleted = self._writes.replace_documents(
            [
                Replacement(
                    p.source,
                    p.chunks,
                    vectors,
                    p.previous.chunk_ids if p.previous is not None else (),
                )
                for p, vectors in batch
            ]
        )
        for (pending, _), stale in zip(batch, deleted, strict=True):
            self._keywords.record_document(replace(pending.record, ingested_at=datetime.now(UTC)))
            if pending.previous is None:
                tally.added += 1
            else:
                tally.updated += 1
            tally.pages += pending.record.pages
            tally.chunks_written += len(pending.chunks)
            tally.chunks_deleted += stale
            log.info(
                "%s: %d chunks written, %d stale removed",
                pending.source,
                len(pending.chunks),
                stale,
            )

    def _regroup(self, record: DocumentRecord, groups: tuple[str, ...], tally: Tally) -> None:
        """Give an unchanged document new access groups, in place."""
        if record.groups == groups:
            return
        count = self._writes.regroup(record, groups)
        tally.regrouped += 1
        log.info(
            "%s: access groups %s -> %s (%d chunks relabelled)",
            record.source,
            list(record.groups) or "none",
            list(groups) or "none",
            count,
        )


@dataclass(frozen=True, slots=True)
class _Pending:
    """A file read and chunked, waiting for its vectors (``EmbedQueue``)."""

    source: str
    chunks: list[Chunk]
    previous: DocumentRecord | None
    record: DocumentRecord


@dataclass(frozen=True, slots=True)
class _Rules:
    """The corpus's identity and access rules for one run."""

    documents: DocumentRules
    recheck_identity: bool
    access: AccessRules
