"""The shipped answerability reader on real weights: it loads offline from the
package, lets a SQuAD-style answerable question through (trusting the passage
that answers it), and refuses near misses whose key entity or fact the passage
lacks. Antonym near misses ("reforestation" for "deforestation") are not caught
by the shipped weights; see the issue note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.adapters.reader import PACKAGED_READER, TransformerReader, read_config
from chatbot.compose import build_reader
from chatbot.domain import Passage
from chatbot.errors import ReaderError
from chatbot.settings import Settings
from tests.builders import make_chunk

pytestmark = [pytest.mark.real]

PASSAGE = (
    "The Amazon rainforest covers much of the Amazon basin of South America. The basin "
    "encompasses seven million square kilometres, of which five and a half million square "
    "kilometres are covered by the rainforest. The region includes territory belonging to "
    "nine nations; the majority of the forest is contained within Brazil, with 60% of the "
    "rainforest, followed by Peru with 13% and Colombia with 10%."
)
OTHER = (
    "Deforestation is the conversion of forested areas to non-forested areas. The main "
    "sources of deforestation in the Amazon are human settlement and development of the land."
)


@pytest.fixture(scope="module")
def reader() -> TransformerReader:
    return TransformerReader(PACKAGED_READER)


def shown(*texts: str) -> list[Passage]:
    return [Passage(make_chunk(i, "amazon.md", None, t), 0.1) for i, t in enumerate(texts)]


def test_answerable_question_passes_the_reader(reader: TransformerReader) -> None:
    built = build_reader(Settings())
    assert built is not None
    reading = reader.read(
        "Which country holds most of the Amazon rainforest?", shown(OTHER, PASSAGE)
    )
    assert reading.p_answerable >= built[1].reject_below
    # the answering passage, not the deforestation one, is the one it trusts
    assert reading.passage is not None and "Brazil" in reading.passage.chunk.text
    assert reading.per_passage[1] > reading.per_passage[0]


@pytest.mark.parametrize(
    "near_miss",
    [
        "What share of the rainforest lies in Venezuela?",  # entity swap
        "How many square kilometres does the Sahara cover?",  # entity swap
        "When was the Amazon rainforest first mapped?",  # the passage has no date at all
    ],
)
def test_near_misses_fall_below_the_refusal_threshold(
    reader: TransformerReader, near_miss: str
) -> None:
    built = build_reader(Settings())
    assert built is not None
    reading = reader.read(near_miss, shown(OTHER, PASSAGE))
    assert reading.p_answerable < built[1].reject_below, (near_miss, reading)


def test_shipped_files_are_checked_and_described() -> None:
    info = read_config(PACKAGED_READER)  # raises on a checksum mismatch
    assert info["thresholds"]["reject_below"] <= info["thresholds"]["confident_above"]
    assert info["training"], "reader.json must say how the weights were trained"
    assert (PACKAGED_READER / "reader.safetensors").stat().st_size < 40_000_000


def test_corrupt_weights_are_refused_with_the_fix(tmp_path: Path) -> None:
    for name in ("reader.json", "reader.safetensors"):
        (tmp_path / name).write_bytes((PACKAGED_READER / name).read_bytes())
    with (tmp_path / "reader.safetensors").open("r+b") as handle:
        handle.seek(-8, 2)
        handle.write(b"\x00" * 8)
    with pytest.raises(ReaderError, match=r"sha256.*chatbot-train-reader"):
        assert TransformerReader(tmp_path).info
    (tmp_path / "reader.json").write_text(json.dumps({"sha256": "x"}))
    (tmp_path / "reader.safetensors").unlink()
    with pytest.raises(ReaderError, match="CHATBOT_READER__ENABLED=false"):
        read_config(tmp_path)
