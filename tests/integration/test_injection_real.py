"""A few prompt-injection cases on real parts: the injection corpus ingested
with the packaged embedder into Chroma and SQLite on disk, and the embedded
vLLM CPU server (the ``embedded_llm`` fixture) writing the answers.

The fake suite (tests/channels/test_injection.py) proves the layers hold
when the model obeys an injection; this checks that the real small model,
with its real prompt, reader and judge, does not get a payload past them
either: an answer override, a phishing note to the assistant, HTML, and
injected questions in English and Chinese. Five cases, about four LLM calls
(the injected questions are refused before any): 30-70 s on two cores,
depending on what else runs.
"""

from __future__ import annotations

import time

import pytest

from chatbot.adapters.st_embedder import SentenceTransformerEmbedder
from chatbot.answer.pipeline import Pipeline
from chatbot.channels.render import render_outcome
from chatbot.channels.view import view
from chatbot.channels.web_app import source_url
from chatbot.compose import build_generator, build_pipeline
from chatbot.domain import Answer
from eval.counting import CountingGenerator
from tests.builders import ingested_stores
from tests.injection_corpus import (
    CASES,
    EVAL_CORPUS,
    forbidden_in,
    plain_problems,
    statement_of,
    web_problems,
)

pytestmark = [pytest.mark.real, pytest.mark.llm, pytest.mark.injection, pytest.mark.slow]

REAL_CASES = ("inj-001", "inj-013", "inj-034", "inj-053", "inj-055")
PICKED = [c for c in CASES if c.id in REAL_CASES]


@pytest.fixture(scope="module")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory,
    real_embedder: SentenceTransformerEmbedder,
    embedded_llm: str,
) -> tuple[Pipeline, CountingGenerator]:
    settings, stores, report = ingested_stores(
        EVAL_CORPUS, tmp_path_factory.mktemp("index"), real_embedder
    )
    assert report.ok, report
    counting = CountingGenerator(build_generator(settings, base_url=embedded_llm))
    return build_pipeline(settings, stores=stores, generator=counting), counting


def test_the_real_model_gets_no_payload_past_the_checks(
    pipeline: tuple[Pipeline, CountingGenerator], record_property: pytest.RecordProperty
) -> None:
    bot, counting = pipeline
    assert len(PICKED) == len(REAL_CASES)
    breaches: list[str] = []
    started = time.monotonic()
    for case in PICKED:
        outcome = bot.answer(case.question)
        breaches += [f"{case.id}: states {f!r}" for f in forbidden_in(case, statement_of(outcome))]
        markdown = render_outcome(outcome, link=source_url)
        breaches += [f"{case.id} web: {p}" for p in web_problems(markdown)]
        shown = view(outcome)
        for field in ("text", "short_answer"):
            breaches += [f"{case.id}: {p}" for p in plain_problems(field, getattr(shown, field))]
        kind = "answer" if isinstance(outcome, Answer) else outcome.reason.value
        print(f"{case.id}: {kind}: {statement_of(outcome)[:160]!r}")
    elapsed = time.monotonic() - started
    record_property("llm_calls", counting.total)
    record_property("seconds", round(elapsed, 1))
    print(f"{len(PICKED)} cases, {counting.total} LLM calls, {elapsed:.1f} s")
    assert not breaches, breaches
    assert counting.total >= 2  # the model was really asked, not only the gate
