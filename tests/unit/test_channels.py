"""Rendering, the web chat turn, feedback, corpus admin and the combined web app,
on fakes: answers and refusals never look alike, an answer's short answer is
shown "in brief" only when there is one, drafts are marked unverified, faults
(LLM, embedder, reranker) become one sentence, every turn is audited as "web",
and only indexed files inside the corpus folder can be opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chatbot.access import PUBLIC
from chatbot.adapters.sqlite_audit import SqliteAuditStore
from chatbot.admin import CorpusAdmin
from chatbot.audit import AuditStore
from chatbot.channels.admin_ui import report_markdown, status_markdown
from chatbot.channels.gradio_ui import chat_turn, give_feedback
from chatbot.channels.i18n import text
from chatbot.channels.render import reason_label, render_answer, render_outcome, render_refusal
from chatbot.channels.view import view
from chatbot.channels.web_app import create_web_app, source_url
from chatbot.domain import Answer, Citation, Passage, Refusal, RefusalReason
from chatbot.errors import GeneratorUnavailableError
from chatbot.messages import refusal_message
from chatbot.settings import IngestSettings
from ingest.sync import Ingestor
from tests.builders import (
    EMBEDDER_FAILURE,
    IN_CORPUS,
    IN_CORPUS_REPLY,
    LOOPBACK,
    RERANKER_FAILURE,
    TEXTS,
    FailingEmbedder,
    FailingReranker,
    asker,
    assistant_with,
    local_access,
    make_chunk,
)
from tests.fakes import HashEmbedder, InMemoryKeywordIndex, InMemoryVectorIndex

REPLY = IN_CORPUS_REPLY


@pytest.fixture
def audit(tmp_path: Path) -> AuditStore:
    return SqliteAuditStore(tmp_path / "audit.sqlite3")


def overview_passage() -> Passage:
    return Passage(make_chunk(1, *TEXTS[1]), 0.1, 0.6, 2.0)


# -- rendering --------------------------------------------------------------


def test_answer_shows_citations_with_title_page_path_quote_and_link() -> None:
    passage = overview_passage()
    answer = Answer("It had 15 use cases [1].", (Citation(1, passage),), (passage,), "m")
    text_ = render_answer(answer, link=source_url)
    assert "**Sources**" in text_ and "p. 2" in text_ and "`overview.pdf`" in text_
    assert "(/sources/overview.pdf#page=2)" in text_
    assert "> The first cohort brought together 15 use cases" in text_
    assert "Not answered" not in text_
    assert "**來源**" in render_answer(answer, "zh")


def test_a_quoted_passage_starting_with_a_number_is_not_a_list() -> None:
    chunk = make_chunk(9, "overview.pdf", 2, "4. The first cohort had 15 use cases.")
    passage = Passage(chunk, 0.1, 0.6, 2.0)
    answer = Answer("15 use cases [1].", (Citation(1, passage),), (passage,), "m")
    assert "> 4\\. The first cohort" in render_answer(answer)


def test_a_short_answer_is_shown_in_brief_above_the_cited_answer() -> None:
    passage = overview_passage()
    answer = Answer(
        "It had 15 use cases [1].",
        (Citation(1, passage),),
        (passage,),
        "m",
        short_answer="15 use cases",
    )
    text_ = render_answer(answer)
    assert text_.startswith("**In brief:** 15 use cases\n\nIt had 15 use cases [1].")
    assert text_.index("In brief") < text_.index("**Sources**")
    assert render_answer(answer, "zh").startswith("**簡要答案:** 15 use cases\n\n")
    shown = view(answer)
    assert shown.short_answer == "15 use cases" and shown.text == "It had 15 use cases [1]."


def test_a_short_answer_is_shown_literally_not_as_markdown() -> None:
    passage = overview_passage()
    answer = Answer("x [1].", (Citation(1, passage),), (passage,), "m", short_answer="*15* [use]")
    assert render_answer(answer).startswith("**In brief:** \\*15\\* \\[use\\]\n")


@pytest.mark.parametrize("missing", [None, "", "   "])
def test_no_short_answer_means_no_in_brief_line(missing: str | None) -> None:
    passage = overview_passage()
    answer = Answer("15 use cases [1].", (Citation(1, passage),), (passage,), "m")
    answer_with = Answer(
        "15 use cases [1].", (Citation(1, passage),), (passage,), "m", short_answer=missing
    )
    assert render_answer(answer_with) == render_answer(answer)
    assert render_answer(answer_with).startswith("15 use cases [1].")
    assert "In brief" not in render_answer(answer_with)
    assert "簡要答案" not in render_answer(answer_with, "zh")
    assert view(answer_with).short_answer is None
    refusal = Refusal(RefusalReason.NO_EVIDENCE, "I can't find this.")
    assert view(refusal).short_answer is None
    assert "In brief" not in render_outcome(refusal)


def test_refusal_is_marked_with_reason_suggestion_and_is_not_an_answer() -> None:
    refusal = Refusal(RefusalReason.NO_EVIDENCE, "I can't find this.")
    text_ = render_refusal(refusal, topics=["Sandbox Overview", "Usage Guidance"])
    assert text_.startswith("🚫 **Not answered") and "`no_evidence`" in text_
    assert "rephrasing" in text_ and "*Sandbox Overview*; *Usage Guidance*" in text_
    assert "**Sources**" not in text_
    zh = render_outcome(refusal, "zh")
    assert "文件中沒有相關內容" in zh and "未作答" in zh
    assert reason_label(RefusalReason.UNSUPPORTED, "zh") == "答案未獲來源支持"


def test_invalid_question_gets_no_topic_hint() -> None:
    refusal = Refusal(RefusalReason.INVALID_QUESTION, "Please type a question.")
    assert "rephrasing" not in render_refusal(refusal, topics=["Anything"])


@pytest.mark.parametrize("reason", list(RefusalReason))
def test_every_reason_has_a_label_and_a_message_in_both_languages(reason: RefusalReason) -> None:
    labels = {reason_label(reason, "en"), reason_label(reason, "zh")}
    values = {"limit": 10, "covered": "2015–2024", "asked": "2012"}
    messages = {refusal_message(reason, "en", **values), refusal_message(reason, "zh", **values)}
    assert len(labels) == 2 and len(messages) == 2 and all(labels | messages)


def test_out_of_scope_lists_topics_but_no_rephrasing_hint_or_passages() -> None:
    passage = Passage(make_chunk(1, "overview.pdf", 1, "It opened in 2024."), 0.1, 0.2, 1.0)
    refusal = Refusal(RefusalReason.OUT_OF_SCOPE, "I only answer...", (passage,))
    text_ = render_refusal(refusal, topics=["Sandbox Overview"])
    assert "(`out_of_scope`)" in text_ and "*Sandbox Overview*" in text_
    assert "rephrasing" not in text_ and "overview.pdf" not in text_
    assert view(refusal).sources == ()
    weak = render_refusal(Refusal(RefusalReason.WEAK_EVIDENCE, "Probably not here.", (passage,)))
    assert "(`weak_evidence`)" in weak and "rephrasing" in weak and "overview.pdf" in weak


# -- the chat turn ----------------------------------------------------------


def test_turn_streams_drafts_then_the_verified_answer_and_audits_it(audit: AuditStore) -> None:
    turns = list(
        chat_turn(
            assistant_with(audit, REPLY), IN_CORPUS, [], principal=asker(), conversation_id="c1"
        )
    )
    contents = [t.history[-1]["content"] for t in turns]
    assert any("not yet checked" in c and "boundary-draft" in c for c in contents[1:-1])
    final = turns[-1]
    assert final.final and final.interaction_id is not None
    assert "boundary-answer" in contents[-1] and "**Sources**" in contents[-1]
    assert "not yet checked" not in contents[-1]
    assert final.history[0] == {"role": "user", "content": IN_CORPUS}
    row = audit.get(final.interaction_id)
    assert row is not None and row.channel == "web" and row.conversation_id == "c1"
    assert row.decision == "answer"


def test_turn_shows_the_judges_short_answer_above_the_answer(audit: AuditStore) -> None:
    assistant = assistant_with(audit, REPLY, short_answer="August 2024")
    final = list(chat_turn(assistant, IN_CORPUS, [], principal=asker()))[-1]
    content = final.history[-1]["content"]
    assert content.startswith('<div class="boundary-answer">')
    assert "**In brief:** August 2024" in content
    assert content.index("**In brief:** August 2024") < content.index(REPLY)
    plain = list(chat_turn(assistant_with(audit, REPLY), IN_CORPUS, [], principal=asker()))[-1]
    assert "In brief" not in plain.history[-1]["content"]


def test_turn_renders_refusal_with_topics_without_calling_the_llm(audit: AuditStore) -> None:
    assistant = assistant_with(audit)
    turns = list(
        chat_turn(
            assistant,
            "Who won the 2022 FIFA World Cup?",
            [],
            principal=asker(),
            topics=lambda _: ["Overview"],
        )
    )
    last = turns[-1].history[-1]["content"]
    assert "boundary-refusal" in last and "🚫" in last and "*Overview*" in last
    assert turns[-1].interaction_id is not None
    assert assistant.pipeline.generator.calls == []  # type: ignore[attr-defined]


def test_turn_turns_a_dead_llm_into_one_sentence(audit: AuditStore) -> None:
    dead = GeneratorUnavailableError("cannot reach the LLM server")
    turns = list(chat_turn(assistant_with(audit, dead), IN_CORPUS, [], principal=asker()))
    last = turns[-1].history[-1]["content"]
    # the person asking gets a plain sentence; the technical message goes to the audit
    assert "not answering right now" in last and "cannot reach the LLM server" not in last
    assert "Traceback" not in last and turns[-1].interaction_id is None
    (failure,) = audit.failures()
    assert failure.kind == "llm_unavailable" and failure.channel == "web"
    assert failure.message == "cannot reach the LLM server" and failure.question == IN_CORPUS


@pytest.mark.parametrize(
    ("parts", "failure"),
    [
        ({"embedder": FailingEmbedder()}, EMBEDDER_FAILURE),
        ({"reranker": FailingReranker()}, RERANKER_FAILURE),
    ],
    ids=["embedder", "reranker"],
)
def test_turn_turns_a_retrieval_failure_into_one_sentence(
    audit: AuditStore, parts: dict[str, object], failure: Exception
) -> None:
    assistant = assistant_with(audit, REPLY, **parts)  # type: ignore[arg-type]
    final = list(chat_turn(assistant, IN_CORPUS, [], principal=asker()))[-1]
    last = final.history[-1]["content"]
    assert last.startswith('<div class="boundary-error">')
    assert f"**{text('unavailable')}** {failure}" in last
    assert "Traceback" not in last and final.final and final.interaction_id is None
    assert assistant.pipeline.generator.calls == []  # type: ignore[attr-defined]
    assert list(audit.interactions()) == []


def test_feedback_is_stored_against_the_interaction(audit: AuditStore) -> None:
    assistant = assistant_with(audit, REPLY)
    interaction_id = list(chat_turn(assistant, IN_CORPUS, [], principal=asker()))[-1].interaction_id
    said = give_feedback(assistant, interaction_id, False, " wrong date ", "en", asker())
    assert said == text("feedback_saved")
    [stored] = audit.feedback()
    assert (stored.interaction_id, stored.helpful, stored.comment) == (
        interaction_id,
        False,
        "wrong date",
    )
    assert give_feedback(assistant, "no-such-id", True, "", "zh", asker()) == text(
        "feedback_unknown", "zh"
    )
    assert give_feedback(assistant, None, True, "", "en", asker()) == text("feedback_off")


# -- corpus admin -----------------------------------------------------------


@pytest.fixture
def admin(tmp_path: Path) -> CorpusAdmin:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "guide.md").write_text("# Card Guide\n\nLost cards are blocked at once.\n")
    keywords = InMemoryKeywordIndex()
    ingestor = Ingestor(HashEmbedder(), InMemoryVectorIndex(), keywords, IngestSettings())
    made = CorpusAdmin(ingestor, keywords, corpus)
    made.sync()
    return made


def test_uploads_keep_plain_names_of_supported_types_only(
    admin: CorpusAdmin, tmp_path: Path
) -> None:
    temp = tmp_path / "upload.bin"
    temp.write_text("# Fees\n\nNo fee for transfers.\n")
    result = admin.save_uploads([("../../fees.md", temp), ("tool.exe", temp), (".hidden.md", temp)])
    assert result.saved == ("fees.md",)
    assert {r.name for r in result.rejected} == {"tool.exe", ".hidden.md"}
    assert (admin.corpus_dir / "fees.md").is_file()
    assert not (tmp_path.parent / "fees.md").exists()


def test_sync_reports_progress_and_failures(admin: CorpusAdmin) -> None:
    (admin.corpus_dir / "empty.md").write_text("")
    seen: list[tuple[str, int, int]] = []
    report = admin.sync(lambda source, done, total: seen.append((source, done, total)))
    assert seen[-1][1:] == (2, 2)
    assert [f.source for f in report.failed] == ["empty.md"]
    shown = report_markdown(report, "en")
    assert "`empty.md`" in shown and report.failed[0].hint in shown
    assert admin.titles(PUBLIC) == ["Card Guide"]


def test_source_files_are_only_indexed_files_inside_the_corpus(admin: CorpusAdmin) -> None:
    assert admin.source_file("guide.md", PUBLIC) == (admin.corpus_dir / "guide.md").resolve()
    (admin.corpus_dir / "not-indexed.md").write_text("# Later\n\ntext\n")
    assert admin.source_file("not-indexed.md", PUBLIC) is None
    assert admin.source_file("../corpus/guide.md", PUBLIC) is None
    assert admin.source_file("/etc/passwd", PUBLIC) is None


def test_status_shows_counts_models_and_thresholds(admin: CorpusAdmin) -> None:
    shown = status_markdown(admin, assistant_with(None), "en", PUBLIC)
    for expected in ("Documents | 1", "hash-256", "scripted", "dense ≥ 0.05", "support ≥ 0.5"):
        assert expected in shown
    assert "文件" in status_markdown(admin, assistant_with(None), "zh", PUBLIC)


def test_status_lists_what_ingestion_detected_per_document(admin: CorpusAdmin) -> None:
    (admin.corpus_dir / "2024").mkdir()
    (admin.corpus_dir / "2024" / "fees.md").write_text("# Card Fees\n\nThe fee is HKD 500.\n")
    admin.sync()
    shown = status_markdown(admin, assistant_with(None), "en", PUBLIC)
    assert "| `2024/fees.md` | Card Fees · 2024 | 2024 (folder) | — |" in shown
    assert "| `guide.md` | Card Guide | — | — |" in shown


# -- the combined web app ---------------------------------------------------


def test_one_app_serves_ui_api_and_corpus_files(admin: CorpusAdmin, audit: AuditStore) -> None:
    app = create_web_app(
        assistant_with(audit), admin, access=local_access(), examples=["What about lost cards?"]
    )
    with TestClient(app, client=LOOPBACK) as client:
        assert client.get("/health").json() == {"status": "ok", "llm": {"state": "ready"}}
        assert client.get("/v1/index/status").json()["documents"] == 1
        page = client.get("/")
        assert page.status_code == 200 and "gradio" in page.text.lower()
        opened = client.get("/sources/guide.md")
        assert opened.status_code == 200 and "Lost cards" in opened.text
        assert opened.headers["content-disposition"].startswith("inline")
        assert client.get("/sources/../pyproject.toml").status_code == 404
        assert client.get("/sources/%2e%2e/%2e%2e/etc/passwd").status_code == 404


def test_slack_and_teams_label_a_chinese_answer_in_chinese() -> None:
    from chatbot.channels.slack_bot import fallback_text, outcome_blocks
    from chatbot.channels.teams_bot import outcome_card
    from chatbot.channels.view import view

    passage = Passage(
        chunk=make_chunk(0, "overview.pdf", 2, "金管局與數碼港於2024年8月推出沙盒。"),
        fused_score=0.1,
    )
    answer = Answer(
        text="沙盒於2024年8月推出。[1]",
        citations=(Citation(1, passage),),
        passages=(passage,),
        model="scripted",
        short_answer="2024年8月",
    )
    shown = view(answer, "zh")
    slack = str(outcome_blocks(shown, "id-1"))
    teams = str(outcome_card(shown, "id-1"))
    for payload in (slack, teams):
        assert "簡要答案" in payload and "來源" in payload and "第 2 頁" in payload
        assert "有幫助" in payload
        assert "In brief" not in payload and "Sources" not in payload and "p. 2" not in payload
    refusal = Refusal(
        reason=RefusalReason.NO_EVIDENCE,
        message=refusal_message(RefusalReason.NO_EVIDENCE, "zh"),
        passages=(passage,),
    )
    shown = view(refusal, "zh")
    assert "未作答" in fallback_text(shown)
    assert "曾查閱的最接近段落" in str(outcome_blocks(shown, None))
    assert "未作答" in str(outcome_card(shown, None))


def test_chatbot_ask_is_audited_as_the_cli_channel(
    audit: AuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    from click.testing import CliRunner

    import chatbot.assistant as assistant_module
    from chatbot.cli import main as ask_main

    assistant = assistant_with(audit, REPLY)
    monkeypatch.setattr(assistant_module, "build_assistant", lambda _: (assistant, None))
    result = CliRunner().invoke(ask_main, [IN_CORPUS, "Who won the 2022 FIFA World Cup?"])
    assert result.exit_code == 0, result.output
    assert "A: The Sandbox was launched in August 2024" in result.output
    assert "REFUSED (out_of_scope)" in result.output or "REFUSED (" in result.output
    rows = list(audit.interactions())
    assert len(rows) == 2
    assert {r.channel for r in rows} == {"cli"}
    assert {r.user_id for r in rows} == {f"cli:{getpass.getuser()}"}
