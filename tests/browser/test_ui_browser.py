"""The web UI in a real headless Chromium, end to end through the combined server.

A question the corpus answers shows an answer with a citation (title and
page), a question it does not shows a refusal, and a click on "Helpful"
lands in the audit SQLite against that answer. Two wirings: fakes (hash
embedder, in-memory indexes, scripted LLM; runs in every ``make test``) and
the real stack (packaged embedder, Chroma on disk, the embedded LLM).

Set BOUNDARY_SCREENSHOT_DIR to keep screenshots of the answer and the refusal.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from chatbot.adapters.sqlite_audit import SqliteAuditStore
from chatbot.admin import CorpusAdmin
from chatbot.answer.pipeline import Pipeline
from chatbot.assistant import Assistant
from chatbot.channels.web_app import create_web_app
from chatbot.protocols import ChatMessage
from chatbot.settings import GateSettings, IngestSettings, RetrievalSettings, Settings
from ingest.sync import Ingestor
from tests.browser.conftest import REPO_ROOT_CORPUS, serve
from tests.builders import local_access
from tests.fakes import HashEmbedder, InMemoryKeywordIndex, InMemoryVectorIndex
from tests.fakes_llm import ScriptedGenerator
from tests.samples import write_pdf

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.real, pytest.mark.slow]

OVERVIEW_TITLE = "GenAI Sandbox Overview"
OVERVIEW_PAGES = [
    "The HKMA and Cyberport launched the GenA.I. Sandbox in August 2024.",
    "The first cohort brought together 15 use cases from 10 banks, supported by 4 "
    "technology partners, tested at Cyberport's AI Supercomputing Centre.",
]
GUIDANCE = (
    "# Incident Guidance\n\n"
    "Every GenAI incident must be reported to the AI Governance Desk within 24 hours.\n"
)


@dataclass(frozen=True)
class Site:
    url: str
    audit_path: Path


def cite_passage_with(fact: str, sentence: str) -> Callable[[Sequence[ChatMessage]], str]:
    """A scripted LLM reply citing whichever passage number holds ``fact``."""

    def reply(messages: Sequence[ChatMessage]) -> str:
        for block in messages[-1].content.split("\n\n"):
            found = re.match(r"\[(\d+)\]", block)
            if found and fact in block:
                return sentence.format(n=found.group(1))
        return "The passages do not answer this."

    return reply


@pytest.fixture
def fake_site(tmp_path: Path) -> Iterator[Site]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_pdf(corpus / "sandbox-overview.pdf", OVERVIEW_PAGES, title=OVERVIEW_TITLE)
    (corpus / "incident-guidance.md").write_text(GUIDANCE, encoding="utf-8")
    embedder, vectors, keywords = HashEmbedder(), InMemoryVectorIndex(), InMemoryKeywordIndex()
    ingestor = Ingestor(embedder, vectors, keywords, IngestSettings())
    assert ingestor.sync(corpus).ok
    reply = cite_passage_with(
        "15 use cases", "The first cohort had 15 use cases from 10 banks [{n}]."
    )
    pipeline = Pipeline(
        embedder,
        vectors,
        keywords,
        ScriptedGenerator(*[reply] * 5),
        RetrievalSettings(),
        GateSettings(min_dense_score=0.05),
    )
    audit = SqliteAuditStore(tmp_path / "audit.sqlite3")
    app = create_web_app(
        Assistant(pipeline, audit),
        CorpusAdmin(ingestor, keywords, corpus),
        access=local_access(),
        examples=["How many use cases were in the first cohort?"],
    )
    with serve(app) as url:
        yield Site(url, audit.path)


@pytest.fixture
def real_site(
    tmp_path: Path, settings: Settings, real_embedder: object, embedded_llm: str
) -> Iterator[Site]:
    from chatbot.compose import build_generator, build_keyword_index, build_vector_index

    corpus = tmp_path / "corpus"
    shutil.copytree(REPO_ROOT_CORPUS, corpus)
    vectors, keywords = build_vector_index(settings), build_keyword_index(settings)
    ingestor = Ingestor(real_embedder, vectors, keywords, settings.ingest)  # type: ignore[arg-type]
    ingestor.sync(corpus)
    pipeline = Pipeline(
        real_embedder,  # type: ignore[arg-type]
        vectors,
        keywords,
        build_generator(settings, base_url=embedded_llm),
        settings.retrieval,
        settings.gate,
    )
    audit = SqliteAuditStore(tmp_path / "audit.sqlite3")
    app = create_web_app(
        Assistant(pipeline, audit), CorpusAdmin(ingestor, keywords, corpus), access=local_access()
    )
    with serve(app) as url:
        yield Site(url, audit.path)


def ask(page: Page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


def last_reply(page: Page, css_class: str, timeout_s: float) -> Locator:
    reply = page.locator(f".boundary-{css_class}").last
    reply.wait_for(state="visible", timeout=timeout_s * 1000)
    return reply


def keep_screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("BOUNDARY_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def feedback_rows(audit_path: Path) -> list[tuple[str, str, int, str]]:
    with sqlite3.connect(audit_path) as db:
        return db.execute(
            "SELECT i.decision, i.channel, f.helpful, f.comment FROM feedback f "
            "JOIN interactions i ON i.id = f.interaction_id"
        ).fetchall()


def answer_refuse_and_rate(
    page: Page,
    site: Site,
    *,
    in_corpus: str,
    source_title: str,
    off_topic: str,
    timeout_s: float,
) -> None:
    page.goto(site.url)
    page.locator("#question textarea").wait_for(timeout=30_000)

    ask(page, in_corpus)
    answer = last_reply(page, "answer", timeout_s)
    shown = answer.inner_text()
    assert "Sources" in shown and source_title in shown
    assert re.search(r"p\. \d+", shown), shown
    assert answer.locator("a[href^='/sources/']").count() >= 1
    keep_screenshot(page, "ui-answer.png")

    page.locator("#feedback-comment textarea").fill("clear and sourced")
    page.locator("#feedback-up").click()
    page.get_by_text("feedback was recorded").wait_for(timeout=15_000)
    assert feedback_rows(site.audit_path) == [("answer", "web", 1, "clear and sourced")]

    ask(page, off_topic)
    refusal = last_reply(page, "refusal", timeout_s)
    assert "Not answered" in refusal.inner_text()
    keep_screenshot(page, "ui-refusal.png")


def test_chat_answers_refuses_and_stores_feedback_on_fakes(page: Page, fake_site: Site) -> None:
    answer_refuse_and_rate(
        page,
        fake_site,
        in_corpus="How many use cases were in the first cohort?",
        source_title=OVERVIEW_TITLE,
        off_topic="Who won the 2022 FIFA World Cup?",
        timeout_s=30,
    )
    # Gradio's own thumbs under a message rate that message (here: the refusal).
    page.get_by_role("button", name="Dislike", exact=True).last.click()
    page.get_by_text("feedback was recorded").wait_for(timeout=15_000)
    assert ("refusal", "web", 0, "") in feedback_rows(fake_site.audit_path)
    # The cited document opens from the link under the answer.
    link = page.locator(".boundary-answer a[href^='/sources/']").first
    response = page.request.get(fake_site.url + (link.get_attribute("href") or "").split("#")[0])
    assert response.status == 200
    assert page.request.get(fake_site.url + "/sources/../pyproject.toml").status == 404


def test_admin_tab_shows_status_and_indexes_an_upload(
    page: Page, fake_site: Site, tmp_path: Path
) -> None:
    page.goto(fake_site.url)
    page.get_by_role("tab", name="Admin").click()
    status = page.locator("#corpus-status")
    status.get_by_text("Documents").wait_for(timeout=15_000)
    assert "hash-256" in status.inner_text()

    upload = tmp_path / "deposit-protection.md"
    upload.write_text("# Deposit Protection\n\nCovers up to HKD 800,000.\n", encoding="utf-8")
    page.locator("#upload-files input[type=file]").set_input_files(str(upload))
    page.locator("#upload").click()
    report = page.locator("#ingest-report")
    # While it runs, Gradio's progress overlay inside the report also names the
    # file ("Indexing: deposit-protection.md - 100.0%"): wait for the result.
    report.get_by_text("1 added").wait_for(timeout=30_000)
    assert "deposit-protection.md" in report.inner_text()


def test_language_toggle_relabels_the_page_and_chinese_gets_a_chinese_refusal(
    page: Page, fake_site: Site
) -> None:
    page.goto(fake_site.url)
    page.get_by_text("繁體中文").click()
    page.locator("#ask").get_by_text("提問").wait_for(timeout=15_000)
    # the tab labels are updated by the same event, but may render a moment later
    page.get_by_role("tab", name="管理").wait_for(timeout=15_000)
    assert page.get_by_role("tab", name="管理").count() == 1
    assert page.get_by_role("tab", name="Admin").count() == 0
    ask(page, "二零二二年世界盃冠軍是誰？")
    assert "未作答" in last_reply(page, "refusal", 30).inner_text()
    keep_screenshot(page, "ui-chinese.png")


@pytest.mark.llm
def test_chat_on_the_real_stack(page: Page, real_site: Site) -> None:
    answer_refuse_and_rate(
        page,
        real_site,
        in_corpus="How many use cases and banks were in the first cohort?",
        source_title="Sandbox",
        off_topic="Who won the 2022 FIFA World Cup?",
        timeout_s=300,
    )
