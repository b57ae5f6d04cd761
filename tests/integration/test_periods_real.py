"""Periods and versions end to end on real parts: dated and versioned
documents ingested with the packaged embedder into Chroma and SQLite, answered
by the embedded vLLM server."""

from __future__ import annotations

import pytest

from chatbot.adapters.st_embedder import SentenceTransformerEmbedder
from chatbot.answer.pipeline import Pipeline
from chatbot.compose import build_generator, build_pipeline
from chatbot.domain import Answer
from tests.builders import ingested_stores

pytestmark = [pytest.mark.real, pytest.mark.llm, pytest.mark.slow]

CHAPTER = (
    "# Banking Stability\n\n## Asset quality\n\nThe classified loan ratio of the banking "
    "sector rose to {ratio} at the end of the year, from a lower level a year earlier, as "
    "asset quality weakened in the commercial real estate sector.\n"
)
POLICY = (
    "# Credit policy\n\n## Unsecured lending\n\nThe maximum unsecured lending limit for a "
    "single retail customer is {limit}. Loans above the limit need the approval of the Chief "
    "Credit Officer.\n"
)
RULES = """
[[documents]]
match = "policies/credit-policy-v*.md"
title = "Credit policy"
edition = "Credit policy"

[[documents]]
match = "policies/credit-policy-v1.md"
version = "1"
effective = "2021-01-01"

[[documents]]
match = "policies/credit-policy-v2.md"
version = "2"
effective = "2024-07-01"
"""


@pytest.fixture(scope="module")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory,
    real_embedder: SentenceTransformerEmbedder,
    embedded_llm: str,
) -> Pipeline:
    corpus = tmp_path_factory.mktemp("corpus")
    for year, ratio in (("2022", "1.40%"), ("2023", "1.57%"), ("2024", "1.96%")):
        (corpus / year).mkdir()
        (corpus / year / "banking.md").write_text(CHAPTER.format(ratio=ratio), encoding="utf-8")
    (corpus / "policies").mkdir()
    for version, limit in (("1", "HK$1 million"), ("2", "HK$2 million")):
        (corpus / "policies" / f"credit-policy-v{version}.md").write_text(
            POLICY.format(limit=limit), encoding="utf-8"
        )
    (corpus / "documents.toml").write_text(RULES, encoding="utf-8")
    settings, stores, report = ingested_stores(
        corpus, tmp_path_factory.mktemp("index"), real_embedder
    )
    assert report.added == 5
    generator = build_generator(settings, base_url=embedded_llm)
    return build_pipeline(settings, stores=stores, generator=generator)


def test_the_asked_years_figure_cited_to_that_years_report(pipeline: Pipeline) -> None:
    outcome = pipeline.answer("What was the classified loan ratio at the end of 2023?")
    assert isinstance(outcome, Answer), outcome
    assert "1.57%" in outcome.text and "1.96%" not in outcome.text, outcome.text
    assert {c.passage.chunk.context.period for c in outcome.citations} == {"2023"}
    assert "Banking Stability · 2023" in outcome.citations[0].passage.location()


def test_the_version_in_force_answers_and_an_older_one_when_named(pipeline: Pipeline) -> None:
    current = pipeline.answer("What is the maximum unsecured lending limit for a retail customer?")
    assert isinstance(current, Answer), current
    assert "HK$2 million" in current.text and "HK$1 million" not in current.text
    assert {c.passage.chunk.context.version for c in current.citations} == {"2"}
    older = pipeline.answer(
        "What was the maximum unsecured lending limit for a retail customer in version 1?"
    )
    assert isinstance(older, Answer), older
    assert "HK$1 million" in older.text and "HK$2 million" not in older.text
    assert "version 1" in older.citations[0].passage.location()
