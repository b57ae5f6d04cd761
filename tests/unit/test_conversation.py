"""Conversation memory on fakes: follow-ups are rewritten into standalone
questions, and only the standalone question is retrieved for, gated, prompted
and verified, so an earlier in-corpus answer never licenses an off-corpus one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from chatbot.access import Audience
from chatbot.adapters.sqlite_audit import SqliteAuditStore
from chatbot.answer.conversation import (
    CONDENSE_TURNS,
    ConversationMemory,
    Turn,
    clean_rewrite,
    condense,
    condense_messages,
    needs_context,
)
from chatbot.answer.pipeline import Pipeline
from chatbot.answer.prompts import REFUSAL_SENTENCE
from chatbot.assistant import Assistant, _memory_key
from chatbot.domain import Answer, Refusal, RefusalReason
from chatbot.errors import GeneratorTimeoutError
from chatbot.protocols import ChatMessage
from tests.builders import TEXTS, asker, pipeline_over
from tests.fakes_llm import ScriptedGenerator

PHASE_TEXTS = [
    (
        "overview.pdf",
        4,
        "The HKMA announced the second phase of the GenA.I. Sandbox, with a second cohort "
        "of participants, on 28 April 2025.",
    ),
    (
        "overview.pdf",
        4,
        "Together with the second cohort, the HKMA and Cyberport announced a GenAI Sandbox "
        "Co-Creation Lab.",
    ),
]

FIRST = "What is the second phase of the GenA.I. Sandbox?"
FIRST_ANSWER = (
    "The HKMA announced the second phase of the GenA.I. Sandbox, with a second cohort of "
    "participants [1]."
)
HISTORY = (Turn(FIRST, FIRST_ANSWER),)
FOLLOW_UP = "When was it announced?"
CONDENSED = "When was the second phase of the GenA.I. Sandbox announced?"


def make_pipeline(generator: ScriptedGenerator) -> Pipeline:
    return pipeline_over([*TEXTS, *PHASE_TEXTS], generator)


def cite_page_4(messages: Sequence[ChatMessage]) -> str:
    """An answering reply that cites the page-4 passage wherever it was numbered."""
    user = messages[-1].content
    number = next(n for n in range(1, 9) if f"[{n}] (Overview, p. 4)\nThe HKMA announced" in user)
    return f"The HKMA announced the second phase on 28 April 2025 [{number}]."


# -- condense alone ---------------------------------------------------------------


def test_no_history_means_no_llm_call() -> None:
    generator = ScriptedGenerator()
    assert condense(FOLLOW_UP, (), generator) == FOLLOW_UP
    assert generator.calls == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When was it announced?", True),
        ("What about the first cohort?", True),
        ("And the workshops?", True),
        ("How many banks?", True),  # short: may be elliptical
        ("Were those use cases tested at Cyberport's supercomputing centre?", True),
        ("它何時公布？", True),
        ("How many use cases and banks were in the first cohort?", False),
        ("Within how many hours must a GenAI incident be reported to the desk?", False),
    ],
)
def test_needs_context_heuristic(question: str, expected: bool) -> None:
    assert needs_context(question) is expected


def test_self_contained_follow_up_skips_the_llm() -> None:
    generator = ScriptedGenerator()
    question = "How many use cases and banks were in the first cohort?"
    assert condense(question, HISTORY, generator) == question
    assert generator.calls == []


def test_follow_up_prompt_holds_only_the_last_turns_without_citation_markers() -> None:
    history = [Turn(f"Question number {i}?", f"Answer number {i} [1].") for i in range(5)]
    history.append(Turn("Refused question?", None))
    system, user = condense_messages(FOLLOW_UP, history)
    assert "never answer" in system.content and "English" in system.content
    kept = history[-CONDENSE_TURNS:]
    assert all(turn.question in user.content for turn in kept)
    assert "Question number 2?" not in user.content
    assert "Answer number 4." in user.content and "[1]" not in user.content
    assert "Assistant: (no answer)" in user.content
    assert f"Last question: {FOLLOW_UP}" in user.content


def test_chinese_follow_up_asks_for_chinese() -> None:
    system, _ = condense_messages("它何時公布？", HISTORY)
    assert "Traditional Chinese" in system.content


@pytest.mark.parametrize(
    "raw",
    [
        CONDENSED,
        f"Standalone question: {CONDENSED}",
        f'"{CONDENSED}"',
        f"Rewritten question: “{CONDENSED}”",
        f"  {CONDENSED}  \n",
    ],
)
def test_rewrite_is_cleaned_of_quotes_and_prefixes(raw: str) -> None:
    assert clean_rewrite(raw, FOLLOW_UP) == CONDENSED


@pytest.mark.parametrize(
    "raw",
    [
        "",
        '""',
        "???",
        f"{CONDENSED}\nThe second phase was announced on 28 April 2025.",
        "The second phase was announced on 28 April 2025 [1].",
        "The second phase was announced on 28 April 2025.",
        "When " + "really " * 80 + "was the second phase announced?",
        "第二期何時公布？",  # an English question must stay English
    ],
)
def test_garbage_rewrite_is_rejected(raw: str) -> None:
    assert clean_rewrite(raw, FOLLOW_UP) is None


def test_generator_errors_while_condensing_propagate() -> None:
    generator = ScriptedGenerator(GeneratorTimeoutError("the LLM server took longer than 5 s"))
    with pytest.raises(GeneratorTimeoutError):
        condense(FOLLOW_UP, HISTORY, generator)


# -- the pipeline with history -------------------------------------------------------


def test_first_turn_makes_no_condense_call() -> None:
    generator = ScriptedGenerator(cite_page_4)
    outcome = make_pipeline(generator).answer(CONDENSED)
    assert isinstance(outcome, Answer), outcome
    assert len(generator.calls) == 1  # the answer only
    assert outcome.standalone_question is None


def test_follow_up_is_condensed_then_answered_from_its_own_passages() -> None:
    generator = ScriptedGenerator(CONDENSED, cite_page_4)
    outcome = make_pipeline(generator).answer(FOLLOW_UP, HISTORY)
    assert isinstance(outcome, Answer), outcome
    assert outcome.standalone_question == CONDENSED
    assert [(c.source, c.page) for c in outcome.citations] == [("overview.pdf", 4)]
    assert len(generator.calls) == 2
    condense_call, answer_call = generator.calls
    assert FIRST in condense_call[-1].content
    # The answering prompt sees the standalone question and its own passages only.
    answer_prompt = answer_call[-1].content
    assert f"Question: {CONDENSED}" in answer_prompt
    assert FIRST not in answer_prompt and "with a second cohort of participants [1]" not in (
        answer_prompt
    )


def test_off_corpus_follow_up_is_refused_by_the_gate_despite_an_in_corpus_history() -> None:
    generator = ScriptedGenerator("What will the GenA.I. Sandbox's GDP growth be in 2027?")
    outcome = make_pipeline(generator).answer("And what will its GDP growth be in 2027?", HISTORY)
    assert isinstance(outcome, Refusal), outcome
    assert outcome.reason is RefusalReason.NO_EVIDENCE
    assert len(generator.calls) == 1 and not outcome.llm_called  # the condense call only
    assert outcome.standalone_question == "What will the GenA.I. Sandbox's GDP growth be in 2027?"
    assert outcome.evidence is not None and "2027" in outcome.evidence.missing


def test_garbage_condense_output_falls_back_to_the_question() -> None:
    garbage = "Sure! The rewritten question is below.\nWhen was the second phase announced?"
    generator = ScriptedGenerator(garbage, REFUSAL_SENTENCE["en"])
    outcome = make_pipeline(generator).answer(FOLLOW_UP, HISTORY)
    assert outcome.standalone_question == FOLLOW_UP
    assert isinstance(outcome, Refusal) and outcome.reason is RefusalReason.MODEL_DECLINED
    # The answering model saw the question as asked, not the rejected rewrite.
    assert len(generator.calls) == 2
    assert f"Question: {FOLLOW_UP}" in generator.calls[1][-1].content


def test_invalid_follow_up_is_refused_before_condensing() -> None:
    generator = ScriptedGenerator()
    outcome = make_pipeline(generator).answer("   ", HISTORY)
    assert isinstance(outcome, Refusal) and outcome.reason is RefusalReason.INVALID_QUESTION
    assert generator.calls == []


# -- memory and the Assistant ---------------------------------------------------------


def test_memory_keeps_the_last_turns_per_conversation() -> None:
    memory = ConversationMemory(max_turns=5)
    for i in range(7):
        memory.add("c", Turn(f"q{i}", f"a{i}"))
    assert [t.question for t in memory.history("c")] == ["q2", "q3", "q4", "q5", "q6"]
    assert memory.history("other") == ()


def test_memory_drops_the_least_recently_used_conversation() -> None:
    memory = ConversationMemory(max_turns=5, max_conversations=2)
    memory.add("a", Turn("qa", None))
    memory.add("b", Turn("qb", None))
    memory.history("a")  # a is now the most recently used
    memory.add("c", Turn("qc", None))
    assert len(memory) == 2
    assert memory.history("b") == () and memory.history("a") and memory.history("c")


def test_memory_ignores_an_empty_conversation_id() -> None:
    memory = ConversationMemory()
    memory.add("", Turn("q", "a"))
    assert len(memory) == 0 and memory.history("") == ()


def test_assistant_keeps_conversations_apart_and_audits_the_standalone_question(
    tmp_path: Path,
) -> None:
    audit = SqliteAuditStore(tmp_path / "audit.sqlite3")
    generator = ScriptedGenerator(
        cite_page_4,  # conversation a, first turn: no condense call
        CONDENSED,  # conversation a, follow-up: condense...
        cite_page_4,  # ...then answer
    )
    assistant = Assistant(make_pipeline(generator), audit)

    first = assistant.ask(FIRST, channel="api", conversation_id="a", principal=asker())
    assert isinstance(first.outcome, Answer) and len(generator.calls) == 1
    # Conversation b has no history, so its "it" is not rewritten and finds nothing.
    other = assistant.ask(
        "What will its GDP growth be in 2027?",
        channel="api",
        conversation_id="b",
        principal=asker(),
    )
    assert isinstance(other.outcome, Refusal) and len(generator.calls) == 1
    assert other.outcome.standalone_question is None

    follow = assistant.ask(FOLLOW_UP, channel="api", conversation_id="a", principal=asker())
    assert isinstance(follow.outcome, Answer), follow.outcome
    condense_prompt = generator.calls[1][-1].content
    assert FIRST in condense_prompt and "GDP" not in condense_prompt

    key_a, key_b = (_memory_key(c, asker(), Audience.of(asker())) for c in ("a", "b"))
    assert [t.question for t in assistant.memory.history(key_a)] == [FIRST, CONDENSED]
    assert [t.answer_text for t in assistant.memory.history(key_b)] == [None]
    assert follow.interaction_id is not None
    row = audit.get(follow.interaction_id)
    assert row is not None and row.question == FOLLOW_UP
    assert row.standalone_question == CONDENSED and "condense_s" in row.timings

    assistant.forget("a", asker())
    assert assistant.memory.history("a") == ()


def test_assistant_without_conversation_id_has_no_memory() -> None:
    generator = ScriptedGenerator(cite_page_4, cite_page_4)
    assistant = Assistant(make_pipeline(generator), None)
    assistant.ask(CONDENSED, channel="api", principal=asker())
    assistant.ask(CONDENSED, channel="api", principal=asker())
    assert len(generator.calls) == 2 and len(assistant.memory) == 0


def test_audit_store_adds_the_standalone_column_to_an_old_file(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE interactions (id TEXT PRIMARY KEY, timestamp TEXT NOT NULL, "
            "channel TEXT NOT NULL, user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, "
            "question TEXT NOT NULL, decision TEXT NOT NULL, refusal_reason TEXT, "
            "answer_text TEXT NOT NULL, detail TEXT NOT NULL, citations TEXT NOT NULL, "
            "passages TEXT NOT NULL, evidence TEXT, model TEXT NOT NULL, "
            "settings_version TEXT NOT NULL, timings TEXT NOT NULL)"
        )
    db.close()
    store = SqliteAuditStore(path)
    assistant = Assistant(make_pipeline(ScriptedGenerator()), store)
    recorded = assistant.ask("What is the capital of Peru?", channel="api", principal=asker())
    assert recorded.interaction_id is not None
    row = store.get(recorded.interaction_id)
    assert row is not None and row.standalone_question is None


def test_web_chat_says_what_a_follow_up_was_understood_as() -> None:
    from chatbot.channels.gradio_ui import chat_turn

    generator = ScriptedGenerator(cite_page_4, CONDENSED, cite_page_4)
    assistant = Assistant(make_pipeline(generator), None)
    first = list(chat_turn(assistant, FIRST, [], principal=asker(), conversation_id="w"))[-1]
    assert "Understood as" not in first.history[-1]["content"]
    follow = list(
        chat_turn(assistant, FOLLOW_UP, first.history, principal=asker(), conversation_id="w")
    )[-1]
    shown = follow.history[-1]["content"]
    assert "boundary-understood" in shown and "Understood as: When was the second phase" in shown
    assert shown.index("boundary-understood") < shown.index("boundary-answer")


def test_rewrite_that_repeats_an_earlier_question_is_rejected() -> None:
    # Seen with the 1.5B model: "And its population?" came back as the previous question.
    history = (Turn("What is the capital of Peru?", None),)
    generator = ScriptedGenerator("What is the capital of Peru?")
    assert condense("And its population?", history, generator) == "And its population?"
    assert condense(FIRST, HISTORY, ScriptedGenerator(FIRST)) == FIRST  # asked again: fine


def test_chinese_statement_instead_of_a_question_is_rejected() -> None:
    # Seen with the 1.5B model: it answered a Chinese follow-up instead of rewriting it.
    assert clean_rewrite("它同時公布了第二期的生成式人工智能沙盒。", "它同時公布了什麼？") is None
    assert clean_rewrite("第二期同時公布了什麼？", "它同時公布了什麼？") == "第二期同時公布了什麼？"
