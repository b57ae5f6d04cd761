"""Corpus administration for the web UI: status, uploads, re-indexing, source files.

``CorpusAdmin`` owns the corpus folder on behalf of the web channel. It saves
uploaded files into that folder (supported types only, plain file names, never
outside it), runs the incremental ``Ingestor.sync`` (one run at a time), and
resolves a citation's ``source`` back to its file so the UI can open it.
UI handlers call these methods and render what they return.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from chatbot.errors import IngestionBusyError
from ingest.loaders import SUPPORTED_SUFFIXES, is_supported

if TYPE_CHECKING:
    from chatbot.catalog import Catalog, DocumentRecord, IndexStatus
    from ingest.sync import Ingestor, IngestReport, Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rejected:
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class SavedUploads:
    saved: tuple[str, ...]  # corpus-relative names written (new or replaced)
    rejected: tuple[Rejected, ...]


def supported_extensions() -> list[str]:
    return sorted(SUPPORTED_SUFFIXES)


class CorpusAdmin:
    def __init__(self, ingestor: Ingestor, catalog: Catalog, corpus_dir: Path) -> None:
        self.ingestor = ingestor
        self.catalog = catalog
        self.corpus_dir = Path(corpus_dir)
        self._sync_lock = threading.Lock()

    def status(self) -> IndexStatus:
        return self.catalog.status()

    def documents(self) -> list[DocumentRecord]:
        """Every indexed document with its recorded identity, by source."""
        return list(self.catalog.catalog().values())

    def titles(self) -> list[str]:
        """Title of every indexed document, sorted, for "what can I ask" hints."""
        return sorted({record.title or source for source, record in self.catalog.catalog().items()})

    def save_uploads(self, uploads: Sequence[tuple[str, Path]]) -> SavedUploads:
        """Copy ``(original name, temporary path)`` pairs into the corpus folder.

        Only the base name is kept (no folders, nothing hidden), and only
        supported types are accepted; a file with the same name is replaced.
        """
        saved: list[str] = []
        rejected: list[Rejected] = []
        self.corpus_dir.mkdir(parents=True, exist_ok=True)
        for original, temp in uploads:
            name = PurePosixPath(original.replace("\\", "/")).name
            if not name or name.startswith("."):
                rejected.append(Rejected(original, "not a plain file name"))
                continue
            if not is_supported(Path(name)):
                allowed = ", ".join(supported_extensions())
                rejected.append(Rejected(name, f"unsupported type (allowed: {allowed})"))
                continue
            shutil.copyfile(temp, self.corpus_dir / name)
            saved.append(name)
            log.info("upload saved to corpus: %s", name)
        return SavedUploads(tuple(saved), tuple(rejected))

    def sync(self, progress: Progress | None = None, rebuild: bool = False) -> IngestReport:
        """Bring the index in line with the corpus folder; raises ``IngestionBusyError``
        when another sync is running, ``BoundaryError`` on configuration faults."""
        if not self._sync_lock.acquire(blocking=False):
            raise IngestionBusyError("another ingestion is running")
        try:
            report = self.ingestor.sync(self.corpus_dir, progress=progress, rebuild=rebuild)
        finally:
            self._sync_lock.release()
        log.info("web ingestion: %s", report.summary())
        return report

    def source_file(self, source: str) -> Path | None:
        """The file behind an indexed ``source``, or None. Only files inside the
        corpus folder that the index knows are ever returned."""
        if source not in self.catalog.catalog():
            return None
        root = self.corpus_dir.resolve()
        path = (root / source).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path
