"""Microsoft Teams bot, on the Microsoft 365 Agents SDK (aiohttp hosting).

Teams (through Azure Bot Service) POSTs activities to ``/api/messages``; the
SDK's JWT middleware checks the bearer token against the app registration.
Each message is answered with an Adaptive Card: the answer (under an "In
brief" line with its short answer phrase, when there is one) and its sources,
or a refusal in an "attention" container with its reason code. The card's
"Helpful / Not helpful" buttons submit back to the bot and become audit
feedback.

Text from documents or the model (the answer, the short answer, titles,
paths, quotes) goes into ``RichTextBlock``s of ``TextRun``s, which Teams shows
as written: a ``TextBlock`` would read it as Markdown, and a
``[Bank portal](http://evil)`` in a document would become a link (backslash
escapes are not honoured alike on every Teams client). Only the bot's own
labels and messages are ``TextBlock``s, and the card holds no action but the
feedback buttons.

Run with ``chatbot-teams`` (settings ``CHATBOT_TEAMS__*``). Anonymous
requests are accepted only when ``CHATBOT_TEAMS__ANONYMOUS_ALLOWED=true``,
which is for local testing (the Agents Playground, the tests) only.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import warnings
from typing import Any

import click
from aiohttp import web
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import (
    CloudAdapter,
    jwt_authorization_middleware,
    start_agent_process,
)
from microsoft_agents.hosting.core import (
    AgentApplication,
    AgentAuthConfiguration,
    CardFactory,
    MemoryStorage,
    MessageFactory,
    TurnContext,
    TurnState,
)

from chatbot.access import Principal
from chatbot.assistant import Assistant, build_assistant
from chatbot.channels.i18n import text as ui_text
from chatbot.channels.render import render_error
from chatbot.channels.view import OutcomeView, SourceView, view
from chatbot.directory import ChatDirectory
from chatbot.errors import BoundaryError
from chatbot.logs import configure_logging
from chatbot.settings import Settings, TeamsSettings
from chatbot.text import question_language

log = logging.getLogger(__name__)

FEEDBACK_KEY = "boundary_feedback"


def _run(text: str, **style: Any) -> dict[str, Any]:
    """A TextRun: text shown as written (no Markdown), with its style."""
    return {"type": "TextRun", "text": text, **style}


def _rich(*runs: dict[str, Any], **block: Any) -> dict[str, Any]:
    """A RichTextBlock of ``runs``: for text that documents or the model wrote."""
    return {"type": "RichTextBlock", "inlines": list(runs), **block}


def _source_items(source: SourceView, language: str) -> list[dict[str, Any]]:
    head = f"[{source.number}] " if source.number is not None else "• "
    where = ""
    if source.page is not None:
        where += " · " + source.place(language)
    if source.scan_note(language):
        where += " · " + source.scan_note(language)
    where += f" · {source.source}"
    small = {"size": "Small"}
    items: list[dict[str, Any]] = [
        _rich(
            _run(head, **small),
            _run(source.title, weight="Bolder", **small),
            _run(where, **small),
            spacing="Small",
        )
    ]
    if source.quote:
        items.append(_rich(_run(source.quote, isSubtle=True, **small), spacing="None"))
    return items


def outcome_card(shown: OutcomeView, interaction_id: str | None) -> dict[str, Any]:
    """An Adaptive Card (schema 1.5) for an answer or a refusal, labelled in
    the question's language (``shown.language``)."""
    lang = shown.language
    body: list[dict[str, Any]]
    if shown.kind == "answer":
        body = []
        if shown.short_answer is not None:
            body.append(
                _rich(
                    _run(f"{ui_text('in_brief', lang)}: ", weight="Bolder"),
                    _run(shown.short_answer, weight="Bolder"),
                    id="short-answer",
                )
            )
        body += [
            _rich(_run(shown.text)),
            {
                "type": "TextBlock",
                "text": ui_text("sources", lang),
                "weight": "Bolder",
                "spacing": "Medium",
            },
        ]
        for source in shown.sources:
            body += _source_items(source, lang)
        if any(s.ocr for s in shown.sources):
            body.append(
                {
                    "type": "TextBlock",
                    "text": ui_text("ocr_note", lang),
                    "wrap": True,
                    "isSubtle": True,
                }
            )
    else:
        assert shown.reason is not None
        refusal: list[dict[str, Any]] = [
            {
                "type": "TextBlock",
                "text": f"🚫 {ui_text('not_answered', lang)}: {shown.label} ({shown.reason.value})",
                "weight": "Bolder",
                "color": "Attention",
                "wrap": True,
            },
            {"type": "TextBlock", "text": shown.text, "wrap": True},
        ]
        body = [{"type": "Container", "style": "attention", "id": "refusal", "items": refusal}]
        if shown.sources:
            body.append(
                {
                    "type": "TextBlock",
                    "text": ui_text("closest", lang),
                    "isSubtle": True,
                    "wrap": True,
                    "size": "Small",
                }
            )
            for source in shown.sources:
                body += _source_items(source, lang)
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": body,
    }
    if interaction_id is not None:
        card["actions"] = [
            {
                "type": "Action.Submit",
                "title": title,
                "data": {FEEDBACK_KEY: True, "interaction_id": interaction_id, "helpful": helpful},
            }
            for title, helpful in (
                (ui_text("helpful_plain", lang), True),
                (ui_text("not_helpful_plain", lang), False),
            )
        ]
    return card


