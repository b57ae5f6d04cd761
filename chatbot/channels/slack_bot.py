"""Slack bot (Bolt for Python): answers mentions and direct messages in thread.

The bot listens to ``app_mention`` and to ``message`` events in direct
messages (``message.im``), asks the ``Assistant`` and replies in the
message's thread with Block Kit: the answer (under an "In brief" line with
its short answer phrase, when there is one) and one context block per
citation, or a refusal that is visibly a refusal (stop sign, reason code).
Each reply carries "Helpful / Not helpful" buttons whose clicks become
audit feedback.

Text from documents or the model is escaped (``&``, ``<``, ``>``), so it can
hold no mention (``<!channel>``, ``<@U123>``) and no link (``<http://x|y>``);
every mrkdwn object is ``verbatim``, so Slack does not turn a bare URL, a
``#channel`` or an ``@here`` in it into a link or a mention either; and
links are not unfurled. The bot's own mrkdwn holds no link at all.

Two transports, chosen by ``CHATBOT_SLACK__MODE``:

- ``http``: Slack POSTs events to ``/slack/events``; every request is
  verified against the signing secret (bad signature or a timestamp older
  than five minutes is a 401, done by Bolt's request verification);
- ``socket``: the bot connects out over Socket Mode with the app token (no
  public URL needed).

Run with ``chatbot-slack``; Slack app scopes: ``app_mentions:read``,
``chat:write``, ``im:history``; events: ``app_mention``, ``message.im``;
interactivity on (same URL) for the feedback buttons.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TYPE_CHECKING, Any

import click
from slack_bolt import Ack, App
from slack_sdk import WebClient

from chatbot.assistant import Assistant, build_assistant
from chatbot.channels.i18n import text as ui_text
from chatbot.channels.render import render_error
from chatbot.channels.view import OutcomeView, SourceView, view
from chatbot.directory import ChatDirectory
from chatbot.errors import BoundaryError, ConfigurationError
from chatbot.logs import configure_logging
from chatbot.settings import Settings, SlackSettings
from chatbot.text import question_language

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger(__name__)

HELPFUL = "boundary_feedback_helpful"
NOT_HELPFUL = "boundary_feedback_not_helpful"
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_SECTION_LIMIT = 2900  # Slack caps a section's text at 3000 characters


def _escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = _SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object Slack shows as written: no automatic links,
    channel names or mentions (``verbatim``); escape the text first."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _source_block(source: SourceView, language: str) -> dict[str, Any]:
    head = f"*[{source.number}]* " if source.number is not None else "• "
    line = f"{head}*{_escape(source.title)}*"
    if source.page is not None:
        line += " · " + _escape(source.place(language))
    if source.scan_note(language):
        line += " · _" + _escape(source.scan_note(language)) + "_"
    line += f" · `{_escape(source.source)}`"
    if source.quote:
        line += f"\n> {_escape(source.quote)}"
    return {"type": "context", "elements": [_mrkdwn(_clip(line, 1900))]}


def _feedback_block(interaction_id: str | None, language: str) -> list[dict[str, Any]]:
    if interaction_id is None:
        return []
    button = {"type": "button", "value": interaction_id}
    return [
        {
            "type": "actions",
            "block_id": "boundary_feedback",
            "elements": [
                {
                    **button,
                    "action_id": HELPFUL,
                    "text": {"type": "plain_text", "text": ui_text("helpful_plain", language)},
                },
                {
                    **button,
                    "action_id": NOT_HELPFUL,
                    "text": {"type": "plain_text", "text": ui_text("not_helpful_plain", language)},
                },
            ],
        }
    ]


def outcome_blocks(shown: OutcomeView, interaction_id: str | None) -> list[dict[str, Any]]:
    """Block Kit for an answer or a refusal; the two never look alike. Labels
    are in the question's language (``shown.language``)."""
    lang = shown.language
    if shown.kind == "answer":
        blocks: list[dict[str, Any]] = []
        if shown.short_answer is not None:
            brief = f"*{ui_text('in_brief', lang)}:* {_escape(shown.short_answer)}"
            blocks.append(
                {
                    "type": "section",
                    "block_id": "boundary_short_answer",
                    "text": _mrkdwn(_clip(brief)),
                }
            )
        blocks += [
            {"type": "section", "text": _mrkdwn(_clip(_escape(shown.text)))},
            {"type": "context", "elements": [_mrkdwn(f"*{ui_text('sources', lang)}*")]},
        ]
        blocks += [_source_block(s, lang) for s in shown.sources]
        if any(s.ocr for s in shown.sources):
            blocks.append({"type": "context", "elements": [_mrkdwn(ui_text("ocr_note", lang))]})
    else:
        assert shown.reason is not None
        not_answered = ui_text("not_answered", lang)
        heading = f":no_entry: *{not_answered}: {_escape(shown.label)}* (`{shown.reason.value}`)"
        blocks = [
            {
                "type": "section",
                "block_id": "boundary_refusal",
                "text": _mrkdwn(_clip(f"{heading}\n{_escape(shown.text)}")),
            }
        ]
        if shown.sources:
            note = f"_{ui_text('closest', lang)}_"
            blocks.append({"type": "context", "elements": [_mrkdwn(note)]})
            blocks += [_source_block(s, lang) for s in shown.sources]
    return blocks + _feedback_block(interaction_id, lang)


def fallback_text(shown: OutcomeView) -> str:
    """Plain text for notifications and clients that cannot show blocks
    (escaped like the blocks: Slack parses this text too)."""
    if shown.kind == "answer":
        return _clip(_escape(shown.text))
    heading = f"{ui_text('not_answered', shown.language)}: {shown.label}"
    return _clip(_escape(f"{heading}. {shown.text}"))


