"""Domain types that flow through ingestion and the answering pipeline.

Everything here is a frozen value: a chunk as indexed, a passage as retrieved,
a citation, and the two possible outcomes of a question, ``Answer`` and
``Refusal``. Channels ``match`` on ``Answer | Refusal``; nothing downstream
re-parses strings to learn what happened.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# The built-in access group every recognised principal holds (see
# ``chatbot.access``); a corpus with no access file puts every document in it.
EVERYONE = "everyone"


def groups_from_label(label: object) -> tuple[str, ...]:
    """The groups stored as a comma-separated label; nothing readable means
    no group, which ``chatbot.access`` treats as visible to nobody."""
    if not isinstance(label, str):
        return ()
    return tuple(sorted({part.strip() for part in label.split(",") if part.strip()}))


@dataclass(frozen=True, slots=True)
class DocumentContext:
    """What a chunk's document is, beyond its text: detected or declared at
    ingestion (``ingest.identity``) and carried by every chunk of it.

    ``label`` is the human name shown in prompts and citations ("HKMA Annual
    Report 2024 · Banking Stability"); ``period`` the reporting period the
    document covers: a year ("2024"), a quarter ("2024-Q3"), a half ("2024-H1")
    or a date ("2024-05-31"), "" when unknown; ``version`` and ``effective``
    (ISO date) only where the corpus owner declares them; ``edition`` names
    the document that versions share, so the newest in force can be told
    apart from the ones it supersedes (see ``chatbot.answer.periods``).

    Set per chunk, where the chunk's part of the file says more: ``unit``
    names what the chunk's page counts ("" pages, "slide", "sheet");
    ``attachment_of`` names the mail a chunk's attachment came with (its
    source is the mail's path); ``ocr`` is "ocr" for text read by OCR from
    a scanned page, "ocr-low" when its confidence (``ocr_confidence``, the
    mean word confidence 0-100) was under the minimum, "" otherwise."""

    label: str = ""
    period: str = ""
    version: str = ""
    effective: str = ""
    edition: str = ""
    unit: str = ""
    attachment_of: str = ""
    ocr: str = ""
    ocr_confidence: str = ""

    @property
    def dated(self) -> bool:
        """The context says when or which version: more than the title."""
        return bool(self.period or self.version)

    def header(self) -> str:
        """The short context line put before the chunk's text where it is
        embedded and keyword-indexed: the label of a dated or versioned
        document, "" otherwise. An undated document's label is its title,
        which every chunk of it would then share: measured on the sample
        corpus, that pulled a document's other pages above the one holding
        the answer, so undated chunks are indexed by their text alone."""
        return self.label if self.dated else ""

    @property
    def scanned(self) -> bool:
        """The text was read by OCR from an image of the page."""
        return self.ocr in ("ocr", "ocr-low")

    def metadata(self) -> dict[str, str]:
        return {key: str(getattr(self, key)) for key in self.__dataclass_fields__}

    @classmethod
    def from_metadata(cls, meta: dict[str, object]) -> DocumentContext:
        return cls(**{key: str(meta.get(key, "") or "") for key in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class Chunk:
    """One indexed piece of a source document."""

    id: str
    text: str
    source: str  # path relative to the corpus root, POSIX separators
    title: str
    page: int | None  # 1-based PDF page; None for formats without pages
    section: str  # nearest heading path, "" when the document has none
    language: str  # "en", "zh" or "und"
    content_hash: str  # sha256 of the chunk text
    file_hash: str  # sha256 of the whole source file
    position: int  # 0-based order of the chunk within its file
    context: DocumentContext = field(default_factory=DocumentContext)
    # Access groups of the chunk's document, sorted (``chatbot.access``).
    # Ingestion always sets them from the access rules; the default only
    # serves chunks built in code (tests, tools) for a corpus without rules.
    groups: tuple[str, ...] = (EVERYONE,)

    @property
    def name(self) -> str:
        """How the chunk's document is named to people: its context label
        (which says the period and version), else its title, else its path."""
        return self.context.label or self.title or self.source

    def indexed_text(self) -> str:
        """What is embedded and keyword-indexed: the document's context line,
        then the text. Shown text, spans and quotes stay ``text`` alone."""
        header = self.context.header()
        return f"{header}\n{self.text}" if header else self.text

    def metadata(self) -> dict[str, str | int]:
        """Flat metadata for stores that only take scalars (Chroma, SQLite)."""
        return {
            **self.context.metadata(),
            "source": self.source,
            "title": self.title,
            "page": self.page if self.page is not None else -1,
            "section": self.section,
            "language": self.language,
            "content_hash": self.content_hash,
            "file_hash": self.file_hash,
            "position": self.position,
            "acl": ",".join(self.groups),
        }

    @classmethod
    def from_metadata(cls, chunk_id: str, text: str, meta: dict[str, object]) -> Chunk:
        page = int(str(meta.get("page", -1)))
        return cls(
            id=chunk_id,
            text=text,
            source=str(meta.get("source", "")),
            title=str(meta.get("title", "")),
            page=None if page < 0 else page,
            section=str(meta.get("section", "")),
            language=str(meta.get("language", "und")),
            content_hash=str(meta.get("content_hash", "")),
            file_hash=str(meta.get("file_hash", "")),
            position=int(str(meta.get("position", 0))),
            context=DocumentContext.from_metadata(meta),
            groups=groups_from_label(meta.get("acl")),
        )


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk as retrieval returned it, with the evidence scores behind it.

    ``dense_score`` is cosine similarity in [-1, 1] (higher is closer), or None
    when only the keyword side found it; ``keyword_score`` is a BM25 score
    (>= 0, higher is better) or None; ``fused_score`` is the reciprocal-rank
    fusion score used for ordering.
    """

    chunk: Chunk
    fused_score: float
    dense_score: float | None = None
    keyword_score: float | None = None
    # Set when a cross-encoder reranked the candidates (higher is more relevant;
    # the scale is the model's own); the order then follows it, not fused_score.
    rerank_score: float | None = None

    @property
    def id(self) -> str:
        return self.chunk.id

    def location(self) -> str:
        """Human-readable 'label, p. N' ('slide N', 'sheet N (name)') or
        'label, section' (the document's label, which names its period and
        version, else its title)."""
        where = self.chunk.name
        chunk = self.chunk
        if chunk.page is not None:
            unit = chunk.context.unit
            if unit == "sheet" and chunk.section:
                return f"{where}, sheet {chunk.page} ({chunk.section})"
            return f"{where}, {unit or 'p.'} {chunk.page}"
        if chunk.section:
            return f"{where}, {chunk.section}"
        return where


@dataclass(frozen=True, slots=True)
class Citation:
    """A ``[n]`` marker in an answer, resolved to the passage it names."""

    number: int  # 1-based index into the passages given to the model
    passage: Passage

    @property
    def source(self) -> str:
        return self.passage.chunk.source

    @property
    def page(self) -> int | None:
        return self.passage.chunk.page


@dataclass(frozen=True, slots=True, kw_only=True)
class Timings:
    """Seconds spent per pipeline step, in the order they run; 0.0 for steps
    that did not run. Built by keyword only (``pipeline.Stopwatch`` fills it).

    ``condense_s`` is the follow-up rewrite (see ``chatbot.answer.conversation``);
    ``retrieve_s`` covers retrieval and the gate; ``read_s`` the answerability
    reader; ``queue_s`` the wait for a place at the LLM (``chatbot.admission``);
    ``verify_s`` the verifier and the support judge."""

    condense_s: float = 0.0
    retrieve_s: float = 0.0
    read_s: float = 0.0
    queue_s: float = 0.0
    generate_s: float = 0.0
    verify_s: float = 0.0

    @property
    def total_s(self) -> float:
        return (
            self.condense_s
            + self.retrieve_s
            + self.read_s
            + self.queue_s
            + self.generate_s
            + self.verify_s
        )


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the evidence gate measured for one question (see chatbot.answer.gate)."""

    language: str
    best_dense: float | None
    coverage: float  # 0..1
    matched: tuple[str, ...]
    missing: tuple[str, ...]
    # Finer signals for the calibrated answerability model (chatbot.answer.answerability):
    sentence_coverage: float = 0.0  # coverage by the single best sentence shown
    best_sentence: str = ""  # that sentence (truncated)
    dense_gap: float = 0.0  # best minus second-best dense similarity
    heaviest_missing: float = 0.0  # weight share of the most important missing unit
    answerability: float | None = None  # the calibrated model's P(answerable), if run
    reader: float | None = None  # the trained reader's P(answerable), if it read them

    def describe(self) -> str:
        dense = "n/a" if self.best_dense is None else f"{self.best_dense:.3f}"
        model = "" if self.answerability is None else f" p_answerable={self.answerability:.2f}"
        if self.reader is not None:
            model += f" reader={self.reader:.2f}"
        return (
            f"best_dense={dense} coverage={self.coverage:.2f} "
            f"sentence_coverage={self.sentence_coverage:.2f}{model} "
            f"missing={list(self.missing)[:8]} lang={self.language}"
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """A grounded answer: text with ``[n]`` markers, and what they point at."""

    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]  # every passage that was shown to the model
    model: str
    timings: Timings = field(default_factory=Timings)
    evidence: Evidence | None = None
    # The follow-up rewritten to stand alone, which is what was retrieved for and
    # answered; None when the question was asked without conversation history.
    standalone_question: str | None = None
    # The shortest phrase of the cited passages that answers the question, as
    # given by the answerability reader (chatbot.answer.reading) or extracted by the
    # support judge (chatbot.answer.judge); None when neither gave one.
    short_answer: str | None = None
    # Whether the support judge's LLM call ran (the reader's confidence can spare it).
    judge_called: bool = False

    def cited_passages(self) -> tuple[Passage, ...]:
        seen: dict[str, Passage] = {}
        for c in self.citations:
            seen.setdefault(c.passage.id, c.passage)
        return tuple(seen.values())


class RefusalReason(enum.StrEnum):
    """Why the assistant declined. Values are stable: they go to logs and evals."""

    NO_EVIDENCE = "no_evidence"  # retrieval found nothing close enough (gate)
    MODEL_DECLINED = "model_declined"  # the LLM said the passages do not answer
    NO_VALID_CITATION = "no_valid_citation"  # answer cited nothing it was given
    UNSUPPORTED = "unsupported"  # cited passages do not back the sentences
    INVALID_QUESTION = "invalid_question"  # empty, too long or not a question
    # passages were found and are on topic, but the calibrated answerability
    # check says they probably do not hold the answer (before any LLM call)
    WEAK_EVIDENCE = "weak_evidence"
    # not a question the documents can answer: a task (poem, code, email,
    # translation), personal investment or legal advice, role-play, or an
    # instruction to ignore the documents or rules (prompt injection)
    OUT_OF_SCOPE = "out_of_scope"
    # the trained reader read the question against every shown passage and
    # found that none of them answers it (before any LLM call)
    NOT_IN_PASSAGES = "not_in_passages"
    # the question names a period (a year) that no document covers and no
    # passage mentions (before any LLM call); the message names what is covered
    PERIOD_NOT_COVERED = "period_not_covered"
    # the asker (or the shared conversation) may see no document at all: an
    # unknown chat user, or a channel with no declared audience
    NO_ACCESS = "no_access"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A deliberate non-answer, with the evidence that was considered."""

    reason: RefusalReason
    message: str  # one or two sentences for the user, in their language
    passages: tuple[Passage, ...] = ()
    detail: str = ""  # for logs and risk teams: scores, the failing sentence
    timings: Timings = field(default_factory=Timings)
    llm_called: bool = False  # the answering LLM call, not the follow-up rewrite
    evidence: Evidence | None = None
    standalone_question: str | None = None  # as on ``Answer``


Outcome = Answer | Refusal
