"""Composition root: turn ``Settings`` into wired objects.

Each ``build_*`` function switches on settings and calls constructors; nothing
else in the project decides which adapter to use. Adapters are imported inside
the functions, so importing this module is cheap and a missing dependency
becomes a message that names the install command.

Where the indexes live: with the persistent backend, Chroma's files are under
``index.path/chroma`` (the http backend: a Chroma server). The keyword index,
the ingestion catalog and the access labels are the local SQLite file
``index.path/keywords.sqlite3``, or, with ``index.keyword_backend =
"postgres"``, tables in a PostgreSQL schema that several replicas share.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from chatbot.answer.answerability import Calibration, find_calibration
from chatbot.errors import ConfigurationError, GeneratorUnavailableError
from chatbot.settings import IngestSettings, RetrievalSettings, Settings

if TYPE_CHECKING:
    from chatbot.adapters.chroma_index import ChromaVectorIndex
    from chatbot.adapters.openai_generator import OpenAIChatGenerator
    from chatbot.adapters.pg_keyword import PostgresKeywordIndex
    from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex
    from chatbot.adapters.st_embedder import SentenceTransformerEmbedder
    from chatbot.admission import Admission
    from chatbot.answer.pipeline import Pipeline
    from chatbot.answer.reading import ReaderPolicy
    from chatbot.audit import AuditStore
    from chatbot.catalog import CatalogKeywordIndex, ClearableVectorIndex
    from chatbot.channels.web_auth import WebAccess
    from chatbot.directory import ChatDirectory
    from chatbot.protocols import Embedder, Generator, Reader, Reranker
    from ingest.sync import Ingestor

log = logging.getLogger(__name__)

CHROMA_DIRNAME = "chroma"
KEYWORD_FILENAME = "keywords.sqlite3"


def _missing(package: str, exc: ImportError) -> ConfigurationError:
    return ConfigurationError(
        f"{package} is not installed ({exc}): run `pip install -e .` in the project folder"
    )


def keyword_index_path(settings: Settings) -> Path:
    return settings.index.path / KEYWORD_FILENAME


def build_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """The sentence-transformers embedder; the model loads on first use."""
    from chatbot.adapters.st_embedder import SentenceTransformerEmbedder

    cfg = settings.embedder
    return SentenceTransformerEmbedder(cfg.model, batch_size=cfg.batch_size, device=cfg.device)


def build_vector_index(settings: Settings, *, create: bool = True) -> ChromaVectorIndex:
    """Chroma on disk or over HTTP. ``create=False``: a missing collection is an
    ``IndexMissingError`` (answering side) rather than a new empty one."""
    try:
        from chatbot.adapters.chroma_index import ChromaVectorIndex
    except ImportError as exc:
        raise _missing("chromadb", exc) from exc

    cfg = settings.index
    token = cfg.chroma_token.get_secret_value() if cfg.chroma_token is not None else None
    return ChromaVectorIndex(
        collection=cfg.collection,
        backend=cfg.backend,
        path=cfg.path / CHROMA_DIRNAME,
        host=cfg.chroma_host,
        port=cfg.chroma_port,
        ssl=cfg.chroma_ssl,
        token=token,
        create=create,
    )


def build_keyword_index(
    settings: Settings, *, create: bool = True
) -> SqliteKeywordIndex | PostgresKeywordIndex:
    """The keyword index, which also holds the ingestion catalog and the
    access labels: SQLite FTS5 on disk, or PostgreSQL for shared replicas."""
    cfg = settings.index
    if cfg.keyword_backend == "postgres":
        if cfg.postgres_url is None or not cfg.postgres_url.get_secret_value().strip():
            raise ConfigurationError(
                "CHATBOT_INDEX__KEYWORD_BACKEND=postgres needs CHATBOT_INDEX__POSTGRES_URL "
                "(postgresql://user:password@host:5432/database)"
            )
        try:
            from chatbot.adapters.pg_keyword import PostgresKeywordIndex
        except ImportError as exc:
            raise _missing("psycopg", exc) from exc
        return PostgresKeywordIndex(
            cfg.postgres_url.get_secret_value(),
            schema=cfg.postgres_schema,
            create=create,
            pool_size=cfg.postgres_pool_size,
            connect_timeout_s=cfg.postgres_timeout_s,
        )
    from chatbot.adapters.sqlite_keyword import SqliteKeywordIndex

    return SqliteKeywordIndex(keyword_index_path(settings), create=create)


def limit_answering_threads(settings: Settings) -> None:
    """Apply ``embedder.answer_threads`` to this process (see the setting)."""
    from chatbot.adapters.st_embedder import limit_torch_threads

    limit_torch_threads(settings.embedder.answer_threads)


@dataclass
class Stores:
    """The embedder and both indexes, built once and shared by ingestion and
    answering in one process (the embedding model then loads only once).
    Typed with the protocols, so the test fakes fit as well as the adapters."""

    embedder: Embedder
    vectors: ClearableVectorIndex
    keywords: CatalogKeywordIndex


def build_stores(settings: Settings) -> Stores:
    return Stores(
        embedder=build_embedder(settings),
        vectors=build_vector_index(settings),
        keywords=build_keyword_index(settings),
    )


def build_ingestor(settings: Settings) -> Ingestor:
    return ingestor_for(build_stores(settings), settings)


def ingestor_for(stores: Stores, settings: Settings) -> Ingestor:
    from ingest.sync import Ingestor

    return Ingestor(
        embedder=stores.embedder,
        vector_index=stores.vectors,
        keyword_index=stores.keywords,
        settings=ingest_settings(settings),
    )


def ingest_settings(settings: Settings) -> IngestSettings:
    """The ingestion settings, with the OCR cache beside the index unless set."""
    if settings.ingest.ocr_cache_dir is not None:
        return settings.ingest
    cache = settings.index.path / "ocr-cache"
    return settings.ingest.model_copy(update={"ocr_cache_dir": cache})


def llm_base_url(settings: Settings) -> str:
    """Where the chat model is: the embedded server's address, or the remote one."""
    if settings.llm.mode == "embedded":
        return f"http://{settings.embedded.host}:{settings.embedded.port}/v1"
    return settings.llm.base_url


