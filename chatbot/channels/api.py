"""HTTP JSON API (FastAPI): ask, give feedback, check health and the index.

::

    POST /v1/ask          {question, conversation_id?, user?} -> answer | refusal
    POST /v1/feedback     {interaction_id, helpful, comment?}
    GET  /health
    GET  /v1/index/status
    GET  /v1/whoami       the signed-in principal and groups
    GET  /v1/audit/export ?table=interactions|feedback|denials|failures&since=  (auditors)
    GET  /openapi.json    (and /docs)

Every route but /health goes through sign-in (``chatbot.channels.web_auth``):
a bearer token, the sign-on proxy's headers, or local mode. Answers use only
the documents the principal's groups may see.

An answer and a refusal are different shapes, told apart by ``kind``. LLM
faults are 503 with a one-line JSON message; an LLM too busy to take the
question (``chatbot.admission``) is 429 with ``Retry-After``; malformed input
is FastAPI's 422. Every question is written to the audit store (a faulted or
busy one to its ``failures`` table). Start it with
``chatbot-api`` (it uses the configured LLM server; it does not start the
embedded one).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

import click
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from chatbot.access import Audience, Principal
from chatbot.assistant import Assistant, build_assistant
from chatbot.catalog import IndexStatus
from chatbot.channels.api_models import (
    AnswerOut,
    AskRequest,
    AskResponse,
    ErrorOut,
    FeedbackOut,
    FeedbackRequest,
    IndexStatusOut,
    RefusalOut,
    WhoAmIOut,
    citation_out,
    timings_out,
)
from chatbot.channels.render import plain_text
from chatbot.channels.view import view
from chatbot.channels.web_auth import SignInMiddleware, WebAccess
from chatbot.errors import (
    BoundaryError,
    BusyError,
    GeneratorError,
    GeneratorStartingError,
    IndexMissingError,
    UnknownInteractionError,
)
from chatbot.llm.status import READY, LLMStatus
from chatbot.logs import configure_logging
from chatbot.settings import Settings
from chatbot.signin import require_safe_bind
from chatbot.text import question_language

log = logging.getLogger(__name__)


def principal_of(request: Request) -> Principal:
    """The principal the sign-in middleware attached to ``request``."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):  # the middleware always sets it
        raise RuntimeError("request reached a handler without sign-in")
    return principal


