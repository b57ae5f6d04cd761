"""CLI paths that end before any model is loaded (fast)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import main


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env from the repository


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and "chatbot-ingest --rebuild" in result.output


def test_missing_corpus_exits_2_without_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--corpus", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: corpus folder")
    assert "Traceback" not in result.output


def test_unknown_embedder_exits_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHATBOT_EMBEDDER__MODEL", "no-such-model")
    result = CliRunner().invoke(main, ["--corpus", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown embedding model 'no-such-model'" in result.stderr


def test_invalid_setting_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATBOT_INGEST__CHUNK_TOKENS", "lots")
    result = CliRunner().invoke(main, [])
    assert result.exit_code == 2
    assert "invalid configuration" in result.stderr


def test_bad_identity_rules_exit_2_before_any_model_loads(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "documents.toml").write_text('[[documents]]\nmatch = "*"\nperiod = "last year"\n')
    result = CliRunner().invoke(main, ["--corpus", str(corpus)])
    assert result.exit_code == 2
    assert "rule 1 (line 1): period 'last year' is not a period" in result.stderr
