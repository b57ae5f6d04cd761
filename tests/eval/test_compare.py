"""``compare``: headline numbers of two runs side by side, with deltas."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from eval.cli import main
from eval.compare import compare, format_delta, load_summary, verdict
from eval.report import write_report
from eval.runinfo import write_meta
from eval.runner import run_eval
from tests.eval.tiny import ITEMS, OUTCOMES, ScriptedSystem, meta, write_run


def better_run(out: Path) -> Path:
    """The tiny run, except that the hallucinated question is refused at the gate."""
    outcomes = {**OUTCOMES, "u1": OUTCOMES["u2"]}
    run_eval(ITEMS, ScriptedSystem(outcomes), out, progress=False)
    write_meta(out, meta())
    return out


def test_deltas_and_verdicts(tmp_path: Path) -> None:
    a = write_report(write_run(tmp_path / "before"))
    b = write_report(better_run(tmp_path / "after"))
    text = compare(a, b, "before", "after")
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if "|" in line}
    hallucination = rows["hallucination rate: unanswerable questions answered"]
    assert "33.3%" in hallucination and "0.0%" in hallucination
    assert "-33.3 pp" in hallucination and hallucination.rstrip(" |").endswith("after")
    coverage = rows["coverage: answerable questions answered"]
    assert "+0.0 pp" in coverage and coverage.rstrip().endswith("|  |")
    assert "+1" not in rows["questions"]


def test_format_delta_units() -> None:
    assert format_delta("rate", 0.125) == "+12.5 pp"
    assert format_delta("seconds", -1.5) == "-1.50 s"
    assert format_delta("count", 3) == "+3"
    assert format_delta("rate", None) == "n/a"
    assert verdict("down", -0.1, "A", "B") == "B"
    assert verdict("up", -0.1, "A", "B") == "A"
    assert verdict("", 0.5, "A", "B") == ""


def test_cli_compare_writes_the_table(tmp_path: Path) -> None:
    write_run(tmp_path / "a")
    better_run(tmp_path / "b")  # no summary yet: compare renders it
    out = tmp_path / "cmp" / "compare.md"
    result = CliRunner().invoke(
        main, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Comparison: a vs b" in result.output
    assert out.read_text(encoding="utf-8") + "\n" == result.output
    assert load_summary(tmp_path / "b")["headline"]["hallucination_rate"] == 0.0


def test_cli_compare_rejects_a_folder_without_a_run(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    write_run(tmp_path / "a")
    result = CliRunner().invoke(main, ["compare", str(tmp_path / "a"), str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "holds no evaluation run" in result.output
