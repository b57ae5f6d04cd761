"""The answer flow with dated and versioned documents: periods in retrieval,
the prompt, verification and the uncovered-period refusal (fakes only)."""

from __future__ import annotations

from dataclasses import replace

from chatbot.answer.pipeline import Pipeline
from chatbot.answer.verify import verify
from chatbot.domain import Answer, DocumentContext, Passage, Refusal, RefusalReason
from tests.builders import make_chunk, pipeline_over_chunks
from tests.fakes_llm import ScriptedGenerator

RATIO = "The classified loan ratio of the banking sector was {} at the end of the year."


def reports(generator: ScriptedGenerator) -> Pipeline:
    chunks = [
        replace(
            make_chunk(i, f"{year}/banking.md", None, RATIO.format(ratio)),
            title="Banking Stability",
            context=DocumentContext(label=f"Banking Stability · {year}", period=year),
        )
        for i, (year, ratio) in enumerate((("2023", "1.56%"), ("2024", "1.96%")))
    ]
    return pipeline_over_chunks(chunks, generator, with_periods=True)


def test_a_year_no_document_covers_is_refused_before_any_llm_call() -> None:
    generator = ScriptedGenerator()
    outcome = reports(generator).answer("What was the classified loan ratio in 2012?")
    assert isinstance(outcome, Refusal)
    assert outcome.reason is RefusalReason.PERIOD_NOT_COVERED and not outcome.llm_called
    assert "2023–2024" in outcome.message and "2012" in outcome.message
    assert generator.calls == []
    zh = reports(ScriptedGenerator()).answer("2012年的特定分類貸款比率是多少？")
    assert isinstance(zh, Refusal) and "2023–2024年" in zh.message


def test_the_asked_year_ranks_first_is_labelled_and_counts_as_stated() -> None:
    generator = ScriptedGenerator("The classified loan ratio was 1.96% in 2024 [1].")
    outcome = reports(generator).answer("What was the classified loan ratio in 2024?")
    prompt = generator.calls[0][-1].content
    assert prompt.index("[1] (Banking Stability · 2024)") < prompt.index("Banking Stability · 2023")
    assert isinstance(outcome, Answer), outcome
    assert outcome.citations[0].passage.chunk.context.period == "2024"


def test_another_years_figure_under_the_asked_year_is_refused() -> None:
    # The model cites the 2023 passage but writes 2024: 2024 is not stated there.
    generator = ScriptedGenerator("The classified loan ratio was 1.56% in 2024 [2].")
    outcome = reports(generator).answer("What was the classified loan ratio in 2024?")
    assert isinstance(outcome, Refusal) and outcome.reason is RefusalReason.UNSUPPORTED


def test_a_heading_number_does_not_license_a_figure() -> None:
    chunk = replace(
        make_chunk(0, "guide.md", None, "Staff must report incidents within a day."),
        section="Chapter 3",
        context=DocumentContext(label="Guide", period="2024"),
    )
    shown = [Passage(chunk, 1.0)]
    ok = verify("Staff must report incidents within a day in 2024 [1].", shown, 0.5)
    assert ok.failure is None
    bad = verify("Staff must report 3 incidents within a day [1].", shown, 0.5)
    assert bad.failure is RefusalReason.UNSUPPORTED


def test_only_the_version_in_force_reaches_the_prompt() -> None:
    chunks = [
        replace(
            make_chunk(i, f"credit-v{v}.md", None, f"The unsecured lending limit is {limit}."),
            context=DocumentContext(
                label=f"Credit policy · version {v}",
                version=v,
                effective=eff,
                edition="Credit policy",
            ),
        )
        for i, (v, limit, eff) in enumerate(
            (("1", "HK$1 million", "2020-01-01"), ("2", "HK$2 million", "2024-01-01"))
        )
    ]
    generator = ScriptedGenerator("The unsecured lending limit is HK$2 million [1].")
    outcome = pipeline_over_chunks(chunks, generator).answer("What is the unsecured lending limit?")
    prompt = generator.calls[0][-1].content
    assert "version 2" in prompt and "HK$1 million" not in prompt
    assert isinstance(outcome, Answer) and "version 2" in outcome.citations[0].passage.location()
    older = ScriptedGenerator("The unsecured lending limit was HK$1 million [1].")
    pipeline_over_chunks(chunks, older).answer("What was the lending limit in version 1?")
    assert "HK$1 million" in older.calls[0][-1].content
    assert "HK$2 million" not in older.calls[0][-1].content
