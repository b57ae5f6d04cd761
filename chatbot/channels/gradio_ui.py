"""The web UI (Gradio): chat with citations and feedback, and a corpus admin tab.

Handlers stay thin. A chat turn goes through ``Assistant.stream`` (channel
"web", so it is audited like every other channel) and renders the typed
outcome; feedback goes to ``Assistant.feedback`` against the interaction id
of the reply it is about; the admin tab calls ``CorpusAdmin``. Every string
the page shows comes from ``chatbot.channels.i18n``; elements that tests and
stylesheets target carry fixed ``elem_id``s.

Drafts stream in marked as unverified and are replaced by the verified
outcome. Answers and refusals are wrapped in ``boundary-answer`` and
``boundary-refusal`` blocks so they are styled apart, not only worded apart;
an answer with a short answer phrase opens with an "In brief" line above the
full cited text (``chatbot.channels.render``). Faults (the LLM, the embedder
or the reranker failing) become one sentence in a ``boundary-error`` block.

Every handler works for the principal behind its request (``access``): the
chat answers from what their groups may see, the topic hints list only
those documents, feedback is accepted only on their own replies, and the
Admin tab appears (and its handlers act) only for the admin group. The line
under the title says who is signed in, or that the page runs single-user.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from chatbot.access import Audience, Principal
from chatbot.admin import CorpusAdmin
from chatbot.assistant import Assistant, Recorded
from chatbot.channels.admin_ui import build_admin_tab
from chatbot.channels.i18n import LANGUAGE_CHOICES, text
from chatbot.channels.render import (
    SourceLink,
    literal,
    render_draft,
    render_error,
    render_llm_status,
    render_outcome,
    render_understood,
)
from chatbot.channels.web_auth import WebAccess, gradio_principal
from chatbot.domain import Answer
from chatbot.errors import BoundaryError, UnknownInteractionError
from chatbot.llm.status import READY, LLMStatus
from chatbot.signin import SignInDenied
from chatbot.text import question_language

log = logging.getLogger(__name__)

Message = dict[str, Any]

CSS = """
#status-line { font-size: 0.85em; opacity: 0.8; }
#llm-status { font-size: 0.9em; }
.boundary-refusal { border-left: 4px solid #c0392b; background: rgba(192, 57, 43, 0.08);
                    padding: 0.4em 0.8em; border-radius: 4px; }
.boundary-answer { border-left: 4px solid #2e7d32; padding: 0.2em 0.8em; }
.boundary-draft { opacity: 0.65; font-style: italic; }
.boundary-understood { font-size: 0.85em; opacity: 0.8; }
.boundary-answer a code, .boundary-refusal a code { text-decoration: underline;
                                                    color: var(--link-text-color); }
#feedback-status { font-size: 0.9em; }
#whoami { font-size: 0.85em; opacity: 0.85; }
"""


@dataclass(frozen=True, slots=True)
class ChatUpdate:
    """One update of a chat turn: the whole history, and the audit id once final."""

    history: list[Message]
    interaction_id: str | None = None
    final: bool = False


@dataclass(slots=True)
class ChatSession:
    """Per-browser-session state: the conversation id and which reply is which
    audit row (history index -> interaction id), for feedback."""

    conversation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    replies: dict[int, str] = field(default_factory=dict)


def _block(css_class: str, markdown: str) -> str:
    # Blank lines around the Markdown let it render inside the HTML block.
    return f'<div class="{css_class}">\n\n{markdown}\n\n</div>'


def chat_turn(
    assistant: Assistant,
    question: str,
    history: list[Message],
    *,
    principal: Principal,
    conversation_id: str = "",
    topics: Callable[[Audience], Sequence[str]] = lambda _: (),
    link: SourceLink | None = None,
) -> Iterator[ChatUpdate]:
    """One chat turn: stream drafts, then the verified outcome (or an error).

    The reply is written in the question's language (like the refusal
    message the pipeline chose); ``topics`` lists document titles for the
    "what the documents cover" hint under a refusal.
    """
    # The question is shown as typed, never as Markdown or HTML.
    asked = [*history, {"role": "user", "content": literal(question)}]

    def reply(content: str) -> list[Message]:
        return [*asked, {"role": "assistant", "content": content}]

    language = question_language(question or "")
    yield ChatUpdate(reply(_block("boundary-draft", "…")))
    try:
        for event in assistant.stream(
            question, channel="web", principal=principal, conversation_id=conversation_id
        ):
            if not isinstance(event, Recorded):
                yield ChatUpdate(
                    reply(_block("boundary-draft", render_draft(event.text, language)))
                )
                continue
            outcome = event.outcome
            if isinstance(outcome, Answer):
                shown = _block("boundary-answer", render_outcome(outcome, language, link=link))
            else:
                rendered = render_outcome(outcome, language, topics(Audience.of(principal)), link)
                shown = _block("boundary-refusal", rendered)
            standalone = outcome.standalone_question
            if standalone and standalone.strip() != question.strip():
                # Say which question was answered when a follow-up was rewritten.
                understood = _block("boundary-understood", render_understood(standalone, language))
                shown = f"{understood}\n\n{shown}"
            yield ChatUpdate(reply(shown), event.interaction_id, final=True)
    except BoundaryError as exc:
        log.warning("web question failed: %s", exc)
        yield ChatUpdate(reply(_block("boundary-error", render_error(exc, language))), final=True)


def give_feedback(
    assistant: Assistant,
    interaction_id: str | None,
    helpful: bool,
    comment: str,
    language: str,
    principal: Principal | None,
) -> str:
    """Store a verdict on one of ``principal``'s replies; returns the sentence to show."""
    if not interaction_id or principal is None:
        return text("feedback_off", language)
    try:
        assistant.feedback(interaction_id, helpful, comment, principal=principal)
    except UnknownInteractionError:
        return text("feedback_unknown", language)
    if assistant.audit is None:
        return text("feedback_off", language)
    return text("feedback_saved", language)


