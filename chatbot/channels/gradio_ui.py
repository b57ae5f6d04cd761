"""Gradio chat UI. Handlers only call the pipeline and render its outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from chatbot.channels.render import render_draft, render_error, render_outcome
from chatbot.errors import BoundaryError
from chatbot.pipeline import Draft, Pipeline
from chatbot.prompts import question_language

log = logging.getLogger(__name__)

Message = dict[str, Any]

_CSS = """
#status-line { font-size: 0.85em; opacity: 0.8; }
"""


def chat_turn(
    pipeline: Pipeline, question: str, history: list[Message]
) -> Iterator[tuple[str, list[Message]]]:
    """One chat turn: stream drafts, then the verified outcome (or an error)."""
    asked = [*history, {"role": "user", "content": question}]

    def reply(content: str) -> tuple[str, list[Message]]:
        return "", [*asked, {"role": "assistant", "content": content}]

    yield reply("…")
    language = question_language(question or "")
    try:
        for event in pipeline.stream(question):
            if isinstance(event, Draft):
                yield reply(render_draft(event.text))
            else:
                yield reply(render_outcome(event, language))
    except BoundaryError as exc:
        log.warning("question failed: %s", exc)
        yield reply(render_error(exc))


def build_ui(
    pipeline: Pipeline,
    status: Callable[[], str],
    examples: list[str] | None = None,
) -> gr.Blocks:
    with gr.Blocks(title="Boundary: answers only from your documents") as ui:
        gr.Markdown(
            "## Boundary\nAnswers only from the indexed documents, with sources. "
            "When the documents do not hold the answer, it says so instead of guessing."
        )
        status_line = gr.Markdown(status(), elem_id="status-line")
        chat = gr.Chatbot(label="Conversation", height=520, elem_id="chat")
        with gr.Row():
            box = gr.Textbox(
                placeholder="Ask about the documents… / 請就文件內容提問…",
                show_label=False,
                scale=8,
                elem_id="question",
            )
            send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
        clear = gr.Button("Clear chat", size="sm")
        if examples:
            gr.Examples(examples=examples, inputs=box, label="Example questions")

        def turn(question: str, history: list[Message]) -> Iterator[tuple[str, list[Message]]]:
            yield from chat_turn(pipeline, question, history or [])

        box.submit(turn, [box, chat], [box, chat])
        send.click(turn, [box, chat], [box, chat])
        clear.click(lambda: [], None, chat)
        ui.load(status, None, status_line)
    return ui


def launch(ui: gr.Blocks, host: str, port: int) -> None:
    ui.queue(default_concurrency_limit=2).launch(
        server_name=host, server_port=port, show_error=False, css=_CSS, quiet=True
    )
