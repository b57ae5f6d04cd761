"""The Generator / JsonGenerator contract (chatbot.protocols), run against the
scripted fake and, marked real and llm, against the OpenAI-compatible adapter
on the embedded server (vLLM or llama.cpp, as this CPU's profile chooses) and
on llama.cpp forced (the engine of CPUs without bf16 hardware)."""

from __future__ import annotations

from typing import Any

import pytest

from chatbot.errors import GeneratorError
from chatbot.protocols import ChatMessage, Generator, JsonGenerator
from tests.fakes_llm import ScriptedGenerator

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
MESSAGES = [
    ChatMessage("system", "Answer in as few words as possible."),
    ChatMessage("user", "Which city is the capital of France? Reply with its name only."),
]


REAL = [pytest.mark.real, pytest.mark.llm]


@pytest.fixture(
    params=["fake", pytest.param("real", marks=REAL), pytest.param("llama.cpp", marks=REAL)]
)
def generator(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return ScriptedGenerator("Paris.", json_replies=[{"city": "Paris"}])
    from chatbot.adapters.openai_generator import OpenAIChatGenerator
    from chatbot.compose import build_generator
    from chatbot.settings import Settings

    if request.param == "llama.cpp":
        server = request.getfixturevalue("llama_cpp_server")
        return OpenAIChatGenerator(server.base_url, "", server="llama.cpp", max_tokens=64)
    base_url: str = request.getfixturevalue("embedded_llm")
    return build_generator(Settings(), base_url=base_url)


class TestGeneratorContract:
    def test_it_names_its_model(self, generator: Generator) -> None:
        assert isinstance(generator.model_name, str) and generator.model_name

    def test_stream_yields_text_deltas_only(self, generator: Generator) -> None:
        deltas = list(generator.stream(MESSAGES))
        assert deltas and all(isinstance(d, str) for d in deltas)
        assert "paris" in "".join(deltas).lower()

    def test_json_call_returns_an_object(self, generator: Generator) -> None:
        assert isinstance(generator, JsonGenerator)
        value = generator.complete_json(MESSAGES, SCHEMA, name="capital", max_tokens=24)
        assert isinstance(value, dict) and str(value.get("city", "")).lower() == "paris"

    def test_a_reply_cut_off_is_an_output_error_not_text(self, generator: Generator) -> None:
        if isinstance(generator, ScriptedGenerator):
            generator.json_replies[:] = ['{"city": "Pa']  # what a cut-off reply looks like
        assert isinstance(generator, JsonGenerator)
        with pytest.raises(GeneratorError):
            generator.complete_json(MESSAGES, SCHEMA, name="capital", max_tokens=2)