def build_ui(
    assistant: Assistant,
    admin: CorpusAdmin | None = None,
    examples: Sequence[str] = (),
    source_link: SourceLink | None = None,
    llm_status: Callable[[], LLMStatus] = lambda: READY,
    *,
    access: WebAccess,
) -> gr.Blocks:
    """The Blocks app. Without ``admin`` there is no admin tab and no topic hints.

    ``llm_status`` feeds the line under the title that says whether the
    language model is warming up (and for about how long yet), ready, or
    unavailable; it is re-read every few seconds while it is not ready."""
    topics: Callable[[Audience], Sequence[str]] = (
        admin.titles if admin is not None else lambda _: ()
    )

    def who(request: Any) -> Principal | None:
        try:
            return gradio_principal(access.signin, request)
        except SignInDenied as denied:
            assistant.deny("web", denied.claimed, frozenset(), "ui", denied.reason)
            return None

    def admin_guard(request: Any) -> Principal | None:
        principal = who(request)
        if principal is None:
            return None
        if not access.roles.admin(principal):
            assistant.deny("web", principal.id, principal.groups, "admin", "not in the admin group")
            return None
        return principal

    with gr.Blocks(title="Boundary: answers only from your documents") as ui:
        session = gr.State(None)
        last_reply = gr.State(None)  # interaction id of the newest reply
        with gr.Row():
            heading = gr.Markdown(f"## {text('title')}\n{text('intro')}", elem_id="intro")
            language = gr.Radio(
                choices=LANGUAGE_CHOICES,
                value="en",
                label=text("language"),
                elem_id="language",
                scale=0,
                min_width=220,
            )
        whoami = gr.Markdown("", elem_id="whoami")
        first = llm_status()
        llm_line = gr.Markdown(render_llm_status(first), elem_id="llm-status")
        llm_timer = gr.Timer(3, active=not first.ready)
        with gr.Tabs():
            with gr.Tab(text("tab_chat"), id="chat-tab", elem_id="chat-tab") as chat_tab:
                chat = gr.Chatbot(
                    label=text("conversation"),
                    height=520,
                    elem_id="chat",
                    feedback_options=("Like", "Dislike"),
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder=text("placeholder"),
                        show_label=False,
                        scale=8,
                        elem_id="question",
                    )
                    send = gr.Button(text("ask"), variant="primary", scale=1, elem_id="ask")
                with gr.Row(visible=False, elem_id="feedback") as feedback_row:
                    prompt = gr.Markdown(text("feedback_prompt"), elem_id="feedback-prompt")
                    up = gr.Button(text("helpful"), size="sm", elem_id="feedback-up")
                    down = gr.Button(text("not_helpful"), size="sm", elem_id="feedback-down")
                    comment = gr.Textbox(
                        label=text("comment"), lines=1, scale=3, elem_id="feedback-comment"
                    )
                feedback_status = gr.Markdown("", elem_id="feedback-status")
                clear = gr.Button(text("clear"), size="sm", elem_id="clear")
                if examples:
                    gr.Examples(
                        examples=[[e] for e in examples],
                        inputs=box,
                        label=f"{text('examples')} / {text('examples', 'zh')}",
                        elem_id="examples",
                    )
            admin_parts: list[Any] = []
            relabel_admin: Callable[[str], list[Any]] = lambda _: []  # noqa: E731
            if admin is not None:
                relabel_admin, admin_parts = build_admin_tab(
                    admin, assistant, language, admin_guard
                )

        def turn(
            question: str,
            history: list[Message] | None,
            state: ChatSession | None,
            request: gr.Request,
        ) -> Iterator[tuple[Any, ...]]:
            state = state or ChatSession()
            principal = who(request)
            if principal is None:
                denied = text("signed_out", question_language(question or ""))
                shown = [*(history or []), {"role": "assistant", "content": denied}]
                yield "", shown, state, None, gr.update(visible=False), ""
                return
            for update in chat_turn(
                assistant,
                question,
                history or [],
                principal=principal,
                conversation_id=state.conversation_id,
                topics=topics,
                link=source_link,
            ):
                if update.final and update.interaction_id is not None:
                    state.replies[len(update.history) - 1] = update.interaction_id
                visible = gr.update(visible=update.final and update.interaction_id is not None)
                yield "", update.history, state, update.interaction_id, visible, ""

        def rate(
            helpful: bool, interaction_id: str | None, note: str, lang: str, request: Any
        ) -> tuple[str, str]:
            principal = who(request)
            return give_feedback(assistant, interaction_id, helpful, note, lang, principal), ""

        def like(
            state: ChatSession | None, lang: str, data: gr.LikeData, request: gr.Request
        ) -> str:
            index = data.index if isinstance(data.index, int) else data.index[0]
            interaction_id = state.replies.get(index) if state is not None else None
            helpful = data.liked is True or data.liked == "Like"
            return give_feedback(assistant, interaction_id, helpful, "", lang, who(request))

        def relabel(lang: str) -> list[Any]:
            return [
                f"## {text('title', lang)}\n{text('intro', lang)}",
                gr.update(label=text("language", lang)),
                gr.update(label=text("tab_chat", lang)),
                gr.update(label=text("conversation", lang)),
                gr.update(placeholder=text("placeholder", lang)),
                gr.update(value=text("ask", lang)),
                text("feedback_prompt", lang),
                gr.update(value=text("helpful", lang)),
                gr.update(value=text("not_helpful", lang)),
                gr.update(label=text("comment", lang)),
                gr.update(value=text("clear", lang)),
                render_llm_status(llm_status(), lang),
                *relabel_admin(lang),
            ]

        def llm_tick(lang: str) -> tuple[str, Any]:
            current = llm_status()
            # Once ready, stop polling; a later failure shows on the next question.
            return render_llm_status(current, lang), gr.Timer(active=not current.ready)

        def on_load(lang: str, request: gr.Request) -> tuple[Any, ...]:
            principal = who(request)
            if principal is None:
                line = text("signed_out", lang)
            elif principal.via == "local":
                line = text("local_mode", lang)
            else:
                groups = ", ".join(sorted(principal.groups))
                line = text("signed_in", lang).format(who=principal.id, groups=groups)
            is_admin = principal is not None and access.roles.admin(principal)
            return (line, *llm_tick(lang), *([gr.update(visible=is_admin)] if admin_parts else []))

        llm_timer.tick(llm_tick, language, [llm_line, llm_timer], show_progress="hidden")
        admin_tab = admin_parts[:1]
        ui.load(
            on_load, language, [whoami, llm_line, llm_timer, *admin_tab], show_progress="hidden"
        )

        outputs = [box, chat, session, last_reply, feedback_row, feedback_status]
        box.submit(turn, [box, chat, session], outputs)
        send.click(turn, [box, chat, session], outputs)

        def rate_up(i: str | None, c: str, lang: str, request: gr.Request) -> tuple[str, str]:
            return rate(True, i, c, lang, request)

        def rate_down(i: str | None, c: str, lang: str, request: gr.Request) -> tuple[str, str]:
            return rate(False, i, c, lang, request)

        up.click(rate_up, [last_reply, comment, language], [feedback_status, comment])
        down.click(rate_down, [last_reply, comment, language], [feedback_status, comment])
        chat.like(like, [session, language], feedback_status)

        def clear_chat(state: ChatSession | None, request: gr.Request) -> tuple[Any, ...]:
            # A new session (and so a new conversation id) starts on the next
            # question; the old conversation's memory goes now.
            principal = who(request)
            if state is not None and principal is not None:
                assistant.forget(state.conversation_id, principal)
            return [], None, None, gr.update(visible=False), ""

        clear.click(clear_chat, session, [chat, session, last_reply, feedback_row, feedback_status])
        language.change(
            relabel,
            language,
            [
                heading,
                language,
                chat_tab,
                chat,
                box,
                send,
                prompt,
                up,
                down,
                comment,
                clear,
                llm_line,
                *admin_parts,
            ],
        )
    return ui
