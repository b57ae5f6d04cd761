"""Shared test builders: the fake pipeline over a few fixed passages, an
assistant on it, parts that fail the way real ones do, and a corpus file
loaded (or refused) as ingestion would. Test modules import these from here,
never from each other."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chatbot.access import Principal, Roles
from chatbot.answer.judge import SupportJudge
from chatbot.answer.pipeline import Pipeline
from chatbot.answer.reading import ReaderPolicy, Reading
from chatbot.assistant import Assistant
from chatbot.audit import AuditStore
from chatbot.catalog import DocumentRecord, IndexStatus
from chatbot.channels.web_auth import WebAccess
from chatbot.directory import ChatDirectory
from chatbot.domain import Chunk, Passage
from chatbot.errors import EmbedderError, IngestionError, RerankerError
from chatbot.protocols import Embedder, Reranker
from chatbot.settings import AuthSettings, GateSettings, RetrievalSettings, Settings
from chatbot.signin import SignIn
from ingest.blocks import LoadedDocument
from ingest.loaders import load_document
from tests.fakes import HashEmbedder, InMemoryKeywordIndex, InMemoryVectorIndex
from tests.fakes_llm import ScriptedGenerator

if TYPE_CHECKING:
    from chatbot.compose import Stores
    from ingest.sync_report import IngestReport

IN_CORPUS = "When was the GenA.I. Sandbox launched?"
IN_CORPUS_REPLY = "The Sandbox was launched in August 2024 by the HKMA [1]."
OFF_TOPIC = "Who won the 2022 FIFA World Cup?"
STATUS = IndexStatus(3, 12, 40, datetime(2025, 1, 1, tzinfo=UTC), "hash-256")

TEXTS = [
    ("overview.pdf", 1, "The HKMA and Cyberport launched the GenA.I. Sandbox in August 2024."),
    (
        "overview.pdf",
        2,
        "The first cohort brought together 15 use cases from 10 banks, supported by 4 "
        "technology partners, tested at Cyberport's AI Supercomputing Centre.",
    ),
    (
        "guidance.pdf",
        4,
        "Every GenAI incident must be reported to the AI Governance Desk within 24 hours.",
    ),
    ("zh.md", None, "香港金融管理局與數碼港於2024年8月推出生成式人工智能沙盒。"),
]


def make_chunk(i: int, source: str, page: int | None, text: str) -> Chunk:
    return Chunk(
        id=f"c{i}",
        text=text,
        source=source,
        title=source.split(".")[0].title(),
        page=page,
        section="",
        language="zh" if source.startswith("zh") else "en",
        content_hash=f"h{i}",
        file_hash="f",
        position=i,
    )


def pipeline_over(
    rows: Sequence[tuple[str, int | None, str]],
    generator: ScriptedGenerator,
    *,
    embedder: Embedder | None = None,
    gate: GateSettings | None = None,
    **parts: Any,
) -> Pipeline:
    """A pipeline on fakes holding ``rows`` (source, page, text), with a gate
    loose enough for the hash embedder's small similarities. ``embedder``
    replaces the one used at question time (the index is built with the hash
    embedder); ``parts`` go to ``Pipeline`` as they are (judge, reranker,
    calibration, reader, reader_policy). The pipeline is immutable: a test
    that needs other parts builds another one."""
    chunks = [make_chunk(i, *row) for i, row in enumerate(rows)]
    return pipeline_over_chunks(chunks, generator, embedder=embedder, gate=gate, **parts)


def pipeline_over_chunks(
    chunks: Sequence[Chunk],
    generator: ScriptedGenerator,
    *,
    embedder: Embedder | None = None,
    gate: GateSettings | None = None,
    with_periods: bool = False,
    **parts: Any,
) -> Pipeline:
    """``pipeline_over`` for ready-made chunks (with document contexts, say);
    the keyword fake's catalog records each source's context, and with
    ``with_periods`` it is the pipeline's ``periods`` part too."""
    indexing, vectors, keywords = HashEmbedder(), InMemoryVectorIndex(), InMemoryKeywordIndex()
    vectors.upsert(chunks, indexing.embed([c.indexed_text() for c in chunks]))
    keywords.upsert(chunks)
    for chunk in chunks:
        keywords.record_document(
            DocumentRecord(
                chunk.source,
                "f",
                chunk.title,
                0,
                (chunk.id,),
                chunk.language,
                datetime(2025, 1, 1, tzinfo=UTC),
                chunk.context,
                "folder",
            )
        )
    if with_periods:
        parts["periods"] = keywords
    return Pipeline(
        embedder or indexing,
        vectors,
        keywords,
        generator,
        RetrievalSettings(),
        gate or GateSettings(min_dense_score=0.05),
        **parts,
    )


