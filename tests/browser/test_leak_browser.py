"""The leak suite's browser flow: a signed-in user without the board group
asks for the board's canary in real Chromium, behind a (simulated) sign-on
proxy that adds the identity headers to every request the page makes.

The page must show no canary anywhere (answer, refusal, topic hints, the
signed-in line), hide the Admin tab, and 404 a guessed board source link;
the control is the same flow for a board member, who is shown it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatbot.access import Roles
from chatbot.adapters.sqlite_audit import SqliteAuditStore
from chatbot.admin import CorpusAdmin
from chatbot.answer.pipeline import Pipeline
from chatbot.assistant import Assistant
from chatbot.channels.web_app import create_web_app
from chatbot.channels.web_auth import WebAccess
from chatbot.compose import ingestor_for
from chatbot.settings import AuthSettings, GateSettings
from chatbot.signin import SignIn
from tests.browser.conftest import serve
from tests.builders import ingested_stores
from tests.leak_corpus import LeakyGenerator, forbidden, write_corpus

pytestmark = [pytest.mark.acl, pytest.mark.real]

BOARD_QUESTION = "What is the code name of the acquisition project the board approved?"


@pytest.fixture
def site(tmp_path: Path, real_embedder: Any) -> Iterator[str]:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    settings, stores, report = ingested_stores(corpus, tmp_path / "index", real_embedder)
    assert report.ok
    pipeline = Pipeline(
        stores.embedder,
        stores.vectors,
        stores.keywords,
        LeakyGenerator(),
        settings.retrieval,
        GateSettings(min_dense_score=0.05, min_term_coverage=0.0, judge=False),
    )
    auth = AuthSettings(trusted_proxies=["127.0.0.1"])
    app = create_web_app(
        Assistant(pipeline, SqliteAuditStore(tmp_path / "audit.sqlite3")),
        CorpusAdmin(ingestor_for(stores, settings), stores.keywords, corpus),
        access=WebAccess(SignIn(auth), Roles(auth.admin_group, auth.auditor_group)),
    )
    with serve(app) as url:
        yield url


def page_for(browser: Any, user: str, groups: str) -> Any:
    context = browser.new_context(
        viewport={"width": 1280, "height": 1100},
        extra_http_headers={"X-Forwarded-User": user, "X-Forwarded-Groups": groups},
    )
    return context, context.new_page()


def ask_and_read(page: Any, url: str, question: str) -> str:
    page.goto(url)
    page.locator("#question textarea").wait_for(timeout=30_000)
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.locator(".boundary-answer, .boundary-refusal").last.wait_for(timeout=60_000)
    page.wait_for_timeout(500)  # the final, verified render replaces the draft
    return str(page.content())


def test_a_user_without_the_group_sees_no_canary_in_the_browser(browser: Any, site: str) -> None:
    context, page = page_for(browser, "alice", "")
    try:
        shown = ask_and_read(page, site, BOARD_QUESTION)
        assert "alice" in page.locator("#whoami").inner_text()
        leaked = [c for c in forbidden(()) if c in shown]
        assert not leaked, leaked
        assert page.locator("#admin-tab-button, button:has-text('Admin')").count() == 0
        source = page.request.get(f"{site}/sources/board/minutes.md")
        assert source.status == 404 and not any(c in source.text() for c in forbidden(()))
    finally:
        context.close()

    context, page = page_for(browser, "carol", "board")
    try:  # the control: the same page does show it to a board member
        assert "CANARY-BD-7788-ONYX" in ask_and_read(page, site, BOARD_QUESTION)
    finally:
        context.close()
