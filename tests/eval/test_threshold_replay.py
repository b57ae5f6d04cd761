"""Offline replay of a run at stricter answerability thresholds."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from eval.calibrate import Row, write_rows
from eval.probes.threshold_replay import main


def record(n: int, answerable: bool, p: float) -> dict[str, object]:
    return {
        "id": f"q{n}",
        "answerable": answerable,
        "outcome": "answer",
        "llm_called": True,
        "evidence": {"answerability": p},
    }


def test_stricter_thresholds_turn_low_probability_answers_into_refusals(tmp_path: Path) -> None:
    rows = [Row("en", {"sentence_coverage": 0.5 + i / 100}, 1, True) for i in range(40)] + [
        Row("en", {"sentence_coverage": 0.2 + i / 100}, 0, False) for i in range(40)
    ]
    write_rows(tmp_path / "rows.jsonl", rows, {}, [])
    run = tmp_path / "run"
    run.mkdir()
    records = [record(i, True, 1.0) for i in range(4)] + [record(9, False, 0.0)]
    (run / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = CliRunner().invoke(
        main, [str(run), "--rows", str(tmp_path / "rows.jsonl"), "--recalls", "0.9,0.5"]
    )
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines() if line.startswith("      0.")]
    assert [line[0] for line in lines] == ["0.90", "0.50"]
    # the unanswerable answer had P=0.0: refused at any threshold; answerable kept
    assert all(line[2] == "100.0%" and line[3] == "0.0%" for line in lines)
