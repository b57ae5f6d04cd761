"""Access labels of the PostgreSQL keyword index: the ``labels`` table holds
each distinct set of access groups once, by id, and every chunk and posting
carries the id of its set, so a search keeps a posting by comparing one
small integer with the few labels the audience may see
(``chatbot.adapters.pg_keyword``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg


def normal_groups(groups: Sequence[str]) -> tuple[str, ...]:
    """A set of groups as a label stores it: sorted, once each, no empty name."""
    return tuple(sorted({g for g in groups if g}))


class LabelIds:
    """The ids of the label sets in schema ``s`` (a quoted identifier), read
    or made on first use and kept: labels are never deleted, so a kept id
    stays valid until the tables are cleared (then call ``forget``)."""

    def __init__(self, s: str) -> None:
        self._s = s
        self._ids: dict[tuple[str, ...], int] = {}

    def id_of(self, conn: psycopg.Connection[Any], groups: tuple[str, ...]) -> int:
        """The id of ``groups`` (``normal_groups``), inside ``conn``'s transaction."""
        if groups in self._ids:
            return self._ids[groups]
        conn.execute(
            f"INSERT INTO {self._s}.labels (groups) VALUES (%s) ON CONFLICT (groups) DO NOTHING",
            (list(groups),),
        )
        row = conn.execute(
            f"SELECT id FROM {self._s}.labels WHERE groups = %s", (list(groups),)
        ).fetchone()
        assert row is not None
        self._ids[groups] = int(row[0])
        return self._ids[groups]

    def forget(self) -> None:
        self._ids.clear()
