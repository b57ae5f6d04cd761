"""One ASGI app for the whole web side: the Gradio UI, the JSON API, source
files and, when configured, Slack's HTTP endpoint.

::

    /                     the Gradio UI (chat + admin)
    /v1/ask, /v1/feedback, /v1/index/status, /health, /docs   (chatbot.channels.api)
    /sources/{source}     a cited document, for "open the source" links
    /slack/events         Slack Events API (only when a Slack app is given)

Every route but /health and /slack/events is behind sign-in (one middleware,
``chatbot.channels.web_auth``). ``/sources`` serves only files that the
index knows as a source, that lie inside the corpus folder and that the
signed-in principal may see (``CorpusAdmin.source_file``); anything else is
404, the same for "not allowed" as for "no such file".
Routes are registered before the UI is mounted at "/", which would otherwise
catch every path.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote

import gradio as gr
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse

from chatbot.access import Audience
from chatbot.admin import CorpusAdmin
from chatbot.channels.api import create_app, principal_of
from chatbot.channels.gradio_ui import CSS, build_ui
from chatbot.channels.web_auth import WebAccess
from chatbot.domain import Passage
from chatbot.llm.status import READY, LLMStatus

if TYPE_CHECKING:
    from slack_bolt import App as SlackApp

    from chatbot.assistant import Assistant

log = logging.getLogger(__name__)

SOURCES_PATH = "/sources"


def source_url(passage: Passage) -> str:
    """Link to a passage's document; PDFs open at the cited page."""
    url = f"{SOURCES_PATH}/{quote(passage.chunk.source)}"
    if passage.chunk.page is not None and PurePosixPath(passage.chunk.source).suffix == ".pdf":
        url += f"#page={passage.chunk.page}"
    return url


def create_web_app(
    assistant: Assistant,
    admin: CorpusAdmin,
    *,
    access: WebAccess,
    examples: Sequence[str] = (),
    slack: SlackApp | None = None,
    llm_status: Callable[[], LLMStatus] = lambda: READY,
) -> FastAPI:
    """UI + API (+ Slack) in one FastAPI app, ready for uvicorn. ``llm_status``
    is the embedded server's state, shown on the page and in /health."""
    from chatbot.catalog import visible_status

    app = create_app(
        assistant,
        lambda audience: visible_status(admin.catalog, audience),
        llm_status,
        access=access,
    )

    @app.get(SOURCES_PATH + "/{source:path}", include_in_schema=False)
    def open_source(source: str, request: Request) -> FileResponse:
        principal = principal_of(request)
        path = admin.source_file(source, Audience.of(principal))
        if path is None:
            if source in admin.catalog.catalog():
                assistant.deny(
                    "web", principal.id, principal.groups, "source", "document not visible"
                )
            raise HTTPException(status_code=404, detail="no such document in the corpus")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media_type.startswith("text/"):
            media_type += "; charset=utf-8"
        # inline: the browser shows PDFs and text rather than downloading them.
        return FileResponse(
            path, media_type=media_type, filename=path.name, content_disposition_type="inline"
        )

    if slack is not None:
        from slack_bolt.adapter.starlette.handler import SlackRequestHandler

        handler = SlackRequestHandler(slack)

        @app.post("/slack/events", include_in_schema=False)
        async def slack_events(request: Request) -> Response:
            return await handler.handle(request)

    ui = build_ui(
        assistant, admin, examples, source_link=source_url, llm_status=llm_status, access=access
    )
    # Chat turns run this many at a time. The LLM's own places and line
    # (chatbot.admission) bound the model's work; the rest are gate refusals
    # and "busy" replies, which must not wait behind answers being written.
    admission = assistant.pipeline.admission
    ui.queue(
        default_concurrency_limit=max(8, admission.slots + admission.queue + 4)
        if admission is not None
        else 8
    )
    return gr.mount_gradio_app(
        app,
        ui,
        path="/",
        css=CSS,
        show_error=False,
        footer_links=["api"],
        allowed_paths=[],
    )