def build_generator(settings: Settings, base_url: str | None = None) -> OpenAIChatGenerator:
    """The OpenAI-compatible client; the same code for vLLM and the embedded server."""
    from chatbot.adapters.openai_generator import OpenAIChatGenerator

    cfg = settings.llm
    server: Literal["vllm", "llama.cpp"] = cfg.server
    if cfg.mode == "embedded":
        from chatbot.llm.server import EmbeddedServer

        server = EmbeddedServer(settings.embedded).engine
    return OpenAIChatGenerator(
        base_url or llm_base_url(settings),
        cfg.api_key.get_secret_value(),
        cfg.model,
        timeout_s=cfg.timeout_s,
        connect_timeout_s=cfg.connect_timeout_s,
        max_tokens=cfg.max_tokens,
        temperature=cfg.temperature,
        seed=cfg.seed,
        server=server,
    )


def build_admission(settings: Settings) -> Admission | None:
    """The LLM's places and waiting line (``chatbot.admission``); None when
    ``llm.max_concurrent`` is -1 (no limit)."""
    from chatbot.admission import Admission

    cfg = settings.llm
    if cfg.max_concurrent < 0:
        return None
    slots = cfg.max_concurrent
    if slots == 0:
        if cfg.mode == "embedded":
            from chatbot.llm.server import EmbeddedServer

            slots = EmbeddedServer(settings.embedded).places
        else:
            slots = 8
    if cfg.admission == "postgres":
        return _shared_admission(settings, slots)
    return Admission(slots, cfg.queue_size, cfg.queue_wait_s)


def _shared_admission(settings: Settings, slots: int) -> Admission:
    """Places every replica counts in PostgreSQL (``chatbot.adapters.pg_admission``)."""
    cfg = settings.llm
    candidates = [
        (cfg.admission_postgres_url, "CHATBOT_LLM__ADMISSION_POSTGRES_URL"),
        (settings.index.postgres_url, "CHATBOT_INDEX__POSTGRES_URL"),
        (settings.audit.postgres_url, "CHATBOT_AUDIT__POSTGRES_URL"),
    ]
    given = [(u.get_secret_value(), name) for u, name in candidates if u is not None]
    found = next(((u, name) for u, name in given if u.strip()), None)
    if found is None:
        raise ConfigurationError(
            "CHATBOT_LLM__ADMISSION=postgres needs a PostgreSQL URL: set "
            "CHATBOT_LLM__ADMISSION_POSTGRES_URL (or CHATBOT_INDEX__POSTGRES_URL, which it "
            "then shares) to postgresql://user:password@host:5432/database"
        )
    try:
        from chatbot.adapters.pg_admission import SharedAdmission
    except ImportError as exc:
        raise _missing("psycopg", exc) from exc
    url, setting = found
    return SharedAdmission(
        url,
        slots=slots,
        queue=cfg.queue_size,
        wait_s=cfg.queue_wait_s,
        group=cfg.admission_group,
        connect_timeout_s=settings.index.postgres_timeout_s,
        url_setting=setting,
    )


