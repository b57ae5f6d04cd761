"""Access labels: which groups may see each document of the corpus.

The corpus owner declares them in ``access.toml`` next to the documents
(``IngestSettings.access_file``)::

    groups = ["staff", "credit-risk", "board"]   # every group a rule may name
    default = []                                 # a document no rule covers

    [[documents]]
    match = "policies/**"           # glob on the path in the corpus
    groups = ["staff"]

    [[documents]]
    match = "board/**"
    groups = ["board"]

The last matching rule decides a document's groups (so a later, narrower
rule can override a broad one). ``everyone`` is built in: every recognised
user holds it, so ``groups = ["everyone"]`` makes a document open to all.

**It fails closed.** With a file, a document that no rule covers gets
``default``, and ``default`` itself defaults to ``[]``: no group, shown to
nobody until a rule names it (``chatbot-ingest --list`` shows which). A
syntax error, an unknown key, a group that is not declared, an empty
``match`` or a non-list ``groups`` stops ingestion with the line named and
the index untouched. Without a file, every document is in ``everyone``
(a single-team corpus needs no configuration).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from chatbot.access import valid_group
from chatbot.domain import EVERYONE
from chatbot.errors import ConfigurationError
from chatbot.tomlfile import read_toml
from ingest.identity import glob_match, rule_lines

_TOP_KEYS = frozenset({"groups", "default", "documents"})
_RULE_KEYS = frozenset({"match", "groups"})


class AccessRulesError(ConfigurationError):
    """``access.toml`` cannot be used; the message names the line and the fix."""


@dataclass(frozen=True, slots=True)
class AccessRule:
    match: str
    groups: tuple[str, ...]
    line: int


@dataclass(frozen=True, slots=True)
class AccessRules:
    """The parsed access file; ``path`` None means the corpus has none."""

    declared: frozenset[str] = frozenset({EVERYONE})
    default: tuple[str, ...] = (EVERYONE,)
    rules: tuple[AccessRule, ...] = ()
    path: Path | None = None
    digest: str = ""

    def groups_for(self, source: str) -> tuple[str, ...]:
        """The sorted groups of the document at ``source`` (the last matching
        rule's, else the default)."""
        chosen = self.default
        for rule in self.rules:
            if glob_match(source, rule.match):
                chosen = rule.groups
        return chosen

    def signature(self) -> str:
        return f"access-v1:{self.digest}"


def load_access_rules(path: Path) -> AccessRules:
    """Parse and validate ``path``; a missing file puts everything in ``everyone``."""
    if not path.is_file():
        return AccessRules()
    text, data = read_toml(
        path,
        error=AccessRulesError,
        fix="see README, 'Access control'; until then nothing is ingested",
    )
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise AccessRulesError(
            f"{path}: unknown key(s) {unknown}; the file holds groups = [...], "
            "default = [...] and [[documents]] rules"
        )
    declared = frozenset({EVERYONE, *_group_list(data.get("groups", []), f"{path}: groups", None)})
    default = _group_list(data.get("default", []), f"{path}: default", declared)
    entries = data.get("documents", [])
    if not isinstance(entries, list):
        raise AccessRulesError(f"{path}: write each rule as a [[documents]] table")
    lines = rule_lines(text)
    rules: list[AccessRule] = []
    for index, entry in enumerate(entries):
        line = lines[index] if index < len(lines) else 0
        where = f"{path}, rule {index + 1} (line {line})"
        if not isinstance(entry, dict):
            raise AccessRulesError(f"{where}: a rule must be a table")
        bad = sorted(set(entry) - _RULE_KEYS)
        if bad:
            raise AccessRulesError(f"{where}: unknown key(s) {bad}; allowed: match, groups")
        match = entry.get("match")
        if not isinstance(match, str) or not match.strip():
            raise AccessRulesError(f'{where}: needs match = "<glob>" (e.g. "board/**")')
        if "groups" not in entry:
            raise AccessRulesError(f'{where}: needs groups = ["<group>", ...]')
        rules.append(AccessRule(match.strip(), _group_list(entry["groups"], where, declared), line))
    return AccessRules(
        declared, default, tuple(rules), path, hashlib.sha256(text.encode("utf-8")).hexdigest()
    )


def _group_list(value: object, where: str, declared: frozenset[str] | None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        raise AccessRulesError(f'{where}: groups must be a list of names, e.g. ["staff"]')
    names = [g.strip() for g in value]
    for name in names:
        if not valid_group(name):
            raise AccessRulesError(
                f"{where}: {name!r} is not a group name (letters, digits and . _ @ : + -, "
                "starting with a letter or digit)"
            )
        if declared is not None and name not in declared:
            raise AccessRulesError(
                f"{where}: group {name!r} is not declared; add it to groups = [...] at the "
                f"top of the file (declared: {sorted(declared)})"
            )
    return tuple(sorted(set(names)))
