"""Per-dataset indexes for evaluation runs, cached on disk by content.

Public sets are evaluated as an open corpus: every ``Context`` of the set goes
into one index (Chroma for vectors, SQLite FTS5 for keywords, the same
adapters production uses), each as one chunk whose ``source`` is the
context id, or as several chunks when the context is longer than the chunk
size. The own set (and a bank's plain JSONL set) is asked against a corpus
folder instead, which the real ``Ingestor`` indexes exactly as
``chatbot-ingest`` would.

An index lives in ``<cache root>/<sha256>/``, the hash taken over what
determines its content: the embedder's name, the chunking parameters and
every context (or corpus file). A marker file is written last; a folder
without it is a build that died half-way and is rebuilt from scratch. A
second run over the same data therefore embeds nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from chatbot.compose import build_vector_index, ingestor_for, keyword_index_path
from chatbot.domain import EVERYONE, Chunk
from chatbot.errors import IngestionError
from chatbot.protocols import Embedder
from chatbot.settings import Settings
from chatbot.text import detect_language
from eval.items import Context, EvalSet
from ingest.chunking import Chunker, chunk_id
from ingest.identity import IDENTITY_VERSION
from ingest.loaders import Block, LoadedDocument, file_sha256
from ingest.sync import META_CHUNKING, META_EMBEDDER

if TYPE_CHECKING:
    from chatbot.adapters.chroma_index import ChromaVectorIndex
    from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex

log = logging.getLogger(__name__)


DEFAULT_CACHE_ROOT = Path("runs") / ".index-cache"
MARKER = "COMPLETE.json"
EMBED_BATCH = 256  # texts per embed() call: big enough to be fast, small for a progress bar


@dataclass
class EvalIndex:
    """The two indexes of one evaluation corpus, and where they live."""

    vectors: ChromaVectorIndex
    keywords: SqliteKeywordIndex
    folder: Path
    chunks: int
    cached: bool  # True when an earlier run built it and nothing was embedded now


def index_settings(settings: Settings, folder: Path) -> Settings:
    """A copy of ``settings`` whose local indexes live in ``folder``."""
    index = settings.index.model_copy(
        update={"path": folder, "backend": "persistent", "keyword_backend": "sqlite"}
    )
    return settings.model_copy(update={"index": index})


def local_keyword_index(settings: Settings, *, create: bool = True) -> SqliteKeywordIndex:
    """Evaluation indexes are always a local SQLite file in their folder,
    whatever backend the app is configured with."""
    from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex

    return SqliteKeywordIndex(keyword_index_path(settings), create=create)


def chunker_for(embedder: Embedder, settings: Settings) -> Chunker:
    cfg = settings.ingest
    return Chunker(embedder.token_length, cfg.chunk_tokens, cfg.chunk_overlap)


def context_chunks(
    contexts: Iterable[Context],
    chunker: Chunker,
    token_length: Callable[[str], int],
    chunk_tokens: int,
) -> list[Chunk]:
    """One chunk per context, or the chunker's pieces for a context longer
    than ``chunk_tokens`` embedder tokens. ``source`` is the context id, so
    retrieval metrics compare passages with the items' gold context ids."""
    chunks: list[Chunk] = []
    for context in contexts:
        text = context.text.strip()
        text_hash = hashlib.sha256(text.encode()).hexdigest()
        if token_length(text) > chunk_tokens:
            doc = LoadedDocument(context.id, context.title, text_hash, (Block(text=text),))
            chunks.extend(chunker.chunk(doc))
            continue
        chunks.append(
            Chunk(
                id=chunk_id(context.id, 0, text_hash),
                text=text,
                source=context.id,
                title=context.title,
                page=None,
                section="",
                language=detect_language(text),
                content_hash=text_hash,
                file_hash=text_hash,
                position=0,
            )
        )
    return chunks


def contexts_key(embedder_name: str, chunking: str, contexts: Sequence[Context]) -> str:
    """sha256 over the embedder, the chunking parameters and every context."""
    digest = hashlib.sha256()
    digest.update(json.dumps(["contexts", embedder_name, chunking]).encode())
    for context in contexts:
        # Titles go into chunk metadata, so they are part of the content too.
        digest.update(json.dumps([context.id, context.title, context.text]).encode())
    return digest.hexdigest()


def corpus_key(embedder_name: str, chunking: str, settings: Settings, corpus_dir: Path) -> str:
    """sha256 over the embedder, chunking, exclusions and every file's path and
    content. Files that ingestion skips are hashed too: a spurious rebuild is
    cheaper than a stale index."""
    digest = hashlib.sha256()
    # The identity rules' detection version too: a corpus index carries each
    # document's context line, which a new detection would change.
    identity = f"identity-v{IDENTITY_VERSION}"
    digest.update(
        json.dumps(["corpus", embedder_name, chunking, settings.ingest.exclude, identity]).encode()
    )
    for root, dirnames, filenames in os.walk(corpus_dir):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(root) / name
            rel = path.relative_to(corpus_dir).as_posix()
            digest.update(json.dumps([rel, file_sha256(path, rel)]).encode())
    return digest.hexdigest()


