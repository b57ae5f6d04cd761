"""The embedded model on llama.cpp, the engine CPUs without bf16 hardware get
(``chatbot.llm.cpu``), forced here on whatever CPU runs the tests: it starts
within its budget, keeps answering /health while it writes, and the whole
answering path (sample corpus, packaged embedder, Chroma and SQLite on disk,
the support judge's JSON call) gives cited answers from it."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from chatbot.adapters.openai_generator import OpenAIChatGenerator
from chatbot.adapters.st_embedder import SentenceTransformerEmbedder
from chatbot.compose import Stores, build_pipeline
from chatbot.domain import Answer
from chatbot.llm.cpu import LLAMA_CPP_STARTUP_S
from chatbot.llm.server import EmbeddedServer
from chatbot.protocols import ChatMessage
from chatbot.settings import Settings
from eval.counting import CountingGenerator
from tests.builders import ingested_stores

pytestmark = [pytest.mark.real, pytest.mark.llm, pytest.mark.slow]


@pytest.fixture(scope="module")
def sample_stores(
    tmp_path_factory: pytest.TempPathFactory,
    real_embedder: SentenceTransformerEmbedder,
    repo_root_path: Path,
) -> tuple[Settings, Stores]:
    settings, stores, report = ingested_stores(
        repo_root_path / "corpus", tmp_path_factory.mktemp("index"), real_embedder
    )
    assert report.ok
    return settings, stores


def test_it_starts_within_its_budget_and_names_the_engine(
    llama_cpp_server: EmbeddedServer,
) -> None:
    assert llama_cpp_server.engine == "llama.cpp"
    assert llama_cpp_server.status().ready
    assert llama_cpp_server.startup_timeout_s == LLAMA_CPP_STARTUP_S
    assert "llama.cpp" in llama_cpp_server.describe()


def test_health_answers_while_an_answer_is_written(llama_cpp_server: EmbeddedServer) -> None:
    generator = OpenAIChatGenerator(llama_cpp_server.base_url, "", server="llama.cpp")
    messages = [ChatMessage("user", "Count from one to forty in words, one per line.")]
    writing = threading.Thread(target=lambda: "".join(generator.stream(messages)))
    writing.start()
    try:
        while writing.is_alive():
            # llama-cpp-python's own routes wait for the model's lock; ours must not.
            reply = httpx.get(f"{llama_cpp_server.root_url}/health", timeout=2.0)
            assert reply.status_code == 200
            writing.join(timeout=0.5)
    finally:
        writing.join()


@pytest.mark.parametrize(
    ("question", "source", "page"),
    [
        (
            "How many use cases and banks were in the first cohort of the GenA.I. Sandbox?",
            "hkma-genai-sandbox-overview.pdf",
            2,
        ),
        (
            "Within how many hours must a GenAI incident be reported to the AI Governance Desk?",
            "illustrative-bank-genai-usage-guidance.pdf",
            4,
        ),
    ],
)
def test_a_cited_answer_from_llama_cpp(
    llama_cpp_server: EmbeddedServer,
    sample_stores: tuple[Settings, Stores],
    question: str,
    source: str,
    page: int,
) -> None:
    settings, stores = sample_stores
    generator = CountingGenerator(
        OpenAIChatGenerator(llama_cpp_server.base_url, "", server="llama.cpp", timeout_s=300)
    )
    outcome = build_pipeline(settings, stores=stores, generator=generator).answer(question)
    assert isinstance(outcome, Answer), outcome
    assert (source, page) in {(c.source, c.page) for c in outcome.citations}, outcome
    assert generator.total == (2 if outcome.judge_called else 1)
    cited = " ".join(" ".join(p.chunk.text for p in outcome.cited_passages()).split()).lower()
    assert outcome.short_answer and " ".join(outcome.short_answer.split()).lower() in cited
