"""Document identity: which document, period and version a file is.

Every chunk carries its document's ``DocumentContext`` (label, period,
version, effective date, edition), so that retrieval, the prompt, the
verifier and citations know that a "Banking Stability" chapter is the 2024
one. Where each part comes from, first match wins:

- **title**: the loader's (PDF metadata, first heading), else the file name;
  a rule's ``title`` replaces it;
- **period**: a rule's ``period``; else a folder on the file's path named like
  a period (``2024``, ``2024-Q3``, ``2024-H1``); else the document's own
  title or opening text ("Annual Report 2024", "Review of 2024",
  「2024年報」, 「2024年回顧」); else none;
- **version**, **effective** (ISO date) and **edition** (the name versions of
  one document share): only where a rule declares them; ``edition``
  defaults to the series and title;
- **label**: a rule's template, else "{series} {period} · {title}" with a
  series, "{title} · {period}" without, plus " · version {version}".

Rules live in ``documents.toml`` in the corpus folder (``IngestSettings.
documents_file``), optional::

    [[documents]]
    match = "annual-reports/2024/**"     # glob on the path in the corpus
    series = "HKMA Annual Report"
    period = "2024"

Rules apply in file order and a later match overrides an earlier one, field by
field. The file is validated before anything is indexed: a syntax error, an
unknown key, a malformed period or date stops ingestion with the rule and
line named (``DocumentRulesError``), and the index is left as it was.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath

from chatbot.catalog import DocumentRecord
from chatbot.domain import DocumentContext
from chatbot.errors import ConfigurationError
from chatbot.tomlfile import read_toml
from ingest.blocks import LoadedDocument

# Bump when detection changes, so sync re-checks every document's identity.
IDENTITY_VERSION = 2  # 2: only dated or versioned documents get a context line

_PERIOD_RE = re.compile(
    r"^(?:19|20)\d{2}(?:-Q[1-4]|-H[12]|-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?|/\d{2})?$"
)
# Reports that name their own period near the start.
_TEXT_PERIOD_RES = (
    re.compile(
        r"\b(?:annual|interim|quarterly|half[- ]yearly|sustainability|yearly)\s+"
        r"(?:report|review|statement)s?\s+(?:for\s+)?((?:19|20)\d{2})\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b((?:19|20)\d{2})\s+annual\s+report\b", re.IGNORECASE),
    re.compile(r"\breview\s+of\s+((?:19|20)\d{2})\b", re.IGNORECASE),
    re.compile(r"((?:19|20)\d{2})\s*年\s*(?:年報|年度報告|年度報吿|回顧|年報摘要)"),
)
_HEAD_CHARS = 3000
_RULE_KEYS = frozenset(
    {"match", "title", "series", "period", "version", "effective", "edition", "label"}
)
_LABEL_FIELDS = frozenset({"title", "series", "period", "version", "effective"})


class DocumentRulesError(ConfigurationError):
    """``documents.toml`` cannot be used; the message names the line and fix."""


@dataclass(frozen=True, slots=True)
class Rule:
    match: str
    values: dict[str, str]
    line: int  # 1-based line of the rule's [[documents]] header


@dataclass(frozen=True, slots=True)
class DocumentRules:
    """The parsed rules file (no rules when the corpus has none)."""

    rules: tuple[Rule, ...] = ()
    path: Path | None = None
    digest: str = ""  # sha256 of the file, "" without one

    def signature(self) -> str:
        """Changes whenever the rules or the detection code change."""
        return f"identity-v{IDENTITY_VERSION}:{self.digest}"

    def matching(self, source: str) -> dict[str, str]:
        """The merged values of every rule that matches ``source``."""
        merged: dict[str, str] = {}
        for rule in self.rules:
            if glob_match(source, rule.match):
                merged.update(rule.values)
        return merged


@dataclass(frozen=True, slots=True)
class Identity:
    """A document's title and context, and where the period came from."""

    title: str
    context: DocumentContext = field(default_factory=DocumentContext)
    period_from: str = ""  # "rule", "folder", "text" or "" (no period)


def load_rules(path: Path) -> DocumentRules:
    """Parse and validate ``path``; a missing file means no rules."""
    if not path.is_file():
        return DocumentRules()
    text, data = read_toml(
        path, error=DocumentRulesError, fix="see README, 'Document identity', or remove the file"
    )
    unknown_top = sorted(set(data) - {"documents"})
    if unknown_top:
        raise DocumentRulesError(
            f"{path}: unknown section(s) {unknown_top}; only [[documents]] rules are read"
        )
    entries = data.get("documents", [])
    if not isinstance(entries, list):
        raise DocumentRulesError(f"{path}: write each rule as a [[documents]] table")
    lines = rule_lines(text)
    rules = tuple(
        _parse_rule(entry, path, index, lines[index] if index < len(lines) else 0)
        for index, entry in enumerate(entries)
    )
    return DocumentRules(rules, path, hashlib.sha256(text.encode("utf-8")).hexdigest())


def rule_lines(text: str) -> list[int]:
    """The 1-based line of every ``[[documents]]`` header (rules files share it)."""
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip().replace(" ", "").startswith("[[documents]]")
    ]


