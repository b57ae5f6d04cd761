"""``chatbot-eval`` commands that need no model: errors, report, resume guard."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from chatbot.errors import ConfigurationError
from eval.cli import main
from eval.runinfo import read_meta, start_session
from tests.eval.tiny import meta, write_run


def test_help_texts_have_examples() -> None:
    runner = CliRunner()
    for args in (["--help"], ["run", "--help"], ["report", "--help"], ["compare", "--help"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0
        assert "Example" in result.output, args


def test_missing_dataset_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["run", "--dataset", "squad2", "--data", str(tmp_path / "nope.json"),
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: dataset file not found: {tmp_path / 'nope.json'}")
    assert not (tmp_path / "out").exists()


def test_rgb_needs_a_data_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--dataset", "rgb", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "needs --data" in result.output


def test_report_command_rerenders_from_records(tmp_path: Path) -> None:
    write_run(tmp_path)
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "tiny · pipeline · 7 questions (4 answerable, 3 to refuse)" in result.output
    assert "hallucination rate  33.3% (1/3" in result.output
    assert (tmp_path / "report.html").is_file()


def test_resume_refuses_other_settings_and_adds_a_session(tmp_path: Path) -> None:
    first = meta()
    first.pop("sessions")
    start_session(tmp_path, first)
    start_session(tmp_path, dict(first))
    saved = read_meta(tmp_path)
    assert saved is not None and len(saved["sessions"]) == 2

    changed = {**first, "settings": {**first["settings"], "gate": {"min_dense_score": 0.5}}}
    with pytest.raises(ConfigurationError, match="different settings"):
        start_session(tmp_path, changed)
    with pytest.raises(ConfigurationError, match="different seed"):
        start_session(tmp_path, {**first, "seed": 1})
