"""Periods and versions: which year a question asks about, which passages
belong to it, and which version of a document is in force.

Recurring reports (annual, quarterly) share chapter titles, so the period a
passage belongs to lives in its document's context (``DocumentContext``),
not in its text. This module holds the rules that read it:

- ``asked_years`` / ``asked_version``: what the question names;
- ``stated_figures``: the figures a passage states by its declared period and
  version (the year 2024 for a passage of the 2024 report), which the
  verifier and the gate count as stated by that passage, and nothing else:
  a heading such as "Chapter 3" does not state the figure 3;
- ``prefer_periods``: passages of the asked period first, order otherwise kept;
- ``in_force``: where two versions of one document were retrieved, only the
  newest in force stays, unless the question names the older one;
- ``uncovered_years`` / ``describe_coverage``: a year no document covers and
  no shown passage states, and the span the corpus does cover, for the
  refusal given before any LLM call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from datetime import date

from chatbot.domain import DocumentContext, Passage
from chatbot.text import figures

# Years from 1900 to 2099 standing alone: "2024", "2024年", "FY2024", not "120245".
_YEAR_RE = re.compile(r"(?<![\d.,])(?:FY)?((?:19|20)\d{2})(?![\d])")
# "version 2", "v2.1", "ver. 3", "第2版", "2nd edition" / "edition 2"
_VERSION_RE = re.compile(
    r"\b(?:version|ver\.?|v|edition|rev(?:ision)?\.?)\s*(\d+(?:\.\d+)*)\b"
    r"|第\s*(\d+(?:\.\d+)*)\s*版"
    r"|\b(\d+)(?:st|nd|rd|th)\s+(?:version|edition|revision)\b",
    re.IGNORECASE,
)


# Years written in Chinese numerals, one character a digit: 二〇二四年, 二零一八年.
_CHINESE_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_CHINESE_YEAR_RE = re.compile(r"([一二][〇零一二三四五六七八九]{3})\s*年")


def asked_years(question: str) -> tuple[str, ...]:
    """The years ``question`` names, in order, without repeats ("2024",
    "2024年", "FY2024", 「二〇二四年」)."""
    spelled = [m.translate(_CHINESE_DIGITS) for m in _CHINESE_YEAR_RE.findall(question)]
    years = [y for y in (*_YEAR_RE.findall(question), *spelled) if y[:2] in ("19", "20")]
    return tuple(dict.fromkeys(years))


def asked_version(question: str) -> str | None:
    """The document version ``question`` names ("version 2" -> "2"), or None."""
    match = _VERSION_RE.search(question)
    if match is None:
        return None
    return next(group for group in match.groups() if group)


def period_years(period: str) -> frozenset[str]:
    """The years a declared period stands for: "2024", "2024-Q3" and
    "2024-05-31" are all 2024; "2023/24" (a fiscal year) is 2023 and 2024."""
    found = _YEAR_RE.findall(period)
    if "/" in period and len(found) == 1:
        tail = re.search(r"/(\d{2})\b", period)
        if tail:
            found.append(found[0][:2] + tail.group(1))
    return frozenset(found)


def stated_figures(context: DocumentContext) -> set[str]:
    """The figures a passage states through its document's declared period
    and version (see the module docstring)."""
    return set(period_years(context.period)) | figures(context.version)


def matches_year(context: DocumentContext, years: Collection[str]) -> bool:
    return bool(period_years(context.period) & set(years))


def prefer_periods(passages: Sequence[Passage], years: Collection[str]) -> list[Passage]:
    """``passages`` with those of the asked ``years`` first; the order within
    each group is kept. Without asked years, or when no passage is of one of
    them, the order is unchanged."""
    if not years:
        return list(passages)
    first = [p for p in passages if matches_year(p.chunk.context, years)]
    if not first:
        return list(passages)
    rest = [p for p in passages if not matches_year(p.chunk.context, years)]
    return [*first, *rest]


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Orders "2" before "10" and "1.2" before "1.10"."""
    return tuple(
        (int(part), "") if part.isdigit() else (-1, part)
        for part in re.findall(r"\d+|[A-Za-z]+", version)
    )


def _newest_in_force(contexts: Sequence[DocumentContext], today: date) -> DocumentContext:
    """The version of one edition that applies today: the newest by effective
    date among those already effective, else (no dates, or all in the future)
    the highest version number."""
    effective = [c for c in contexts if c.effective and c.effective <= today.isoformat()]
    if effective:
        return max(effective, key=lambda c: (c.effective, version_key(c.version)))
    undated = [c for c in contexts if not c.effective] or list(contexts)
    return max(undated, key=lambda c: version_key(c.version))


def in_force(
    passages: Sequence[Passage],
    years: Collection[str],
    version: str | None,
    today: Callable[[], date] = date.today,
) -> tuple[list[Passage], list[Passage]]:
    """(kept, superseded): where passages of two or more versions of one
    edition were retrieved, those of the versions not in force are set aside,
    unless the question names (``asked_version``, ``asked_years``) their
    ``version`` or one of their period or effective ``years``, in which case
    that version is the one kept. Passages without an edition are always kept."""
    versions: dict[str, dict[str, DocumentContext]] = {}
    for p in passages:
        ctx = p.chunk.context
        if ctx.edition and ctx.version:
            versions.setdefault(ctx.edition, {})[ctx.version] = ctx
    keep: dict[str, str] = {}
    for edition, by_version in versions.items():
        if len(by_version) < 2:
            continue
        contexts = list(by_version.values())
        named = [
            c
            for c in contexts
            if c.version == version or matches_year(c, years) or c.effective[:4] in years
        ]
        chosen = named[0] if len(named) == 1 else _newest_in_force(contexts, today())
        keep[edition] = chosen.version
    kept: list[Passage] = []
    superseded: list[Passage] = []
    for p in passages:
        ctx = p.chunk.context
        in_force_now = ctx.edition not in keep or ctx.version == keep[ctx.edition]
        (kept if in_force_now else superseded).append(p)
    return kept, superseded


def uncovered_years(
    years: Sequence[str], covered: Collection[str], shown: Sequence[Passage]
) -> tuple[str, ...]:
    """The asked ``years`` that no document's period covers and no ``shown``
    passage states (in its text or by its period). Empty when the
    corpus declares no periods at all: an undated corpus says nothing about
    which years it covers."""
    if not covered:
        return ()
    years_covered = set().union(*(period_years(p) for p in covered))
    stated: set[str] = set()
    for p in shown:
        stated |= figures(p.chunk.text) | stated_figures(p.chunk.context)
    return tuple(y for y in years if y not in years_covered | stated)


def describe_coverage(covered: Collection[str]) -> str:
    """The covered years as runs: "2015–2024", or "2015–2017, 2020"."""
    years = sorted({int(y) for p in covered for y in period_years(p)})
    runs: list[tuple[int, int]] = []
    for year in years:
        if runs and year == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], year)
        else:
            runs.append((year, year))
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in runs)