def _parse_rule(entry: object, path: Path, index: int, line: int) -> Rule:
    where = f"{path}, rule {index + 1} (line {line})"
    if not isinstance(entry, dict):
        raise DocumentRulesError(f'{where}: a rule must be a table of key = "value" pairs')
    unknown = sorted(set(entry) - _RULE_KEYS)
    if unknown:
        raise DocumentRulesError(
            f"{where}: unknown key(s) {unknown}; allowed: {sorted(_RULE_KEYS)}"
        )
    if "match" not in entry:
        raise DocumentRulesError(f'{where}: missing match = "<glob>" (e.g. "2024/**")')
    values: dict[str, str] = {}
    for key, value in entry.items():
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise DocumentRulesError(f"{where}: {key} must be a string, got {value!r}")
        values[key] = str(value).strip()
    if not values["match"]:
        raise DocumentRulesError(f"{where}: match must not be empty")
    period = values.get("period")
    if period is not None and period and not _PERIOD_RE.match(period):
        raise DocumentRulesError(
            f"{where}: period {period!r} is not a period; write a year (2024), a quarter "
            "(2024-Q3), a half (2024-H1), a month (2024-05), a date (2024-05-31) or a "
            "fiscal year (2023/24)"
        )
    effective = values.get("effective")
    if effective:
        try:
            date.fromisoformat(effective)
        except ValueError as exc:
            raise DocumentRulesError(
                f"{where}: effective {effective!r} is not an ISO date (YYYY-MM-DD)"
            ) from exc
    label = values.get("label")
    if label:
        _check_template(label, where)
    return Rule(values.pop("match"), values, line)


def _check_template(label: str, where: str) -> None:
    names = set(re.findall(r"\{([^{}]*)\}", label))
    bad = sorted(names - _LABEL_FIELDS)
    if bad:
        raise DocumentRulesError(
            f"{where}: label uses unknown field(s) {bad}; use {sorted(_LABEL_FIELDS)}"
        )


def glob_match(source: str, pattern: str) -> bool:
    """fnmatch on the relative path, where "**/" may also match no folder
    ("2024/**" matches "2024/a.md" and "2024/x/b.md")."""
    if fnmatch.fnmatchcase(source, pattern):
        return True
    return "**/" in pattern and fnmatch.fnmatchcase(source, pattern.replace("**/", ""))


def period_from_path(source: str) -> str:
    """The last folder of ``source`` named like a period ("2024", "2024-Q3")."""
    for part in reversed(PurePosixPath(source).parts[:-1]):
        if _PERIOD_RE.match(part) and "/" not in part:
            return part
    return ""


def opening_text(doc: LoadedDocument) -> str:
    """The document's first ``_HEAD_CHARS`` characters, where reports name
    their period, read from as few blocks as that takes."""
    out: list[str] = []
    size = 0
    for block in doc.blocks:
        if size >= _HEAD_CHARS:
            break
        out.append(block.text)
        size += len(block.text)
    return "\n".join(out)[:_HEAD_CHARS]


def period_from_text(title: str, text: str) -> str:
    """The year a report names as its own in its title or opening text."""
    for haystack in (title, text[:_HEAD_CHARS]):
        for pattern in _TEXT_PERIOD_RES:
            match = pattern.search(haystack)
            if match:
                return match.group(1)
    return ""


def identify(source: str, title: str, text: str, rules: DocumentRules) -> Identity:
    """The identity of the document at ``source`` whose loader found
    ``title`` and whose text starts with ``text`` (see the module docstring)."""
    declared = rules.matching(source)
    title = declared.get("title") or title or PurePosixPath(source).stem
    period, period_from = declared.get("period", ""), "rule"
    if not period:
        period, period_from = period_from_path(source), "folder"
    if not period:
        period, period_from = period_from_text(title, text), "text"
    if not period:
        period_from = ""
    series = declared.get("series", "")
    version = declared.get("version", "")
    effective = declared.get("effective", "")
    fields = {
        "title": title,
        "series": series,
        "period": period,
        "version": version,
        "effective": effective,
    }
    template = declared.get("label") or _default_label(series, period, version, effective)
    label = " ".join(template.format(**fields).split())
    edition = declared.get("edition") or (f"{series} · {title}" if series else title)
    context = DocumentContext(
        label=label,
        period=period,
        version=version,
        effective=effective,
        edition=edition if version else "",
    )
    return Identity(title, context, period_from)


def _default_label(series: str, period: str, version: str, effective: str) -> str:
    if series:
        label = "{series} {period} · {title}" if period else "{series} · {title}"
    else:
        label = "{title} · {period}" if period else "{title}"
    if version:
        label += " · version {version}"
        if effective:
            label += " (effective {effective})"
    return label


def rules_path(corpus_dir: Path, documents_file: Path) -> Path:
    return documents_file if documents_file.is_absolute() else corpus_dir / documents_file


def describe_record(record: DocumentRecord) -> str:
    """One line for ``chatbot-ingest --list``: what was detected, and from where."""
    ctx = record.context
    parts = [ctx.label or record.title]
    if ctx.period:
        parts.append(f"period {ctx.period} (from {record.period_from or 'an older index'})")
    else:
        parts.append("no period")
    if ctx.version:
        effective = f", effective {ctx.effective}" if ctx.effective else ""
        parts.append(f"version {ctx.version}{effective}")
    return "; ".join(parts)
