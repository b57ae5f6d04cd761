"""``chatbot-audit``: export or purge the audit trail.

Examples::

    chatbot-audit export --format jsonl --out audit.jsonl
    chatbot-audit export --format csv --out feedback.csv --table feedback --since 2025-01-01
    chatbot-audit purge

The store is the file named by ``CHATBOT_AUDIT__PATH`` (default
``data/audit.sqlite3``), or with ``CHATBOT_AUDIT__BACKEND=postgres`` the
tables in ``CHATBOT_AUDIT__POSTGRES_SCHEMA`` that every replica writes to
(created on first use, so ``purge`` also sets up a new database).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from chatbot.audit import AuditStore, stamp
from chatbot.errors import BoundaryError
from chatbot.settings import Settings

_DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


@contextmanager
def _open_store() -> Iterator[AuditStore]:
    """The configured store, closed afterwards; a store that cannot be
    opened or read ends the command with its sentence and exit status 2."""
    settings = Settings()
    cfg = settings.audit
    if cfg.backend == "sqlite" and not cfg.path.exists():
        click.echo(
            f"error: no audit store at {cfg.path} (set CHATBOT_AUDIT__PATH, or ask a "
            "question through a channel first)",
            err=True,
        )
        sys.exit(2)
    from chatbot.compose import open_audit

    try:
        store = open_audit(settings)
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        yield store
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        store.close()


def _rows(store: AuditStore, table: str, since: datetime | None) -> Iterable[dict[str, Any]]:
    if table == "feedback":
        for fb in store.feedback(since):
            yield {
                "interaction_id": fb.interaction_id,
                "helpful": fb.helpful,
                "comment": fb.comment,
                "timestamp": stamp(fb.timestamp),
            }
    elif table == "denials":
        for denial in store.denials(since):
            yield denial.to_json()
    elif table == "failures":
        for failure in store.failures(since):
            yield failure.to_json()
    else:
        for interaction in store.interactions(since):
            yield interaction.to_json()


def write_jsonl(rows: Iterable[dict[str, Any]], out: Path) -> int:
    count = 0
    with out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_csv(rows: Iterable[dict[str, Any]], out: Path) -> int:
    """One row per record; nested values (citations, passages…) as JSON text."""
    count = 0
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer: csv.DictWriter[str] | None = None
        for row in rows:
            flat = {
                key: json.dumps(value, ensure_ascii=False)
                if isinstance(value, dict | list)
                else value
                for key, value in row.items()
            }
            if writer is None:
                writer = csv.DictWriter(fh, fieldnames=list(flat))
                writer.writeheader()
            writer.writerow(flat)
            count += 1
    return count


@click.group()
def main() -> None:
    """Inspect the audit trail of questions, outcomes and feedback."""


@main.command()
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--since",
    type=click.DateTime(_DATE_FORMATS),
    default=None,
    help="Only records at or after this UTC date/time, e.g. 2025-01-31.",
)
@click.option(
    "--table",
    type=click.Choice(["interactions", "feedback", "denials", "failures"]),
    default="interactions",
    show_default=True,
)
def export(fmt: str, out: Path, since: datetime | None, table: str) -> None:
    """Write interactions (or feedback, denials, failures) to a JSON-lines or CSV file.

    Example: chatbot-audit export --format csv --out audit.csv --since 2025-01-01
    """
    floor = since.replace(tzinfo=UTC) if since is not None else None
    with _open_store() as store:
        rows = _rows(store, table, floor)
        count = write_jsonl(rows, out) if fmt == "jsonl" else write_csv(rows, out)
    click.echo(f"wrote {count} {table} to {out}")


@main.command()
def purge() -> None:
    """Delete interactions older than the retention period now.

    Example: CHATBOT_AUDIT__RETENTION_DAYS=90 chatbot-audit purge
    """
    with _open_store() as store:
        purged = store.purge()
    click.echo(f"purged {purged} interactions older than {store.retention_days} days")