def build_slack_app(
    assistant: Assistant,
    *,
    token: str,
    signing_secret: str,
    directory: ChatDirectory,
    client: WebClient | None = None,
    process_before_response: bool = False,
) -> App:
    """The Bolt app with its listeners. ``client`` overrides the Web API client
    (tests point one at a local fake of Slack); ``process_before_response``
    answers Slack only after the listener ran (deterministic, but Slack
    retries events not acknowledged within three seconds). ``directory`` maps
    Slack user ids to groups and channels to the groups they may be answered
    from (``chatbot.directory``): a DM answers from everything the user may
    see, a channel only from what it is declared for as well."""
    app = App(
        token=token,
        signing_secret=signing_secret,
        client=client or WebClient(token=token),
        process_before_response=process_before_response,
    )

    def reply(event: dict[str, Any], client: WebClient) -> None:
        question = _MENTION.sub("", event.get("text") or "").strip()
        channel = event["channel"]
        thread = event.get("thread_ts") or event["ts"]
        principal, known = directory.asker("slack", str(event.get("user", "")))
        if not known:
            assistant.deny("slack", principal.id, frozenset(), "ask", "not in the directory")
        # Only a direct message is private; anything else is seen by the channel.
        shared = event.get("channel_type") != "im"
        audience = directory.audience("slack", principal, channel, shared)
        try:
            recorded = assistant.ask(
                question,
                channel="slack",
                principal=principal,
                audience=audience,
                conversation_id=f"{channel}:{thread}",
            )
        except BoundaryError as exc:
            log.warning("slack question failed: %s", exc)
            text = render_error(exc, question_language(question)).replace("**", "*")
            client.chat_postMessage(channel=channel, thread_ts=thread, text=text)
            return
        shown = view(recorded.outcome, question_language(question))
        client.chat_postMessage(
            channel=channel,
            thread_ts=thread,
            text=fallback_text(shown),
            blocks=outcome_blocks(shown, recorded.interaction_id),
            # A URL a document holds is text in the answer; Slack fetching a
            # preview of it would act on it.
            unfurl_links=False,
            unfurl_media=False,
        )

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], client: WebClient) -> None:
        reply(event, client)

    @app.event("message")
    def on_message(event: dict[str, Any], client: WebClient) -> None:
        # Only plain user messages in a DM; channel messages arrive as app_mention,
        # and edits, joins and bot posts carry a subtype or a bot_id.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        reply(event, client)

    def on_feedback(helpful: bool, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        interaction_id = body["actions"][0]["value"]
        principal, _ = directory.asker("slack", str(body.get("user", {}).get("id", "")))
        try:
            assistant.feedback(interaction_id, helpful, principal=principal)
        except LookupError:
            log.info("feedback for unknown or purged interaction %s", interaction_id)
            return
        client.chat_postEphemeral(
            channel=body["channel"]["id"],
            user=body["user"]["id"],
            thread_ts=body.get("message", {}).get("thread_ts"),
            text="Thanks, your feedback was recorded.",
        )

    @app.action(HELPFUL)
    def on_helpful(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        on_feedback(True, ack, body, client)

    @app.action(NOT_HELPFUL)
    def on_not_helpful(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        on_feedback(False, ack, body, client)

    return app


def _secret(value: Any, variable: str) -> str:
    if value is None:
        raise ConfigurationError(f"set {variable} to run the Slack bot")
    return str(value.get_secret_value())


def slack_app_from_settings(
    assistant: Assistant, cfg: SlackSettings, directory: ChatDirectory
) -> App:
    token = _secret(cfg.bot_token, "CHATBOT_SLACK__BOT_TOKEN")
    # Socket Mode requests are not signed; Bolt still wants a value.
    secret = (
        _secret(cfg.signing_secret, "CHATBOT_SLACK__SIGNING_SECRET")
        if cfg.mode == "http"
        else (cfg.signing_secret.get_secret_value() if cfg.signing_secret else "socket-mode")
    )
    client = WebClient(token=token, base_url=cfg.api_url)
    return build_slack_app(
        assistant, token=token, signing_secret=secret, client=client, directory=directory
    )


def http_server(app: App) -> Starlette:
    """An ASGI app with Slack's request URL at POST /slack/events."""
    from slack_bolt.adapter.starlette.handler import SlackRequestHandler
    from starlette.applications import Starlette
    from starlette.routing import Route

    handler = SlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


def socket_mode_handler(app: App, cfg: SlackSettings) -> Any:
    """The Socket Mode connection (built, not started)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    return SocketModeHandler(app, _secret(cfg.app_token, "CHATBOT_SLACK__APP_TOKEN"))


@click.command()
def main() -> None:
    """Run the Slack bot in the mode set by CHATBOT_SLACK__MODE (http or socket).

    Example: CHATBOT_SLACK__BOT_TOKEN=xoxb-… CHATBOT_SLACK__SIGNING_SECRET=… chatbot-slack
    """
    configure_logging(1)
    settings = Settings()
    cfg = settings.slack
    try:
        from chatbot.compose import build_directory

        directory = build_directory(settings)
        assistant, _ = build_assistant(settings)
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        app = slack_app_from_settings(assistant, cfg, directory)
        if cfg.mode == "socket":
            socket_mode_handler(app, cfg).start()
            return
        import uvicorn

        uvicorn.run(http_server(app), host=cfg.host, port=cfg.port)
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        assistant.close()
