"""HTTP JSON API (FastAPI): ask, give feedback, check health and the index.

::

    POST /v1/ask          {question, conversation_id?, user?} -> answer | refusal
    POST /v1/feedback     {interaction_id, helpful, comment?}
    GET  /health
    GET  /v1/index/status
    GET  /openapi.json    (and /docs)

An answer and a refusal are different shapes, told apart by ``kind``. LLM
faults are 503 with a one-line JSON message; malformed input is FastAPI's
422. Every question is written to the audit store. Start it with
``chatbot-api`` (it uses the configured LLM server; it does not start the
embedded one).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

import click
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from chatbot.assistant import Assistant, build_assistant
from chatbot.catalog import IndexStatus
from chatbot.channels.view import SourceView, view
from chatbot.domain import Timings
from chatbot.errors import (
    BoundaryError,
    GeneratorError,
    GeneratorStartingError,
    IndexMissingError,
    UnknownInteractionError,
)
from chatbot.llm.status import READY, LLMStatus
from chatbot.logs import configure_logging
from chatbot.prompts import question_language
from chatbot.settings import Settings

log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskRequest(_Strict):
    question: str = Field(min_length=1, max_length=20_000, description="The question.")
    conversation_id: str | None = Field(
        None,
        max_length=200,
        description="Caller's conversation id, kept in the audit trail. Questions with the "
        "same id are one conversation: a follow-up ('When was it announced?') is rewritten "
        "into a standalone question from the last turns. Without it, every question stands "
        "alone.",
    )
    user: str | None = Field(
        None, max_length=200, description="Caller's user id, kept in the audit trail."
    )


class CitationOut(BaseModel):
    number: int = Field(description="The [n] marker in the answer text.")
    title: str
    source: str = Field(description="Path of the document within the corpus.")
    page: int | None = Field(description="1-based PDF page; null for formats without pages.")
    quote: str = Field(description="The start of the cited passage.")


class TimingsOut(BaseModel):
    retrieve_s: float
    read_s: float = Field(0.0, description="The answerability reader (0 when it did not run).")
    generate_s: float
    verify_s: float
    total_s: float


class AnswerOut(BaseModel):
    kind: Literal["answer"] = "answer"
    text: str = Field(description="The answer, with [n] markers naming its citations.")
    short_answer: str | None = Field(
        None,
        description="The shortest phrase of the cited passages that answers the question "
        "(a name, number or date), checked against them; null when none was extracted.",
    )
    citations: list[CitationOut]
    timings: TimingsOut
    interaction_id: str | None = Field(description="Audit id; send it with feedback.")
    standalone_question: str | None = Field(
        None, description="For a follow-up: the self-contained question that was answered."
    )


class RefusalOut(BaseModel):
    kind: Literal["refusal"] = "refusal"
    message: str = Field(description="Why no answer is given, in the question's language.")
    reason: str = Field(
        description="Stable reason code: no_evidence, weak_evidence, not_in_passages, "
        "model_declined, no_valid_citation, unsupported, invalid_question or out_of_scope."
    )
    label: str = Field(description="The reason in words.")
    timings: TimingsOut
    interaction_id: str | None = Field(description="Audit id; send it with feedback.")
    standalone_question: str | None = Field(
        None, description="For a follow-up: the self-contained question that was answered."
    )


AskResponse = Annotated[AnswerOut | RefusalOut, Field(discriminator="kind")]


class FeedbackRequest(_Strict):
    interaction_id: str = Field(min_length=1, max_length=100)
    helpful: bool
    comment: str = Field("", max_length=2000)


class FeedbackOut(BaseModel):
    status: Literal["recorded"] = "recorded"


class IndexStatusOut(BaseModel):
    documents: int
    pages: int
    chunks: int
    last_ingested_at: datetime | None
    embedder: str | None


class ErrorOut(BaseModel):
    error: str = Field(description="Machine-readable error code.")
    message: str = Field(description="One sentence for a person.")


def _timings(t: Timings) -> TimingsOut:
    return TimingsOut(
        retrieve_s=t.retrieve_s,
        read_s=t.read_s,
        generate_s=t.generate_s,
        verify_s=t.verify_s,
        total_s=t.total_s,
    )


def _citation(source: SourceView) -> CitationOut:
    return CitationOut(
        number=source.number or 0,
        title=source.title,
        source=source.source,
        page=source.page,
        quote=source.quote,
    )


def create_app(
    assistant: Assistant,
    index_status: Callable[[], IndexStatus],
    llm_status: Callable[[], LLMStatus] = lambda: READY,
) -> FastAPI:
    """The API around ``assistant``; ``index_status`` feeds /v1/index/status and
    ``llm_status`` the ``llm`` part of /health (the embedded server's state;
    a remote server counts as ready, its faults show per request)."""
    app = FastAPI(
        title="Boundary",
        description="Answers only from the indexed documents, with citations, or refuses.",
        version="1",
    )

    @app.exception_handler(GeneratorStartingError)
    async def llm_starting(_: Request, exc: GeneratorStartingError) -> JSONResponse:
        body = ErrorOut(error="llm_starting", message=str(exc))
        wait = max(int(exc.retry_after_s or 0), 5)
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": str(wait)})

    @app.exception_handler(GeneratorError)
    async def llm_down(_: Request, exc: GeneratorError) -> JSONResponse:
        log.warning("LLM failure: %s", exc)
        body = ErrorOut(error="llm_unavailable", message=str(exc))
        return JSONResponse(body.model_dump(), status_code=503)

    @app.exception_handler(IndexMissingError)
    async def no_index(_: Request, exc: IndexMissingError) -> JSONResponse:
        body = ErrorOut(error="index_missing", message=str(exc))
        return JSONResponse(body.model_dump(), status_code=503)

    @app.exception_handler(BoundaryError)
    async def other_fault(_: Request, exc: BoundaryError) -> JSONResponse:
        log.error("request failed: %s", exc)
        body = ErrorOut(error="internal", message=str(exc))
        return JSONResponse(body.model_dump(), status_code=500)

    @app.exception_handler(UnknownInteractionError)
    async def unknown_id(_: Request, exc: UnknownInteractionError) -> JSONResponse:
        body = ErrorOut(error="unknown_interaction", message=f"no interaction with id {exc}")
        return JSONResponse(body.model_dump(), status_code=404)

    fault_responses: dict[int | str, dict[str, object]] = {
        503: {"model": ErrorOut, "description": "The LLM or the index is unavailable."}
    }

    # Plain (sync) handlers: FastAPI runs them in its thread pool, which suits
    # the blocking pipeline.
    @app.post("/v1/ask", response_model=AskResponse, responses=fault_responses)
    def ask(body: AskRequest) -> AnswerOut | RefusalOut:
        recorded = assistant.ask(
            body.question,
            channel="api",
            user_id=body.user or "",
            conversation_id=body.conversation_id or "",
        )
        shown = view(recorded.outcome, question_language(body.question))
        timings = _timings(recorded.outcome.timings)
        if shown.kind == "answer":
            return AnswerOut(
                text=shown.text,
                short_answer=shown.short_answer,
                citations=[_citation(s) for s in shown.sources],
                timings=timings,
                interaction_id=recorded.interaction_id,
                standalone_question=recorded.outcome.standalone_question,
            )
        assert shown.reason is not None
        return RefusalOut(
            message=shown.text,
            reason=shown.reason.value,
            label=shown.label,
            timings=timings,
            interaction_id=recorded.interaction_id,
            standalone_question=recorded.outcome.standalone_question,
        )

    @app.post("/v1/feedback", responses={404: {"model": ErrorOut}})
    def feedback(body: FeedbackRequest) -> FeedbackOut:
        assistant.feedback(body.interaction_id, body.helpful, body.comment)
        return FeedbackOut()

    @app.get("/health")
    def health() -> dict[str, object]:
        """The web process is up ("ok"); ``llm`` says whether answers can be
        written yet: starting (with elapsed and expected seconds), ready, or
        unavailable with the reason. Gate refusals work in every state."""
        return {"status": "ok", "llm": llm_status().as_dict()}

    @app.get("/v1/index/status", responses=fault_responses)
    def status() -> IndexStatusOut:
        current = index_status()
        return IndexStatusOut(
            documents=current.documents,
            pages=current.pages,
            chunks=current.chunks,
            last_ingested_at=current.last_ingested_at,
            embedder=current.embedder,
        )

    return app


@click.command()
@click.option("--host", default=None, help="Interface to bind (default: CHATBOT_API__HOST).")
@click.option("--port", type=int, default=None, help="Port (default: CHATBOT_API__PORT).")
def main(host: str | None, port: int | None) -> None:
    """Serve the JSON API; OpenAPI at /openapi.json, interactive docs at /docs.

    Example: chatbot-api --port 8080, then
    curl -s localhost:8080/v1/ask -H 'content-type: application/json'
    -d '{"question": "When was the Sandbox launched?"}'
    """
    import uvicorn

    configure_logging(1)
    settings = Settings()
    try:
        assistant, stores = build_assistant(settings)
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    app = create_app(assistant, stores.keywords.status)
    uvicorn.run(app, host=host or settings.api.host, port=port or settings.api.port)
