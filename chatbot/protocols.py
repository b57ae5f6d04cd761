"""Small interfaces for the swappable parts of ingestion and answering.

Real adapters live in ``chatbot.adapters``; hand-written fakes for tests live
in ``tests.fakes``. Each method's docstring is its contract.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from chatbot.access import Audience
from chatbot.answer.reading import Reading
from chatbot.domain import Chunk, Passage


class Embedder(Protocol):
    @property
    def name(self) -> str:
        """Identifier of the model (stored with the index to detect a change)."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, same order, same dimension for all."""
        ...

    def token_length(self, text: str) -> int:
        """Number of model tokens in ``text`` (used for token-aware chunking)."""
        ...


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk and its score from one index; see each index for the scale."""

    chunk: Chunk
    score: float


class VectorIndex(Protocol):
    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Insert or replace ``chunks`` (by id) with their vectors."""
        ...

    def delete_ids(self, ids: Sequence[str]) -> None:
        """Remove these chunk ids; unknown ids are ignored."""
        ...

    def query(self, vector: Sequence[float], k: int, *, audience: Audience) -> list[Hit]:
        """At most ``k`` hits, best first; score = cosine similarity in [-1, 1].

        Only chunks ``audience`` allows (``Audience.allows``), chosen before
        the cut to ``k``: the result is the best ``k`` of what the audience may
        see, not what is left of the best ``k`` overall. An empty audience
        gets no hits.
        """
        ...

    def count(self) -> int:
        """Number of chunks stored."""
        ...


class KeywordIndex(Protocol):
    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Insert or replace ``chunks`` (by id)."""
        ...

    def delete_ids(self, ids: Sequence[str]) -> None:
        """Remove these chunk ids; unknown ids are ignored."""
        ...

    def search(self, query: str, k: int, *, audience: Audience) -> list[Hit]:
        """At most ``k`` hits, best first; score = BM25 (>= 0, higher is better).

        Must not scan every chunk: it uses an inverted index. Only chunks
        ``audience`` allows, chosen before ranking cuts to ``k``; an empty
        audience gets no hits.
        """
        ...

    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        """(number of chunks, {term: chunks containing it}) for IDF weighting.

        Terms are in the form ``chatbot.text.terms`` produces.
        """
        ...


class PeriodIndex(Protocol):
    def periods(self, audience: Audience) -> frozenset[str]:
        """Every period ("2024", "2024-Q3") of a document ``audience`` may see;
        empty when none has one (an undated corpus)."""
        ...


class Reader(Protocol):
    def read(self, question: str, passages: Sequence[Passage]) -> Reading:
        """Whether ``passages`` answer ``question``, and with which span.

        ``p_answerable`` is in [0, 1] (higher: more likely that a passage
        states the answer); ``per_passage`` has one probability per passage in
        input order; ``span`` is a substring of ``passage``'s chunk text, or
        None. No passages in: p_answerable 0 and no span.
        """
        ...


class Reranker(Protocol):
    @property
    def name(self) -> str:
        """Identifier of the reranking model, for logs and audit."""
        ...

    def rerank(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """The same passages, reordered best first for ``question``.

        Every passage comes back exactly once, with ``rerank_score`` set (higher
        is more relevant; the scale is the model's own) and nothing else
        changed; ties keep their input order. No passages in, none out.
        """
        ...


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


class Generator(Protocol):
    @property
    def model_name(self) -> str:
        """Model identifier, for audit and answers."""
        ...

    def stream(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        """Yield text deltas of one completion, in order.

        Raises ``GeneratorUnavailableError``, ``GeneratorTimeoutError`` or
        ``GeneratorOutputError``; never yields an error as text.
        """
        ...


@runtime_checkable
class JsonGenerator(Protocol):
    def complete_json(
        self,
        messages: Sequence[ChatMessage],
        schema: dict[str, Any],
        *,
        name: str,
        max_tokens: int,
    ) -> dict[str, Any]:
        """One deterministic completion constrained to ``schema`` (a JSON
        Schema for an object), parsed; ``name`` labels the schema for the server
        and for error messages.

        Raises ``GeneratorUnavailableError`` or ``GeneratorTimeoutError`` for
        faults and ``GeneratorOutputError`` when the reply is not a JSON object
        (e.g. cut off at ``max_tokens``). The object's fields are not validated
        against ``schema`` here: the caller checks what it reads.
        """
        ...
