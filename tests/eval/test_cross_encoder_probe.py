"""The cross-encoder probe reads only the calibration half, and says so when
the shared data is missing."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from eval.loaders import article_split
from eval.probes.cross_encoder_probe import _rows, main


def squad_file(tmp_path: Path) -> tuple[Path, set[str]]:
    titles = [f"Article_{i}" for i in range(6)]
    data = {
        "version": "test",
        "data": [
            {
                "title": title,
                "paragraphs": [
                    {
                        "context": f"{title} was founded in 1900.",
                        "qas": [
                            {
                                "id": f"{title}-a",
                                "question": "When was it founded?",
                                "answers": [{"text": "1900", "answer_start": 22}],
                            },
                            {
                                "id": f"{title}-u",
                                "question": "When was it closed?",
                                "is_impossible": True,
                            },
                        ],
                    }
                ],
            }
            for title in titles
        ],
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data))
    return path, article_split(titles, "calibration")


def test_rows_come_from_the_calibration_half_with_answerability_labels(tmp_path: Path) -> None:
    path, calibration = squad_file(tmp_path)
    rows = _rows(path)
    assert {r[0] for r in rows} == {t.replace("_", " ") for t in calibration}
    assert len(calibration) == 3
    assert sorted(r[3] for r in rows) == [0, 0, 0, 1, 1, 1]
    assert all(r[2].endswith("founded in 1900.") for r in rows)
    closed = [r for r in rows if r[1] == "When was it closed?"]
    assert all(r[3] == 0 for r in closed)


def test_missing_data_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--data", str(tmp_path / "absent.json")])
    assert result.exit_code != 0
    assert "shared SQuAD 2.0 split is needed" in result.output
