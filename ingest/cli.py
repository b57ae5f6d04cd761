"""``chatbot-ingest``: index the corpus folder, incrementally.

Exit status: 0 when every file was indexed (or unchanged), 1 when some files
failed (the others are indexed), 2 when nothing could be done (bad
configuration, index unreachable, model missing). ``--check`` syncs nothing
and loads no model: it compares the catalog with both indexes
(``ingest.check``) and exits 0 when they agree, 3 when they do not.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import NoReturn

import click
from pydantic import ValidationError
from tqdm import tqdm

from chatbot.compose import build_ingestor
from chatbot.errors import BoundaryError
from chatbot.logs import configure_logging
from chatbot.settings import Settings
from ingest.access_rules import load_access_rules
from ingest.identity import describe_record, load_rules, rules_path

log = logging.getLogger(__name__)

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR, EXIT_INCONSISTENT = 0, 1, 2, 3

_EPILOG = """\b
Examples:
  chatbot-ingest                      # sync ./corpus into data/index
  chatbot-ingest --corpus /srv/policies -v
  chatbot-ingest --rebuild            # after changing CHATBOT_EMBEDDER__MODEL
  CHATBOT_INDEX__PATH=/tmp/idx chatbot-ingest
  chatbot-ingest --list               # and show each document's label, period, version
  chatbot-ingest --check              # do the catalog and both indexes agree? (exit 3 if not)
"""


@click.command(epilog=_EPILOG)
@click.option(
    "--corpus",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to ingest [default: CHATBOT_INGEST__CORPUS_DIR, else ./corpus].",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Wipe both indexes and re-ingest everything (needed after changing the embedder).",
)
@click.option(
    "--list",
    "show_documents",
    is_flag=True,
    help="After syncing, list every document with the label, period and version detected "
    "for it (and where the period came from) and its access groups, to check the rules.",
)
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Sync nothing: check that the catalog, the keyword index and the vector index "
    "(with its group collections) hold the same chunks with the same access groups, and "
    "list files that changed since the last sync. Loads no model. Exit 0 when they agree, "
    "3 when not (each problem is printed with how to repair it).",
)
@click.option("-v", "--verbose", count=True, help="-v: per-file log lines; -vv: debug.")
def main(
    corpus: Path | None, rebuild: bool, show_documents: bool, check_only: bool, verbose: int
) -> None:
    """Index the corpus (PDF, Markdown, HTML, text) for the assistant.

    Unchanged files are skipped, changed files re-indexed, deleted files
    removed. A file that cannot be read is reported with a hint and keeps its
    previously indexed version.
    """
    configure_logging(verbose)
    try:
        settings = Settings()
    except ValidationError as exc:
        click.echo(f"error: invalid configuration:\n{exc}", err=True)
        sys.exit(EXIT_ERROR)
    corpus_dir = corpus if corpus is not None else settings.ingest.corpus_dir
    if check_only:
        if rebuild or show_documents:
            raise click.UsageError("--check syncs nothing: use it without --rebuild and --list")
        _check(settings, corpus_dir)

    bar: tqdm[None] | None = None

    def progress(source: str, done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="file", desc="ingesting", leave=False, disable=None)
        bar.set_postfix_str(source[-40:], refresh=False)
        bar.update(1)

    try:
        # Checked before any model loads, so a bad rules file fails in a second.
        load_rules(rules_path(corpus_dir, settings.ingest.documents_file))
        load_access_rules(rules_path(corpus_dir, settings.ingest.access_file))
        ingestor = build_ingestor(settings)
        report = ingestor.sync(corpus_dir, progress=progress, rebuild=rebuild)
        status = ingestor.status()
        recorded = ingestor.documents()
        documents = recorded if show_documents else []
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    finally:
        if bar is not None:
            bar.close()

    for skipped in report.skipped:
        click.echo(f"skipped {skipped.source}: {skipped.reason}", err=True)
    for failure in report.failed:
        hint = f" -> {failure.hint}" if failure.hint else ""
        click.echo(f"FAILED {failure.source}: {failure.reason}{hint}", err=True)
    for record in documents:
        groups = ", ".join(record.groups) or "NO GROUP: shown to nobody; add an access rule"
        click.echo(f"{record.source}\t{describe_record(record)}; access: {groups}")
    hidden = sum(1 for record in recorded if not record.groups)
    if hidden:
        click.echo(
            f"warning: {hidden} document(s) have no access group and are shown to nobody "
            "(no rule in the access file covers them); see `chatbot-ingest --list`",
            err=True,
        )
    click.echo(("rebuilt: " if report.rebuilt else "") + report.summary())
    click.echo(
        f"index: {status.documents} documents, {status.pages} pages, {status.chunks} chunks "
        f"(embedder {status.embedder})"
    )
    sys.exit(EXIT_OK if report.ok else EXIT_SOME_FAILED)


def _check(settings: Settings, corpus_dir: Path) -> NoReturn:
    """``--check``: compare the stores, print each problem, exit 0 or 3."""
    from chatbot.compose import build_keyword_index, build_vector_index
    from ingest.check import check_index

    try:
        keywords = build_keyword_index(settings, create=False)
        vectors = build_vector_index(settings, create=False)
        # The files are compared with the catalog only when the folder is there:
        # a check on a server that holds the index but not the corpus still works.
        report = check_index(keywords, vectors, corpus_dir if corpus_dir.is_dir() else None)
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    for problem in report.problems:
        click.echo(problem.line())
    for pending in report.needs_sync:
        click.echo(f"needs a sync: {pending.source} ({pending.reason}); run `chatbot-ingest`")
    click.echo(report.summary())
    sys.exit(EXIT_OK if report.ok else EXIT_INCONSISTENT)