EMBEDDER_FAILURE = EmbedderError("embedding failed on cuda: CUDA out of memory")


class FailingEmbedder(HashEmbedder):
    """A ``HashEmbedder`` whose every ``embed`` call fails the way a broken
    sentence-transformers model does at question time."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise EMBEDDER_FAILURE


def pipeline_with(
    generator: ScriptedGenerator,
    *,
    short_answer: str | None = None,
    reranker: Reranker | None = None,
    embedder: Embedder | None = None,
) -> Pipeline:
    """The fake pipeline over ``TEXTS``. ``short_answer``: a support judge
    (on the same scripted generator) answers with this span; ``reranker`` and
    ``embedder`` replace the pipeline's own at question time."""
    judge = None
    if short_answer is not None:
        generator.json_replies.append({"answer": short_answer, "supported": True})
        judge = SupportJudge(generator)
    return pipeline_over(TEXTS, generator, embedder=embedder, judge=judge, reranker=reranker)


def assistant_with(
    audit: AuditStore | None,
    *replies: object,
    short_answer: str | None = None,
    reranker: Reranker | None = None,
    embedder: Embedder | None = None,
) -> Assistant:
    generator = ScriptedGenerator(*replies)  # type: ignore[arg-type]
    pipeline = pipeline_with(
        generator, short_answer=short_answer, reranker=reranker, embedder=embedder
    )
    return Assistant(pipeline, audit)


