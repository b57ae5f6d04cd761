"""Document identity: rules file parsing and validation, detection order,
labels (ingest.identity)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.identity import (
    DocumentRules,
    DocumentRulesError,
    identify,
    load_rules,
    period_from_path,
    period_from_text,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "documents.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_rules_file_means_no_rules(tmp_path: Path) -> None:
    rules = load_rules(tmp_path / "documents.toml")
    assert rules.rules == () and rules.digest == ""


def test_year_folder_gives_the_period_and_the_default_label() -> None:
    found = identify("2024/15_Banking_Stability.md", "Banking Stability", "text", DocumentRules())
    assert found.context.period == "2024" and found.period_from == "folder"
    assert found.context.label == "Banking Stability · 2024"
    assert found.context.version == "" and found.context.edition == ""


@pytest.mark.parametrize(
    ("title", "text", "period"),
    [
        ("Annual Report 2023", "", "2023"),
        ("Overview", "# REVIEW OF 2019\n\nThe year was calm.", "2019"),
        ("概覽", "# 2016年回顧\n\n年內", "2016"),
        ("年報", "香港金融管理局2021年年報", "2021"),
        ("Priorities for 2025 and Beyond", "We will do more in 2025.", ""),
    ],
)
def test_period_from_the_reports_own_words(title: str, text: str, period: str) -> None:
    assert period_from_text(title, text) == period


def test_period_folder_forms() -> None:
    assert period_from_path("reports/2024-Q3/results.pdf") == "2024-Q3"
    assert period_from_path("2019/sub/2020/x.md") == "2020"  # the nearest folder wins
    assert period_from_path("2024.md") == ""  # a file name is not a folder
    assert period_from_path("policies/credit.md") == ""


def test_folder_beats_a_year_in_the_title() -> None:
    # The 2024 report's chapter "Priorities for 2025 and Beyond" belongs to 2024.
    found = identify("2024/07_Priorities.md", "Annual Report 2025 preview", "", DocumentRules())
    assert found.context.period == "2024"


def test_rules_override_field_by_field_in_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[documents]]
match = "annual/**"
series = "HKMA Annual Report"

[[documents]]
match = "annual/2024/**"
period = "2024"
""",
    )
    rules = load_rules(path)
    found = identify("annual/2024/x/banking.md", "Banking Stability", "", rules)
    assert found.context.label == "HKMA Annual Report 2024 · Banking Stability"
    assert found.period_from == "rule"
    other = identify("annual/2023/banking.md", "Banking Stability", "", rules)
    assert other.context.label == "HKMA Annual Report 2023 · Banking Stability"
    assert other.period_from == "folder"


def test_versions_get_an_edition_and_a_label(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[documents]]
match = "policies/credit-v2.md"
title = "Credit policy"
version = "2"
effective = "2025-01-01"
""",
    )
    found = identify("policies/credit-v2.md", "credit-v2", "", load_rules(path))
    ctx = found.context
    assert found.title == "Credit policy"
    assert ctx.label == "Credit policy · version 2 (effective 2025-01-01)"
    assert (ctx.version, ctx.effective, ctx.edition) == ("2", "2025-01-01", "Credit policy")


def test_label_template(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[documents]]\nmatch = "*.md"\nlabel = "{title} ({period})"\nperiod = "2023/24"\n',
    )
    found = identify("budget.md", "Budget", "", load_rules(path))
    assert found.context.label == "Budget (2023/24)"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[documents]]\nmatch = "a/*\n', "line 2"),  # TOML syntax, with its line
        ('[[documents]]\nmatch = "a/*"\nperod = "2024"\n', "unknown key(s) ['perod']"),
        ('[[documents]]\nperiod = "2024"\n', "missing match"),
        ('[[documents]]\nmatch = "a/*"\nperiod = "FY24"\n', "is not a period"),
        ('[[documents]]\nmatch = "a/*"\neffective = "2024-13-01"\n', "not an ISO date"),
        ('[[documents]]\nmatch = "a/*"\nlabel = "{name}"\n', "unknown field(s) ['name']"),
        ('[access]\ngroups = ["x"]\n', "unknown section(s) ['access']"),
        ('[[documents]]\nmatch = "a"\n\n[[documents]]\nmatch = "b"\nversion = true\n', "line 4"),
    ],
)
def test_bad_rules_name_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(DocumentRulesError) as info:
        load_rules(write(tmp_path, text))
    assert needle in str(info.value)
