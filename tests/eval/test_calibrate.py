"""Fitting the answerability model from gate rows (eval.calibrate), on fakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.answer.answerability import Calibration
from chatbot.compose import Stores, build_examiner
from chatbot.errors import GeneratorUnavailableError
from chatbot.settings import Settings
from eval.calibrate import Row, collect, fit, read_rows, write_rows
from eval.items import ANSWERABLE, UNANSWERABLE, EvalItem, EvalSet
from tests.builders import TEXTS, pipeline_over
from tests.fakes_llm import ScriptedGenerator


def item(n: int, question: str, answerable: bool, source: str = "") -> EvalItem:
    return EvalItem(
        id=f"q{n}",
        question=question,
        answers=("x",) if answerable else (),
        answerable=answerable,
        language="en",
        category=ANSWERABLE if answerable else UNANSWERABLE,
        gold_sources=(source,) if source else (),
    )


def test_collect_labels_rows_by_whether_the_answer_was_shown() -> None:
    generator = ScriptedGenerator()  # no replies: any LLM call would fail the test
    pipeline = pipeline_over(TEXTS, generator)
    items = (
        item(1, "How many use cases were in the first cohort?", True, "overview.pdf"),
        item(2, "How many use cases were in the first cohort?", True, "elsewhere.pdf"),
        item(3, "How many use cases were in the first cohort?", False),
        item(4, "What is the best recipe for egg tarts?", False),
    )
    rows, refused = collect(EvalSet("tiny", items, ()), pipeline, progress=False)
    assert refused == 1  # the egg tarts: no shared content word, fixed gate
    assert [r.label for r in rows] == [1, 0, 0]
    assert [r.answerable for r in rows] == [True, True, False]
    assert generator.calls == []


def test_the_examining_pipeline_has_no_llm_to_call(tmp_path: Path) -> None:
    fake = pipeline_over(TEXTS, ScriptedGenerator())
    stores = Stores(fake.embedder, fake.vectors, fake.keywords)
    settings = Settings(index={"path": tmp_path})  # type: ignore[arg-type]
    examiner = build_examiner(settings, stores, calibrated=False)
    assert examiner.calibration is None and examiner.reader is None and examiner.judge is None
    with pytest.raises(GeneratorUnavailableError, match="only retrieves and gates"):
        next(iter(examiner.generator.stream([])))


def test_fit_writes_a_loadable_calibration_and_rows_round_trip(tmp_path: Path) -> None:
    rows = [
        Row(
            "en", {"sentence_coverage": 0.9 - 0.01 * i, "coverage": 1.0, "best_dense": 0.5}, 1, True
        )
        for i in range(20)
    ] + [
        Row(
            "en",
            {"sentence_coverage": 0.3 + 0.01 * i, "coverage": 0.8, "best_dense": 0.4},
            0,
            False,
        )
        for i in range(20)
    ]
    path = tmp_path / "rows.jsonl"
    write_rows(path, rows, {"tiny": {"questions": 40}}, [tmp_path])
    back, sources, folders = read_rows(path)
    assert back == rows and sources == {"tiny": {"questions": 40}} and folders == [tmp_path]

    calibration = fit({"en": back}, min_recall=0.9, sources=sources)
    fitted = calibration.meta["calibration_fit"]["en"]
    assert fitted["auc"] == 1.0 and fitted["passed_label_1"] >= 0.9
    assert fitted["passed_label_0"] == 0.0
    out = tmp_path / "calibration.json"
    calibration.save(out)
    assert Calibration.load(out).models["en"].threshold == calibration.models["en"].threshold


def test_learned_floors_keep_the_requested_share_of_answerable_rows() -> None:
    from eval.calibrate import learned_floors

    rows = [Row("en", {"coverage": i / 100, "best_dense": i / 200}, 1, True) for i in range(100)]
    floors = learned_floors(rows, "en", floor_recall=0.9)
    kept = sum(r.values["coverage"] >= floors["min_coverage"] for r in rows)
    assert kept >= 90 and floors["min_dense"] <= 0.05
    assert "min_dense" not in learned_floors(rows, "zh", 0.9)


def test_missing_or_damaged_rows_say_how_to_recollect(tmp_path: Path) -> None:
    from eval.loaders import DatasetError

    with pytest.raises(DatasetError, match="without --reuse-rows"):
        read_rows(tmp_path / "absent.jsonl")
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(DatasetError, match="unreadable"):
        read_rows(tmp_path / "bad.jsonl")


def _values(score: float) -> dict[str, float]:
    return {"sentence_coverage": score, "coverage": score, "best_dense": 0.5}


def _overlapping_rows(language: str) -> list[Row]:
    # answerable rows score 0.50..0.99 on the one feature, unanswerable 0.00..0.79:
    # the classes overlap, so a higher recall must let more unanswerable rows through
    answerable = [Row(language, _values(0.5 + i / 100), 1, True) for i in range(50)]
    unanswerable = [Row(language, _values(i / 100), 0, False) for i in range(80)]
    return answerable + unanswerable


def test_trade_off_table_grows_both_pass_rates_with_recall() -> None:
    from eval.calibrate import trade_off

    rows = _overlapping_rows("zh")
    probs = [r.values["sentence_coverage"] for r in rows]
    table = trade_off(probs, rows, recalls=(0.5, 0.8, 1.0))
    assert [line["recall"] for line in table] == [0.5, 0.8, 1.0]
    assert [line["passed_answerable"] for line in table] == [0.5, 0.8, 1.0]
    unanswerable = [line["passed_unanswerable"] for line in table]
    assert unanswerable == sorted(unanswerable) and unanswerable[0] == 0.0625  # 0.75..0.79
    assert unanswerable[-1] == 0.375  # 30 of the 80 score >= 0.50


def test_trade_off_without_unanswerable_rows_says_so_instead_of_a_rate() -> None:
    from eval.calibrate import trade_off

    rows = [r for r in _overlapping_rows("en") if r.answerable]
    probs = [r.values["sentence_coverage"] for r in rows]
    table = trade_off(probs, rows, recalls=(0.8,))
    assert table[0]["passed_answerable"] == 0.8
    assert table[0]["passed_unanswerable"] is None


def test_language_recall_overrides_the_global_recall_for_that_language_only() -> None:
    from eval.loaders import DatasetError

    by_language = {"en": _overlapping_rows("en"), "zh": _overlapping_rows("zh")}
    calibration = fit(by_language, 0.8, {}, None, recall_by_language={"zh": 0.95})
    fitted = calibration.meta["calibration_fit"]
    assert fitted["en"]["min_recall"] == 0.8 and fitted["zh"]["min_recall"] == 0.95
    assert calibration.meta["min_recall_by_language"] == {"zh": 0.95}
    assert calibration.models["zh"].threshold < calibration.models["en"].threshold
    assert fitted["zh"]["passed_label_1"] >= 0.95 > fitted["en"]["passed_label_1"] >= 0.8
    with pytest.raises(DatasetError, match="fr"):
        fit(by_language, 0.8, {}, None, recall_by_language={"fr": 0.9})


def test_calibrate_cli_refits_saved_rows_with_a_per_language_recall(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from eval.cli import main

    rows_path = tmp_path / "rows.jsonl"
    write_rows(rows_path, _overlapping_rows("en") + _overlapping_rows("zh"), {}, [])
    out = tmp_path / "calibration.json"
    args = ["calibrate", "--reuse-rows", "--rows", str(rows_path), "--out-only", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--language-recall", "zh=0.96"])
    assert result.exit_code == 0, result.output
    assert "recall  threshold  answerable  unanswerable" in result.output
    saved = Calibration.load(out)
    assert saved.meta["calibration_fit"]["zh"]["min_recall"] == 0.96
    assert saved.meta["calibration_fit"]["en"]["min_recall"] == 0.85
    assert len(saved.meta["calibration_fit"]["zh"]["trade_off"]) == 7

    bad = CliRunner().invoke(main, [*args, "--language-recall", "zh:0.9"])
    assert bad.exit_code == 2 and "LANG=RECALL" in bad.output
