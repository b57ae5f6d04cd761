"""The Teams bot (Microsoft 365 Agents SDK) served by aiohttp on 127.0.0.1.

Activities are POSTed to /api/messages with ``deliveryMode: expectReplies``,
so the SDK returns the bot's replies in the HTTP response instead of calling
a Bot Framework service; anonymous requests are allowed only in these tests'
settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatbot.assistant import Assistant
from chatbot.audit import AuditStore
from chatbot.channels.teams_bot import FEEDBACK_KEY, build_teams_server
from chatbot.errors import GeneratorUnavailableError
from chatbot.settings import TeamsSettings
from tests.builders import (
    IN_CORPUS,
    IN_CORPUS_REPLY,
    OFF_TOPIC,
    RERANKER_FAILURE,
    FailingReranker,
    chat_directory,
)
from tests.chat_fakes import Served

pytestmark = pytest.mark.real


@pytest.fixture
def teams(
    make_assistant: Callable[..., Assistant], tmp_path: Path
) -> Iterator[Callable[..., Served]]:
    served: list[Served] = []

    def start(*replies: object, anonymous: bool = True, **parts: object) -> Served:
        cfg = TeamsSettings(anonymous_allowed=anonymous)
        directory = chat_directory(tmp_path)
        assistant = make_assistant(*replies, **parts)
        server = Served(build_teams_server(assistant, cfg, directory)).__enter__()
        served.append(server)
        return server

    yield start
    for server in served:
        server.__exit__()


def activity(text: str | None = None, value: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "message",
        "id": "act-1",
        "channelId": "msteams",
        "serviceUrl": "http://127.0.0.1:9/",
        "from": {"id": "user-29", "name": "Ada", "aadObjectId": "aad-29"},
        "recipient": {"id": "bot-1", "name": "Boundary"},
        "conversation": {"id": "conv-7"},
        "deliveryMode": "expectReplies",
    }
    if text is not None:
        body["text"] = text
    if value is not None:
        body["value"] = value
    return body


def replies(server: Served, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = httpx.post(f"{server.url}/api/messages", json=body, timeout=20)
    assert response.status_code == 200, response.text
    return [a for a in response.json()["activities"] if a["type"] == "message"]


def text_of(element: dict[str, Any]) -> str:
    """A TextBlock's text, or the runs of a RichTextBlock (model and document
    text, which Teams must not read as Markdown) joined."""
    if element.get("type") == "RichTextBlock":
        return "".join(run["text"] for run in element["inlines"])
    return str(element.get("text", ""))


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return dict(attachment["content"])


def test_question_gets_an_adaptive_card_with_sources(
    teams: Callable[..., Served], audit: AuditStore
) -> None:
    [message] = replies(teams(IN_CORPUS_REPLY), activity(IN_CORPUS))
    card = card_of(message)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    texts = [text_of(block) for block in card["body"]]
    assert texts[0] == IN_CORPUS_REPLY and "Sources" in texts
    assert card["body"][0]["type"] == "RichTextBlock"
    assert not any("In brief" in t for t in texts)
    assert any(t.startswith("[1] Overview · p. 1 · overview.pdf") for t in texts)
    [source] = [b for b in card["body"] if text_of(b).startswith("[1] ")]
    assert source["inlines"][1] == {"type": "TextRun", "text": "Overview", "weight": "Bolder",
                                    "size": "Small"}  # fmt: skip
    [row] = audit.interactions()
    assert (row.channel, row.user_id, row.conversation_id) == ("teams", "teams:aad-29", "conv-7")
    assert card["actions"][0]["data"] == {
        FEEDBACK_KEY: True,
        "interaction_id": row.id,
        "helpful": True,
    }


def test_a_short_answer_is_shown_in_brief_above_the_answer(
    teams: Callable[..., Served],
) -> None:
    [message] = replies(teams(IN_CORPUS_REPLY, short_answer="August 2024"), activity(IN_CORPUS))
    brief, answer = card_of(message)["body"][:2]
    assert brief["id"] == "short-answer" and text_of(brief) == "In brief: August 2024"
    assert all(run["weight"] == "Bolder" for run in brief["inlines"])
    assert text_of(answer) == IN_CORPUS_REPLY


def test_refusal_card_is_styled_as_a_refusal(teams: Callable[..., Served]) -> None:
    [message] = replies(teams(), activity(OFF_TOPIC))
    card = card_of(message)
    container = card["body"][0]
    assert container["type"] == "Container" and container["style"] == "attention"
    heading = container["items"][0]
    assert heading["color"] == "Attention" and "(no_evidence)" in heading["text"]
    assert "Sources" not in [b.get("text") for b in card["body"]]


def test_feedback_submit_is_stored(teams: Callable[..., Served], audit: AuditStore) -> None:
    server = teams(IN_CORPUS_REPLY)
    [message] = replies(server, activity(IN_CORPUS))
    data = card_of(message)["actions"][1]["data"]
    [thanks] = replies(server, activity(value=data))
    assert "feedback was recorded" in thanks["text"]
    [fb] = audit.feedback()
    assert fb.helpful is False and fb.interaction_id == data["interaction_id"]


def test_llm_failure_is_one_sentence(teams: Callable[..., Served]) -> None:
    server = teams(GeneratorUnavailableError("cannot reach the LLM server"))
    [message] = replies(server, activity(IN_CORPUS))
    assert "not answering right now" in message["text"] and "Traceback" not in message["text"]


def test_reranker_failure_is_one_sentence(teams: Callable[..., Served], audit: AuditStore) -> None:
    server = teams(IN_CORPUS_REPLY, reranker=FailingReranker())
    [message] = replies(server, activity(IN_CORPUS))
    assert "not available" in message["text"] and str(RERANKER_FAILURE) in message["text"]
    assert not message.get("attachments") and list(audit.interactions()) == []


def test_anonymous_requests_are_refused_unless_allowed(teams: Callable[..., Served]) -> None:
    server = teams(anonymous=False)
    response = httpx.post(f"{server.url}/api/messages", json=activity(IN_CORPUS), timeout=20)
    assert response.status_code == 401