class ScriptedReranker:
    """Implements ``Reranker``: scores from a table by chunk id (0.0 if absent);
    records every call as (question, ids)."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.calls: list[tuple[str, list[str]]] = []

    @property
    def name(self) -> str:
        return "scripted"

    def rerank(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        self.calls.append((question, [p.id for p in passages]))
        scored = [replace(p, rerank_score=self.scores.get(p.id, 0.0)) for p in passages]
        return sorted(scored, key=lambda p: -(p.rerank_score or 0.0))


RERANKER_FAILURE = RerankerError(
    "reranker /models/ce failed on device 'cuda' while scoring 4 passages: CUDA out of memory"
)


class FailingReranker:
    """Implements ``Reranker``; every call fails like a broken cross-encoder."""

    @property
    def name(self) -> str:
        return "failing"

    def rerank(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        raise RERANKER_FAILURE


class ScriptedReader:
    """Implements ``Reader``: every question gets ``probability``, with the
    span found (if given) in the first shown passage that contains it. Records
    the questions it read."""

    def __init__(self, probability: float, span: str | None = None) -> None:
        self.probability = probability
        self.span = span
        self.questions: list[str] = []

    def read(self, question: str, passages: Sequence[Passage]) -> Reading:
        self.questions.append(question)
        holder = next((p for p in passages if self.span and self.span in p.chunk.text), None)
        return Reading(
            p_answerable=self.probability if passages else 0.0,
            passage=holder or (passages[0] if passages else None),
            span=self.span if holder else None,
            per_passage=tuple(self.probability for _ in passages),
        )


def pipeline_reading(
    generator: ScriptedGenerator,
    reader: ScriptedReader,
    *,
    judge_reply: dict[str, object] | None = None,
    reject_below: float = 0.3,
    confident_above: float = 0.8,
) -> Pipeline:
    """The fake pipeline over ``TEXTS`` with ``reader`` after the gate and, when
    ``judge_reply`` is given, a support judge answering with it."""
    judge = None
    if judge_reply is not None:
        generator.json_replies.append(judge_reply)
        judge = SupportJudge(generator)
    policy = ReaderPolicy(reject_below, confident_above)
    return pipeline_over(TEXTS, generator, judge=judge, reader=reader, reader_policy=policy)


# -- deposit-protection passages for the reranking tests ----------------------------

DPS_TEXTS = {
    "limit": "The deposit protection limit is HKD 800,000 per depositor per bank.",
    "payout": "Compensation is paid within seven days after the scheme is triggered.",
    "eligible": "Savings, current and time deposits of up to five years are protected.",
    "excluded": "Structured deposits and bearer instruments are not protected.",
    "claims": "Depositors do not need to file a claim; payment is automatic.",
}


def dps_chunk(chunk_id: str, text: str) -> Chunk:
    return Chunk(chunk_id, text, "dps.pdf", "DPS guide", 1, "", "en", f"c-{chunk_id}", "f", 0)


def dps_passages() -> list[Passage]:
    return [
        Passage(dps_chunk(cid, text), fused_score=1.0 / (60 + rank))
        for rank, (cid, text) in enumerate(DPS_TEXTS.items(), start=1)
    ]


def classifier_config_folder(folder: Path) -> Path:
    """A folder whose config.json names a classifier but holds no weights."""
    (folder / "config.json").write_text(
        json.dumps({"architectures": ["BertForSequenceClassification"]}), "utf-8"
    )
    return folder


def ingested_stores(
    corpus: Path, index: Path, embedder: Embedder
) -> tuple[Settings, Stores, IngestReport]:
    """Real stores (Chroma and SQLite under ``index``) holding ``corpus``
    ingested with ``embedder``, and the settings they were built from (no
    ``.env`` read): the set-up every real-parts answering test starts from."""
    from chatbot.compose import Stores, build_keyword_index, build_vector_index, ingestor_for

    settings = Settings(_env_file=None, index={"path": index})  # type: ignore[call-arg]
    stores = Stores(embedder, build_vector_index(settings), build_keyword_index(settings))
    return settings, stores, ingestor_for(stores, settings).sync(corpus)


def asker(id: str = "tester", *groups: str) -> Principal:
    """A recognised principal (holds ``everyone``) with ``groups`` besides."""
    return Principal.of(id, groups, "local")


def local_access(**auth: Any) -> WebAccess:
    """Sign-in for tests of the web side: local mode unless ``auth`` configures
    proxies or tokens; the local user holds everyone, the admin and the
    auditor groups."""
    settings = AuthSettings(**auth)
    signin = SignIn(
        settings, local_groups=["everyone", settings.admin_group, settings.auditor_group]
    )
    return WebAccess(signin, Roles(settings.admin_group, settings.auditor_group))


# TestClient's default peer ("testclient") is no address; local mode serves
# the loopback interface only.
LOOPBACK = ("127.0.0.1", 50000)


CHAT_DIRECTORY = """
[slack.users]
U42 = []
[slack.channels]
C1 = ["everyone"]

[teams.users]
aad-29 = []
[teams.conversations]
conv-7 = ["everyone"]
"""


def chat_directory(folder: Path, text: str = CHAT_DIRECTORY) -> ChatDirectory:
    """The test workspace's directory: Slack U42 and Teams aad-29 are known
    staff (``everyone``); channel C1 and conversation conv-7 are open to them."""
    path = folder / "directory.toml"
    path.write_text(text, encoding="utf-8")
    return ChatDirectory.load(path)


# -- loading a corpus file -----------------------------------------------------

MAX_FILE_MB = 50.0


def load_file(path: Path, max_file_mb: float = MAX_FILE_MB) -> LoadedDocument:
    """``path`` read as ingestion reads it, shown by its file name."""
    return load_document(path, path.name, max_file_mb=max_file_mb)


def load_failure(path: Path, max_file_mb: float = MAX_FILE_MB) -> IngestionError:
    """The ``IngestionError`` that loading ``path`` must raise, checked to name
    the file and to say what to do."""
    with pytest.raises(IngestionError) as info:
        load_file(path, max_file_mb)
    assert info.value.source == path.name
    assert info.value.hint, "every failure tells the operator what to do"
    return info.value