def build_reranker(settings: Settings) -> Reranker | None:
    """The cross-encoder reranker from a local folder, or None when none is set.

    The folder is checked now (a wrong path fails at start-up); the model loads
    on the first question."""
    model = (settings.retrieval.reranker_model or "").strip()
    if not model:
        return None
    from chatbot.adapters.cross_encoder import CrossEncoderReranker

    return CrossEncoderReranker(model)


def build_reader(settings: Settings) -> tuple[Reader, ReaderPolicy] | None:
    """The trained answerability reader and its thresholds, or None when off.

    The weights' files and checksum are checked now (a missing or corrupt file
    fails at start-up with the fix in the message); the network loads on the
    first question. Thresholds come from ``reader.json`` unless the settings
    override them."""
    cfg = settings.reader
    if not cfg.enabled:
        return None
    from chatbot.adapters.reader import (
        PACKAGED_READER,
        TransformerReader,
        read_config,
        shipped_thresholds,
    )
    from chatbot.answer.reading import ReaderPolicy

    folder = cfg.folder or PACKAGED_READER
    info = read_config(folder)
    reject, confident = shipped_thresholds(info, folder, cfg.reject_below, cfg.confident_above)
    policy = ReaderPolicy(reject, max(reject, confident), frozenset(cfg.languages))
    log.info(
        "answerability reader: %s (reject below %.2f, judge skipped from %.2f)",
        folder,
        policy.reject_below,
        policy.confident_above,
    )
    return TransformerReader(folder, cfg.precision, info=info), policy


def open_audit(settings: Settings) -> AuditStore:
    """The audit store (created if missing), whether or not recording is
    enabled: the audit CLI reads it either way. SQLite at ``audit.path``, or
    PostgreSQL (``audit.backend = "postgres"``) at ``audit.postgres_url``,
    else at the keyword index's ``index.postgres_url``."""
    cfg = settings.audit
    if cfg.backend == "postgres":
        url, setting = cfg.postgres_url, "CHATBOT_AUDIT__POSTGRES_URL"
        if url is None or not url.get_secret_value().strip():
            url, setting = settings.index.postgres_url, "CHATBOT_INDEX__POSTGRES_URL"
        if url is None or not url.get_secret_value().strip():
            raise ConfigurationError(
                "CHATBOT_AUDIT__BACKEND=postgres needs CHATBOT_AUDIT__POSTGRES_URL (or "
                "CHATBOT_INDEX__POSTGRES_URL, which it then shares): "
                "postgresql://user:password@host:5432/database"
            )
        try:
            from chatbot.adapters.pg_audit import PostgresAuditStore
        except ImportError as exc:
            raise _missing("psycopg", exc) from exc
        return PostgresAuditStore(
            url.get_secret_value(),
            schema=cfg.postgres_schema,
            retention_days=cfg.retention_days,
            pool_size=cfg.postgres_pool_size,
            connect_timeout_s=settings.index.postgres_timeout_s,
            url_setting=setting,
        )
    from chatbot.adapters.sqlite_audit import SqliteAuditStore

    return SqliteAuditStore(cfg.path, cfg.retention_days)


def build_audit(settings: Settings) -> AuditStore | None:
    """The audit store the channels record into, or None when auditing is off."""
    return open_audit(settings) if settings.audit.enabled else None


def retrieval_for(settings: Settings) -> RetrievalSettings:
    """The retrieval settings, with the passage budget the embedded engine is
    best served with (``ServingChoice.passage_budget``) unless one is set."""
    retrieval = settings.retrieval
    if settings.llm.mode != "embedded" or "passage_token_budget" in retrieval.model_fields_set:
        return retrieval
    from chatbot.llm.choice import ServingChoice

    budget = ServingChoice(settings.embedded).passage_budget
    return retrieval.model_copy(update={"passage_token_budget": budget}) if budget else retrieval