def build_agent(
    assistant: Assistant, connection_manager: MsalConnectionManager, directory: ChatDirectory
) -> AgentApplication[TurnState]:
    """The agent's message handler: a question, or a click on a feedback button.

    The asker is ``from.aadObjectId`` looked up in ``directory``; in a channel
    or group chat (``conversation.conversationType`` other than "personal")
    the answer uses only what the conversation is declared for as well."""
    agent = AgentApplication[TurnState](
        storage=MemoryStorage(), connection_manager=connection_manager
    )

    @agent.activity("message")
    async def on_message(context: TurnContext, _: TurnState) -> None:
        activity = context.activity
        value = activity.value if isinstance(activity.value, dict) else None
        principal, known = directory.asker("teams", _aad_object_id(activity))
        if value and value.get(FEEDBACK_KEY):
            await _feedback(context, value, principal)
            return
        question = (activity.text or "").strip()
        conversation = activity.conversation.id if activity.conversation else ""
        kind = getattr(activity.conversation, "conversation_type", None) or "personal"
        audience = directory.audience("teams", principal, conversation or "", kind != "personal")
        if not known:
            assistant.deny("teams", principal.id, frozenset(), "ask", "not in the directory")
        try:
            # The pipeline blocks (retrieval, the LLM); keep the event loop free.
            recorded = await asyncio.to_thread(
                assistant.ask,
                question,
                channel="teams",
                principal=principal,
                audience=audience,
                conversation_id=conversation or "",
            )
        except BoundaryError as exc:
            log.warning("teams question failed: %s", exc)
            shown_error = render_error(exc, question_language(question)).replace("**", "")
            await context.send_activity(MessageFactory.text(shown_error))
            return
        shown = view(recorded.outcome, question_language(question))
        card = CardFactory.adaptive_card(outcome_card(shown, recorded.interaction_id))
        await context.send_activity(MessageFactory.attachment(card))

    async def _feedback(context: TurnContext, value: dict[str, Any], principal: Principal) -> None:
        try:
            assistant.feedback(
                str(value.get("interaction_id", "")),
                bool(value.get("helpful")),
                "",
                principal=principal,
            )
        except LookupError:
            await context.send_activity(MessageFactory.text(ui_text("feedback_unknown")))
            return
        await context.send_activity(MessageFactory.text(ui_text("feedback_saved")))

    return agent


def _aad_object_id(activity: Any) -> str:
    """The sender's Entra object id (``from.aadObjectId``); "" when absent."""
    sender = activity.from_property
    return str(getattr(sender, "aad_object_id", None) or "") if sender is not None else ""


def auth_configuration(cfg: TeamsSettings) -> AgentAuthConfiguration:
    secret = cfg.client_secret.get_secret_value() if cfg.client_secret else None
    return AgentAuthConfiguration(
        client_id=cfg.client_id or None,
        tenant_id=cfg.tenant_id or None,
        client_secret=secret,
        anonymous_allowed=cfg.anonymous_allowed,
    )


def build_teams_server(
    assistant: Assistant, cfg: TeamsSettings, directory: ChatDirectory
) -> web.Application:
    """The aiohttp application serving POST /api/messages."""
    auth = auth_configuration(cfg)
    connections = MsalConnectionManager(connections_configurations={"SERVICE_CONNECTION": auth})
    adapter = CloudAdapter(connection_manager=connections)
    agent = build_agent(assistant, connections, directory)

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await start_agent_process(request, agent, adapter)
        return response if response is not None else web.Response(status=202)

    app = web.Application(middlewares=[jwt_authorization_middleware])
    with warnings.catch_warnings():
        # The SDK's JWT middleware looks the configuration up by this plain string key.
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["agent_configuration"] = auth
    app.router.add_post("/api/messages", messages)
    return app


@click.command()
def main() -> None:
    """Serve the Teams bot at http://HOST:PORT/api/messages.

    Example: CHATBOT_TEAMS__CLIENT_ID=… CHATBOT_TEAMS__TENANT_ID=…
    CHATBOT_TEAMS__CLIENT_SECRET=… chatbot-teams
    """
    configure_logging(1)
    settings = Settings()
    cfg = settings.teams
    if not cfg.anonymous_allowed and not (cfg.client_id and cfg.tenant_id):
        click.echo(
            "error: set CHATBOT_TEAMS__CLIENT_ID, CHATBOT_TEAMS__TENANT_ID and "
            "CHATBOT_TEAMS__CLIENT_SECRET (the bot's app registration)",
            err=True,
        )
        sys.exit(2)
    try:
        from chatbot.compose import build_directory

        directory = build_directory(settings)
        assistant, _ = build_assistant(settings)
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        web.run_app(build_teams_server(assistant, cfg, directory), host=cfg.host, port=cfg.port)
    finally:
        assistant.close()
