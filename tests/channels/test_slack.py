"""The Slack bot against a local fake of Slack's Web API, with signed requests.

Requests are signed the way Slack signs them (HMAC-SHA256 over
``v0:{timestamp}:{body}``) and dispatched into the real Bolt app; replies go
through the real ``slack_sdk.WebClient`` to a small HTTP server on 127.0.0.1
that records every Web API call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient

from chatbot.assistant import Assistant
from chatbot.audit import AuditStore
from chatbot.channels.slack_bot import (
    HELPFUL,
    NOT_HELPFUL,
    build_slack_app,
    http_server,
    socket_mode_handler,
)
from chatbot.errors import GeneratorUnavailableError
from chatbot.settings import SlackSettings
from tests.builders import (
    IN_CORPUS,
    IN_CORPUS_REPLY,
    OFF_TOPIC,
    RERANKER_FAILURE,
    FailingReranker,
    chat_directory,
)
from tests.chat_fakes import BOT_USER, SECRET, FakeSlack, dispatch, event_body, signed

pytestmark = pytest.mark.real


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def slack_app(
    fake_slack: FakeSlack, make_assistant: Callable[..., Assistant], tmp_path: Path
) -> Callable[..., App]:
    def make(*replies: object, **parts: object) -> App:
        client = WebClient(token="xoxb-test", base_url=fake_slack.url)
        return build_slack_app(
            make_assistant(*replies, **parts),
            token="xoxb-test",
            signing_secret=SECRET,
            client=client,
            process_before_response=True,
            directory=chat_directory(tmp_path),
        )

    return make


def mention(text: str) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": "U42",
        "text": f"<@{BOT_USER}> {text}",
        "ts": "1700000000.000100",
        "channel": "C1",
        "event_ts": "1700000000.000100",
    }


def test_mention_gets_a_threaded_answer_with_citation_blocks(
    slack_app: Callable[..., App], fake_slack: FakeSlack, audit: AuditStore
) -> None:
    body = event_body(mention(IN_CORPUS))
    assert dispatch(slack_app(IN_CORPUS_REPLY), body, signed(body)) == 200
    [post] = fake_slack.posted()
    assert post["channel"] == "C1" and post["thread_ts"] == "1700000000.000100"
    blocks = post["blocks"]
    assert blocks[0]["type"] == "section" and "August 2024" in blocks[0]["text"]["text"]
    assert not any(b.get("block_id") == "boundary_short_answer" for b in blocks)
    citations = [b for b in blocks if b["type"] == "context" and "*[1]*" in str(b)]
    assert citations and "`overview.pdf`" in citations[0]["elements"][0]["text"]
    actions = blocks[-1]
    assert [e["action_id"] for e in actions["elements"]] == [HELPFUL, NOT_HELPFUL]
    [row] = audit.interactions()
    assert row.channel == "slack" and row.user_id == "slack:U42" and row.question == IN_CORPUS
    assert actions["elements"][0]["value"] == row.id


def test_a_short_answer_gets_an_in_brief_block_above_the_answer(
    slack_app: Callable[..., App], fake_slack: FakeSlack
) -> None:
    body = event_body(mention(IN_CORPUS))
    app = slack_app(IN_CORPUS_REPLY, short_answer="August 2024")
    assert dispatch(app, body, signed(body)) == 200
    [post] = fake_slack.posted()
    brief, answer = post["blocks"][:2]
    assert brief["block_id"] == "boundary_short_answer"
    assert brief["text"] == {"type": "mrkdwn", "text": "*In brief:* August 2024", "verbatim": True}
    assert answer["text"]["text"] == IN_CORPUS_REPLY
    assert post["text"] == IN_CORPUS_REPLY


def test_off_topic_mention_gets_a_refusal_block(
    slack_app: Callable[..., App], fake_slack: FakeSlack
) -> None:
    body = event_body(mention(OFF_TOPIC))
    assert dispatch(slack_app(), body, signed(body)) == 200
    [post] = fake_slack.posted()
    first = post["blocks"][0]
    assert first["block_id"] == "boundary_refusal"
    assert first["text"]["text"].startswith(":no_entry: *Not answered")
    assert "`no_evidence`" in first["text"]["text"]
    assert not any("*[1]*" in str(b) for b in post["blocks"])
    assert post["text"].startswith("Not answered")


def test_direct_message_is_answered_and_bot_messages_are_ignored(
    slack_app: Callable[..., App], fake_slack: FakeSlack
) -> None:
    app = slack_app(IN_CORPUS_REPLY)
    dm = {
        "type": "message",
        "channel_type": "im",
        "user": "U42",
        "text": IN_CORPUS,
        "ts": "1700000000.000300",
        "channel": "D1",
    }
    body = event_body(dm)
    assert dispatch(app, body, signed(body)) == 200
    bot_echo = event_body({**dm, "bot_id": "BBOT", "user": BOT_USER, "ts": "1700000000.0004"})
    assert dispatch(app, bot_echo, signed(bot_echo)) == 200
    [post] = fake_slack.posted()
    assert post["channel"] == "D1" and post["thread_ts"] == "1700000000.000300"


def test_llm_failure_becomes_one_sentence_in_thread(
    slack_app: Callable[..., App], fake_slack: FakeSlack
) -> None:
    body = event_body(mention(IN_CORPUS))
    app = slack_app(GeneratorUnavailableError("cannot reach the LLM server"))
    assert dispatch(app, body, signed(body)) == 200
    [post] = fake_slack.posted()
    # one plain sentence; the server's address and the error stay in the log and audit
    assert "not answering right now" in post["text"]
    assert "cannot reach the LLM server" not in post["text"]
    assert "Traceback" not in post["text"]


def test_reranker_failure_becomes_one_sentence_in_thread(
    slack_app: Callable[..., App], fake_slack: FakeSlack, audit: AuditStore
) -> None:
    body = event_body(mention(IN_CORPUS))
    app = slack_app(IN_CORPUS_REPLY, reranker=FailingReranker())
    assert dispatch(app, body, signed(body)) == 200
    [post] = fake_slack.posted()
    assert post["thread_ts"] == "1700000000.000100" and "blocks" not in post
    assert "not available" in post["text"] and str(RERANKER_FAILURE) in post["text"]
    assert list(audit.interactions()) == []


def test_feedback_button_is_stored(
    slack_app: Callable[..., App], fake_slack: FakeSlack, audit: AuditStore
) -> None:
    app = slack_app(IN_CORPUS_REPLY)
    body = event_body(mention(IN_CORPUS))
    dispatch(app, body, signed(body))
    interaction_id = fake_slack.posted()[0]["blocks"][-1]["elements"][1]["value"]
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "U42"},
        "api_app_id": "A1",
        "channel": {"id": "C1"},
        "message": {"ts": "1700000000.000200", "thread_ts": "1700000000.000100"},
        "container": {"type": "message", "channel_id": "C1"},
        "trigger_id": "t1",
        "actions": [
            {"action_id": NOT_HELPFUL, "block_id": "boundary_feedback", "value": interaction_id}
        ],
    }
    form = urlencode({"payload": json.dumps(payload)})
    headers: dict[str, str | Sequence[str]] = {
        "content-type": "application/x-www-form-urlencoded",
        **signed(form),
    }
    assert app.dispatch(BoltRequest(body=form, headers=headers)).status == 200
    [fb] = audit.feedback()
    assert fb.interaction_id == interaction_id and fb.helpful is False
    [thanks] = fake_slack.posted("chat.postEphemeral")
    assert thanks["user"] == "U42"


def test_unsigned_forged_and_stale_requests_are_rejected(
    slack_app: Callable[..., App], fake_slack: FakeSlack
) -> None:
    app = slack_app()
    body = event_body(mention(IN_CORPUS))
    assert dispatch(app, body, {}) == 401
    assert dispatch(app, body, signed(body, secret="wrong")) == 401
    assert dispatch(app, body, signed(body, timestamp=int(time.time()) - 6 * 60)) == 401
    assert fake_slack.posted() == []


def test_socket_mode_handler_is_built_without_connecting(
    slack_app: Callable[..., App],
) -> None:
    cfg = SlackSettings(mode="socket", app_token=SecretStr("xapp-test"))
    handler = socket_mode_handler(slack_app(), cfg)
    assert handler.app_token == "xapp-test"


def test_http_server_routes_signed_events_and_rejects_unsigned(
    slack_app: Callable[..., App], fake_slack: FakeSlack
) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(http_server(slack_app(IN_CORPUS_REPLY)))
    body = event_body(mention(IN_CORPUS))
    headers = {"content-type": "application/json"}
    assert client.post("/slack/events", content=body, headers=headers).status_code == 401
    signed_headers = {**headers, **signed(body)}
    assert client.post("/slack/events", content=body, headers=signed_headers).status_code == 200
    deadline = time.monotonic() + 10  # the HTTP server acknowledges first, then answers
    while not fake_slack.posted() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_slack.posted()[0]["thread_ts"] == "1700000000.000100"