def create_app(
    assistant: Assistant,
    index_status: Callable[[Audience], IndexStatus],
    llm_status: Callable[[], LLMStatus] = lambda: READY,
    *,
    access: WebAccess,
) -> FastAPI:
    """The API around ``assistant``; ``index_status`` feeds /v1/index/status
    (counted over what the asker may see) and ``llm_status`` the ``llm`` part
    of /health (the embedded server's state; a remote server counts as
    ready, its faults show per request). Every route but /health is behind
    sign-in (``access``)."""
    app = FastAPI(
        title="Boundary",
        description="Answers only from the indexed documents, with citations, or refuses.",
        version="1",
    )

    def deny(path: str, claimed: str, reason: str) -> None:
        channel: Literal["api", "web"] = "api" if path.startswith("/v1") else "web"
        assistant.deny(channel, claimed, frozenset(), f"request {path}", reason)

    app.add_middleware(SignInMiddleware, signin=access.signin, deny=deny)

    @app.exception_handler(BusyError)
    async def busy(_: Request, exc: BusyError) -> JSONResponse:
        body = ErrorOut(error="busy", message=str(exc))
        wait = max(1, round(exc.retry_after_s))
        return JSONResponse(body.model_dump(), status_code=429, headers={"Retry-After": str(wait)})

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
        429: {
            "model": ErrorOut,
            "description": "The LLM is busy (back-pressure); retry after the Retry-After "
            "header's seconds.",
        },
        503: {"model": ErrorOut, "description": "The LLM or the index is unavailable."},
    }

    # Plain (sync) handlers: FastAPI runs them in its thread pool, which suits
    # the blocking pipeline.
    @app.post("/v1/ask", response_model=AskResponse, responses=fault_responses)
    def ask(body: AskRequest, request: Request) -> AnswerOut | RefusalOut:
        principal = principal_of(request)
        if body.user and body.user != principal.id:
            # Who the service asked for goes to the audit trail; the groups
            # stay the token's own.
            principal = Principal(
                f"{principal.id} for {body.user}", principal.groups, principal.via
            )
        recorded = assistant.ask(
            body.question,
            channel="api",
            principal=principal,
            conversation_id=body.conversation_id or "",
        )
        shown = view(recorded.outcome, question_language(body.question))
        timings = timings_out(recorded.outcome.timings)
        # The rewrite of a follow-up is the model's text: markup-free like the rest.
        standalone = recorded.outcome.standalone_question
        standalone = plain_text(standalone) if standalone is not None else None
        if shown.kind == "answer":
            return AnswerOut(
                text=shown.text,
                short_answer=shown.short_answer,
                citations=[citation_out(s) for s in shown.sources],
                timings=timings,
                interaction_id=recorded.interaction_id,
                standalone_question=standalone,
            )
        assert shown.reason is not None
        return RefusalOut(
            message=shown.text,
            reason=shown.reason.value,
            label=shown.label,
            timings=timings,
            interaction_id=recorded.interaction_id,
            standalone_question=standalone,
        )

    @app.post("/v1/feedback", responses={404: {"model": ErrorOut}})
    def feedback(body: FeedbackRequest, request: Request) -> FeedbackOut:
        assistant.feedback(
            body.interaction_id, body.helpful, body.comment, principal=principal_of(request)
        )
        return FeedbackOut()

    @app.get("/v1/whoami")
    def whoami(request: Request) -> WhoAmIOut:
        principal = principal_of(request)
        return WhoAmIOut(
            principal=principal.id,
            via=principal.via,
            groups=sorted(principal.groups),
            admin=access.roles.admin(principal),
            auditor=access.roles.auditor(principal),
        )

    @app.get("/v1/audit/export", responses={403: {"model": ErrorOut}}, response_model=None)
    def audit_export(
        request: Request,
        table: Annotated[
            Literal["interactions", "feedback", "denials", "failures"], Query()
        ] = "interactions",
        since: Annotated[datetime | None, Query(description="ISO date or time, UTC.")] = None,
    ) -> StreamingResponse | JSONResponse:
        """The audit trail as JSON lines, for members of the auditor group."""
        principal = principal_of(request)
        if not access.roles.auditor(principal):
            assistant.deny(
                "api", principal.id, principal.groups, "audit_export", "not in the auditor group"
            )
            body = ErrorOut(error="forbidden", message="Only auditors may export the audit trail.")
            return JSONResponse(body.model_dump(), status_code=403)
        store = assistant.audit
        if store is None:
            body = ErrorOut(error="audit_off", message="Auditing is off (CHATBOT_AUDIT__ENABLED).")
            return JSONResponse(body.model_dump(), status_code=404)
        rows: list[dict[str, object]]
        if table == "feedback":
            rows = [
                {
                    "interaction_id": f.interaction_id,
                    "helpful": f.helpful,
                    "comment": f.comment,
                    "timestamp": f.timestamp.isoformat(),
                }
                for f in store.feedback(since)
            ]
        elif table == "denials":
            rows = [d.to_json() for d in store.denials(since)]
        elif table == "failures":
            rows = [f.to_json() for f in store.failures(since)]
        else:
            rows = [i.to_json() for i in store.interactions(since)]
        lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        return StreamingResponse(lines, media_type="application/x-ndjson")

    @app.get("/health")
    def health() -> dict[str, object]:
        """The web process is up ("ok"); ``llm`` says whether answers can be
        written yet: starting (with elapsed and expected seconds), ready, or
        unavailable with the reason. Gate refusals work in every state.
        ``llm_queue`` (with back-pressure on) counts the LLM's places in use,
        the questions waiting and those turned away as busy."""
        admission = assistant.pipeline.admission
        out: dict[str, object] = {"status": "ok", "llm": llm_status().as_dict()}
        if admission is not None:
            out["llm_queue"] = admission.state().as_dict()
        return out

    @app.get("/v1/index/status", responses=fault_responses)
    def status(request: Request) -> IndexStatusOut:
        current = index_status(Audience.of(principal_of(request)))
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

    from chatbot.catalog import visible_status
    from chatbot.compose import build_web_access

    configure_logging(1)
    settings = Settings()
    bind = host or settings.api.host
    try:
        access = build_web_access(settings)
        require_safe_bind(access.signin, bind)
        assistant, stores = build_assistant(settings)
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    app = create_app(
        assistant, lambda audience: visible_status(stores.keywords, audience), access=access
    )
    # proxy_headers off: the peer address sign-in checks is the socket's own.
    try:
        uvicorn.run(app, host=bind, port=port or settings.api.port, proxy_headers=False)
    finally:
        assistant.close()