def _open_cached(settings: Settings, folder: Path) -> EvalIndex | None:
    """The complete index in ``folder``, or None when it must be (re)built."""
    marker = folder / MARKER
    if not marker.is_file():
        return None
    try:
        expected = int(json.loads(marker.read_text(encoding="utf-8"))["chunks"])
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None
    scoped = index_settings(settings, folder)
    vectors = build_vector_index(scoped, create=False)
    keywords = local_keyword_index(scoped, create=False)
    if vectors.count() != expected:
        log.warning("index cache %s is inconsistent; rebuilding it", folder)
        keywords.close()
        return None
    log.info("index cache hit: %s (%d chunks)", folder, expected)
    return EvalIndex(vectors, keywords, folder, expected, cached=True)


def _empty_indexes(
    settings: Settings, folder: Path
) -> tuple[ChromaVectorIndex, SqliteKeywordIndex]:
    """Both indexes in ``folder``, emptied of anything a build that died before
    its marker left behind. They are cleared through the adapters rather than
    by deleting files, which an open Chroma client in this process would
    still be holding."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).unlink(missing_ok=True)
    scoped = index_settings(settings, folder)
    vectors = build_vector_index(scoped)
    keywords = local_keyword_index(scoped)
    vectors.clear()
    keywords.clear()
    return vectors, keywords


def _write_marker(folder: Path, chunks: int, embedder: str, what: str) -> None:
    marker = {
        "chunks": chunks,
        "embedder": embedder,
        "what": what,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp = folder / (MARKER + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2), encoding="utf-8")
    tmp.replace(folder / MARKER)  # atomic: the marker is either whole or absent


def build_context_index(
    eval_set: EvalSet,
    settings: Settings,
    embedder: Embedder,
    cache_root: Path = DEFAULT_CACHE_ROOT,
    progress: bool = True,
) -> EvalIndex:
    """Index ``eval_set.contexts`` (open corpus), reusing a cached build."""
    chunker = chunker_for(embedder, settings)
    key = contexts_key(embedder.name, chunker.signature(), eval_set.contexts)
    folder = cache_root / key
    cached = _open_cached(settings, folder)
    if cached is not None:
        stale = cached.keywords.unlabelled_ids()
        if stale:
            # Built before access groups: an open corpus is open to everyone.
            cached.keywords.relabel(stale, [EVERYONE])
            cached.vectors.relabel(stale, [EVERYONE])
            log.info("index cache %s: %d chunks labelled 'everyone'", folder, len(stale))
        return cached

    chunks = context_chunks(
        eval_set.contexts, chunker, embedder.token_length, settings.ingest.chunk_tokens
    )
    vectors, keywords = _empty_indexes(settings, folder)
    keywords.set_meta(META_EMBEDDER, embedder.name)
    keywords.set_meta(META_CHUNKING, chunker.signature())
    with tqdm(
        total=len(chunks),
        unit="chunk",
        desc=f"indexing {eval_set.name}",
        disable=None if progress else True,
    ) as bar:
        for start in range(0, len(chunks), EMBED_BATCH):
            part = chunks[start : start + EMBED_BATCH]
            part_vectors = embedder.embed([c.text for c in part])
            keywords.upsert(part)
            vectors.upsert(part, part_vectors)
            bar.update(len(part))
    _write_marker(folder, len(chunks), embedder.name, f"{len(eval_set.contexts)} contexts")
    log.info("indexed %d contexts as %d chunks in %s", len(eval_set.contexts), len(chunks), folder)
    return EvalIndex(vectors, keywords, folder, len(chunks), cached=False)


def build_corpus_index(
    corpus_dir: Path,
    settings: Settings,
    embedder: Embedder,
    cache_root: Path = DEFAULT_CACHE_ROOT,
) -> EvalIndex:
    """Index a corpus folder with the real ``Ingestor``, reusing a cached build.

    Any file that fails to ingest stops the build: an evaluation against a
    corpus missing a document would blame the assistant for the gap.
    """
    from chatbot.compose import Stores

    chunker = chunker_for(embedder, settings)
    key = corpus_key(embedder.name, chunker.signature(), settings, corpus_dir)
    folder = cache_root / key
    cached = _open_cached(settings, folder)
    if cached is not None:
        if cached.keywords.unlabelled_ids():
            # Built before access groups: a sync labels every document from
            # the corpus's access rules, without re-embedding (and the
            # folder's calibration file stays with it).
            stores = Stores(embedder, cached.vectors, cached.keywords)
            ingestor_for(stores, index_settings(settings, folder)).sync(corpus_dir)
        return cached

    vectors, keywords = _empty_indexes(settings, folder)
    scoped = index_settings(settings, folder)
    stores = Stores(embedder, vectors, keywords)
    report = ingestor_for(stores, scoped).sync(corpus_dir)
    if report.failed:
        first = report.failed[0]
        raise IngestionError(
            first.source,
            f"{first.reason} ({len(report.failed)} file(s) failed)",
            first.hint or "fix or remove the file, then run the evaluation again",
        )
    chunks = keywords.status().chunks
    _write_marker(folder, chunks, embedder.name, f"corpus {corpus_dir}")
    log.info("indexed corpus %s as %d chunks in %s", corpus_dir, chunks, folder)
    return EvalIndex(vectors, keywords, folder, chunks, cached=False)
