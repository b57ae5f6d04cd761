"""Corpus administration for the web UI: status, uploads, re-indexing, source files.

``CorpusAdmin`` owns the corpus folder on behalf of the web channel. It saves
uploaded files into that folder (supported types only, plain file names, never
outside it), runs the incremental ``Ingestor.sync`` (one run at a time), and
resolves a citation's ``source`` back to its file so the UI can open it.
UI handlers call these methods and render what they return. Everything that
names documents takes the asker's ``Audience`` and shows only what it may
see: an administrator manages the corpus but reads no more than their groups.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from chatbot.access import Audience
from chatbot.errors import IngestionBusyError
from ingest.loaders import SUPPORTED_SUFFIXES, is_supported

if TYPE_CHECKING:
    from chatbot.catalog import Catalog, DocumentRecord, IndexStatus
    from ingest.sync import Ingestor, Progress
    from ingest.sync_report import IngestReport

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

    def documents(self, audience: Audience) -> list[DocumentRecord]:
        """Every indexed document ``audience`` may see, with its recorded
        identity and groups, by source."""
        return [r for r in self.catalog.catalog().values() if audience.allows(r.groups)]

    def hidden_count(self, audience: Audience) -> int:
        """How many indexed documents ``audience`` may not see (a number only)."""
        return sum(1 for r in self.catalog.catalog().values() if not audience.allows(r.groups))

    def titles(self, audience: Audience) -> list[str]:
        """Title of every document ``audience`` may see, sorted, for "what can I
        ask" hints."""
        return sorted({r.title or r.source for r in self.documents(audience)})

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

    def source_file(self, source: str, audience: Audience) -> Path | None:
        """The file behind an indexed ``source``, or None. Only files inside the
        corpus folder that the index knows, and that ``audience`` may see, are
        ever returned; the caller cannot tell "not allowed" from "no such file"."""
        record = self.catalog.catalog().get(source)
        if record is None or not audience.allows(record.groups):
            return None
        root = self.corpus_dir.resolve()
        path = (root / source).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path