def build_pipeline(
    settings: Settings,
    base_url: str | None = None,
    stores: Stores | None = None,
    generator: Generator | None = None,
    index_path: Path | None = None,
) -> Pipeline:
    """The answering pipeline, wired from settings (parts may be passed in).

    ``index_path`` is where the index's own calibration is looked for
    [default: ``settings.index.path``]."""
    from chatbot.answer.pipeline import Pipeline

    stores = stores or build_stores(settings)
    generator = generator or build_generator(settings, base_url)
    judge = None
    if settings.gate.judge:
        from chatbot.answer.judge import SupportJudge
        from chatbot.protocols import JsonGenerator

        if isinstance(generator, JsonGenerator):
            judge = SupportJudge(generator, mode=settings.gate.judge_mode)
        else:
            log.warning("the generator cannot make JSON calls; the support judge is off")
    reader = build_reader(settings)
    return Pipeline(
        embedder=stores.embedder,
        vectors=stores.vectors,
        keywords=stores.keywords,
        generator=generator,
        retrieval=retrieval_for(settings),
        gate=settings.gate,
        max_question_chars=settings.max_question_chars,
        calibration=load_calibration(settings, index_path),
        reranker=build_reranker(settings),
        judge=judge,
        reader=reader[0] if reader else None,
        reader_policy=reader[1] if reader else None,
        periods=stores.keywords,
        admission=build_admission(settings),
    )


class _NoLLM:
    """The generator of a pipeline that only examines: any LLM call is a bug."""

    model_name = "none"

    def stream(self, messages: object) -> Iterator[str]:
        raise GeneratorUnavailableError("this pipeline only retrieves and gates; it has no LLM")


def build_examiner(
    settings: Settings,
    stores: Stores,
    index_path: Path | None = None,
    *,
    calibrated: bool = True,
    reader: bool = False,
) -> Pipeline:
    """A pipeline for ``examine`` only (retrieval and the gate, no LLM), as
    calibration, evaluation of the reader and the gate benchmarks need it.

    ``calibrated=False`` leaves out the answerability calibration (fitting a
    new one must not see the old); ``reader=True`` keeps the trained reader."""
    gate = settings.gate.model_copy(update={"judge": False, "answerability": calibrated})
    reader_settings = settings.reader.model_copy(update={"enabled": reader})
    examining = settings.model_copy(update={"gate": gate, "reader": reader_settings})
    return build_pipeline(examining, stores=stores, generator=_NoLLM(), index_path=index_path)


def load_calibration(settings: Settings, index_path: Path | None = None) -> Calibration | None:
    """The answerability calibration that applies (see chatbot.answer.answerability),
    or None when it is switched off or none exists."""
    if not settings.gate.answerability:
        return None
    path = find_calibration(index_path or settings.index.path, settings.gate.calibration_file)
    if path is None:
        log.warning("no answerability calibration found; only the fixed gate thresholds apply")
        return None
    calibration = Calibration.load(path)
    log.info("answerability calibration: %s", path)
    return calibration


def build_web_access(settings: Settings) -> WebAccess:
    """Sign-in and roles for the web UI and the API. In local mode the one
    user holds ``AuthSettings.local_groups``, else every group the access
    file declares plus both roles (the operator of a single-user install)."""
    from chatbot.access import Roles
    from chatbot.channels.web_auth import WebAccess
    from chatbot.signin import SignIn
    from ingest.access_rules import load_access_rules
    from ingest.identity import rules_path

    auth = settings.auth
    local = auth.local_groups
    if local is None:
        declared = load_access_rules(
            rules_path(settings.ingest.corpus_dir, settings.ingest.access_file)
        ).declared
        local = [*declared, auth.admin_group, auth.auditor_group]
    return WebAccess(SignIn(auth, local_groups=local), Roles(auth.admin_group, auth.auditor_group))


def build_directory(settings: Settings) -> ChatDirectory:
    """The Slack/Teams directory (no file: no chat user has access)."""
    from chatbot.directory import ChatDirectory

    return ChatDirectory.load(settings.auth.directory_file)
