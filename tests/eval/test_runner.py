"""The runner: one record per question, resumable, errors recorded, threads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.answer.pipeline import Pipeline
from chatbot.domain import Chunk
from chatbot.settings import GateSettings, RetrievalSettings
from eval.indexing import context_chunks
from eval.items import ANSWERABLE, OFF_TOPIC, Context, EvalItem
from eval.loaders import load_jsonl
from eval.runner import QUESTIONS_FILE, read_records, run_eval
from ingest.chunking import Chunker
from tests.eval.tiny import ITEMS, ScriptedSystem
from tests.fakes import HashEmbedder, InMemoryKeywordIndex, InMemoryVectorIndex
from tests.fakes_llm import ScriptedGenerator


class Killed(BaseException):
    """Stands in for a SIGKILL/Ctrl-C mid-run (not an ``Exception``, like
    ``KeyboardInterrupt``, so nothing in the runner may swallow it)."""


def ids(path: Path) -> list[str]:
    return [r["id"] for r in read_records(path / QUESTIONS_FILE)]


def test_every_question_gets_one_record_with_its_outcome(tmp_path: Path) -> None:
    stats = run_eval(ITEMS, ScriptedSystem(), tmp_path, progress=False)
    assert (stats.total, stats.already_done, stats.asked, stats.errors) == (7, 0, 7, 1)
    records = {r["id"]: r for r in read_records(tmp_path / QUESTIONS_FILE)}
    assert list(records) == [i.id for i in ITEMS]

    a1 = records["a1"]
    assert a1["outcome"] == "answer" and a1["refusal_reason"] is None
    assert a1["citations"] == [[1, "overview.pdf", 1]]
    assert [p["source"] for p in a1["passages"]] == ["overview.pdf", "guidance.pdf"]
    assert {"fused", "dense", "keyword", "id", "text"} <= set(a1["passages"][0])
    assert a1["evidence"]["coverage"] == 0.9
    assert a1["timings"] == pytest.approx(
        {"retrieve": 0.1, "read": 0.0, "generate": 2.0, "verify": 0.01, "total": 2.11}
    )
    assert a1["scores"]["contains_gold"] is True and a1["scores"]["em"] == 0.0
    assert a1["grounding"]["grounded"] is True

    u2 = records["u2"]  # refused at the gate: signals still recorded
    assert u2["outcome"] == "refusal" and u2["refusal_reason"] == "no_evidence"
    assert u2["llm_called"] is False and u2["evidence"]["coverage"] == 0.5
    assert u2["scores"] == {
        "em": 1.0,
        "f1": 1.0,
        "sentence_f1": 1.0,
        "contains_gold": None,
        "contains_other_period": None,
    }

    e1 = records["e1"]
    assert e1["outcome"] == "error" and "GeneratorTimeoutError" in e1["message"]
    assert e1["scores"] is None


def test_killed_run_resumes_without_redoing_questions(tmp_path: Path) -> None:
    def die_after_three(asked: int) -> None:
        if asked == 3:
            raise Killed

    with pytest.raises(Killed):
        run_eval(ITEMS, ScriptedSystem(before=die_after_three), tmp_path, progress=False)
    assert ids(tmp_path) == ["a1", "a2", "a3"]

    second = ScriptedSystem()
    stats = run_eval(ITEMS, second, tmp_path, progress=False)
    assert (stats.already_done, stats.asked) == (3, 4)
    assert second.asked == [i.question for i in ITEMS[3:]]
    assert ids(tmp_path) == [i.id for i in ITEMS]

    third = ScriptedSystem()
    assert run_eval(ITEMS, third, tmp_path, progress=False).asked == 0
    assert third.asked == []


def test_a_torn_last_line_is_dropped_and_that_question_asked_again(tmp_path: Path) -> None:
    run_eval(ITEMS[:2], ScriptedSystem(), tmp_path, progress=False)
    path = tmp_path / QUESTIONS_FILE
    path.write_text(path.read_text(encoding="utf-8") + '{"id": "a3", "quest', encoding="utf-8")
    system = ScriptedSystem()
    run_eval(ITEMS, system, tmp_path, progress=False)
    assert system.asked[0] == ITEMS[2].question
    assert ids(tmp_path) == [i.id for i in ITEMS]
    for line in path.read_text(encoding="utf-8").splitlines():
        json.loads(line)


def test_other_faults_stop_the_run(tmp_path: Path) -> None:
    outcomes = dict(ScriptedSystem().by_question)
    broken = ScriptedSystem()
    broken.by_question = {**outcomes, ITEMS[1].question: RuntimeError("index gone")}
    with pytest.raises(RuntimeError, match="index gone"):
        run_eval(ITEMS, broken, tmp_path, progress=False)
    assert ids(tmp_path) == ["a1"]


def test_concurrent_run_records_the_same_outcomes(tmp_path: Path) -> None:
    run_eval(ITEMS, ScriptedSystem(), tmp_path / "serial", progress=False)
    run_eval(ITEMS, ScriptedSystem(), tmp_path / "threads", concurrency=4, progress=False)

    def comparable(folder: Path) -> list[dict[str, object]]:
        records = sorted(read_records(folder / QUESTIONS_FILE), key=lambda r: r["index"])
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]

    assert comparable(tmp_path / "serial") == comparable(tmp_path / "threads")


def test_seeded_sampling_and_records_are_deterministic(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": f"q{i}", "question": f"Question number {i}?", "answerable": False})
        for i in range(40)
    ]
    data = tmp_path / "set.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = load_jsonl(data, n=10, seed=7)
    again = load_jsonl(data, n=10, seed=7)
    other = load_jsonl(data, n=10, seed=8)
    assert [i.id for i in first.items] == [i.id for i in again.items]
    assert [i.id for i in first.items] != [i.id for i in other.items]

    class Echo:
        def answer(self, question: str):  # type: ignore[no-untyped-def]
            return ScriptedSystem().by_question[ITEMS[0].question]

    run_eval(first.items, Echo(), tmp_path / "a", progress=False)
    run_eval(again.items, Echo(), tmp_path / "b", progress=False)
    strip = [
        {k: v for k, v in r.items() if k != "wall_s"}
        for r in read_records(tmp_path / "a" / QUESTIONS_FILE)
    ]
    assert strip == [
        {k: v for k, v in r.items() if k != "wall_s"}
        for r in read_records(tmp_path / "b" / QUESTIONS_FILE)
    ]


def test_real_pipeline_on_fakes_records_gate_signals_for_every_question(tmp_path: Path) -> None:
    contexts = (
        Context("ctx/launch", "Sandbox", "The GenA.I. Sandbox was launched in August 2024."),
        Context("ctx/cohort", "Sandbox", "The first cohort had 15 use cases from 10 banks."),
    )
    embedder = HashEmbedder()
    chunks: list[Chunk] = context_chunks(
        contexts, Chunker(embedder.token_length, 220, 40), embedder.token_length, 220
    )
    vectors, keywords = InMemoryVectorIndex(), InMemoryKeywordIndex()
    vectors.upsert(chunks, embedder.embed([c.text for c in chunks]))
    keywords.upsert(chunks)
    generator = ScriptedGenerator("The Sandbox was launched in August 2024 [1].")
    pipeline = Pipeline(
        embedder, vectors, keywords, generator, RetrievalSettings(), GateSettings(min_dense_score=0)
    )
    items = (
        EvalItem("in", "When was the GenA.I. Sandbox launched?", ("August 2024",), True, "en",
                 ANSWERABLE, ("ctx/launch",)),
        EvalItem("off", "What is the best recipe for egg tarts?", (), False, "en", OFF_TOPIC),
    )  # fmt: skip
    run_eval(items, pipeline, tmp_path, progress=False)
    records = {r["id"]: r for r in read_records(tmp_path / QUESTIONS_FILE)}
    assert records["in"]["outcome"] == "answer"
    assert records["in"]["citations"] == [[1, "ctx/launch", None]]
    assert records["in"]["passages"][0]["source"] == "ctx/launch"
    assert records["off"]["refusal_reason"] == "no_evidence"
    assert records["off"]["llm_called"] is False
    assert records["off"]["evidence"] is not None
    assert len(generator.calls) == 1
