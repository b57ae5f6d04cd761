"""The web UI's admin tab: corpus status, document upload, re-indexing.

Handlers call ``CorpusAdmin`` and render its typed results (``IndexStatus``,
``SavedUploads``, ``IngestReport``) as Markdown; progress of an ingestion run
is shown per file with ``gr.Progress``.

Admin only: every handler first asks ``guard`` for the request's principal,
which is None (and an audit row) unless they are in the admin group; the
tab's content is only ever rendered by a handler, never at build time. The
documents listed are those the administrator's own groups may see, with a
count of the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from chatbot.access import Audience, Principal
from chatbot.admin import (
    CorpusAdmin,
    SavedUploads,
    supported_extensions,
)
from chatbot.channels.i18n import text
from chatbot.errors import BoundaryError, IngestionBusyError

if TYPE_CHECKING:
    from chatbot.assistant import Assistant
    from chatbot.catalog import DocumentRecord
    from ingest.sync_report import IngestReport

log = logging.getLogger(__name__)


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


Guard = Callable[[Any], Principal | None]
"""The admin principal behind a ``gr.Request``, or None when not allowed."""


def status_markdown(
    admin: CorpusAdmin, assistant: Assistant, language: str, audience: Audience
) -> str:
    """Documents, pages, chunks, last ingestion, models and gate thresholds."""
    status = admin.status()
    gate = assistant.pipeline.gate
    last = status.last_ingested_at
    when = last.strftime("%Y-%m-%d %H:%M UTC") if last else text("never", language)
    try:
        model = assistant.pipeline.generator.model_name
    except BoundaryError as exc:  # the model name may need the server; it may be down
        model = f"unavailable ({exc})"
    rows = [
        (text("documents", language), str(status.documents)),
        (text("pages", language), str(status.pages)),
        (text("chunks", language), str(status.chunks)),
        (text("last_ingested", language), when),
        (text("embedder", language), status.embedder or "—"),
        (text("llm", language), model),
        (
            text("gate", language),
            f"dense ≥ {gate.min_dense_score} (zh {gate.min_dense_score_cjk}), "
            f"coverage ≥ {gate.min_term_coverage} (zh {gate.min_term_coverage_cjk}), "
            f"support ≥ {gate.min_support}",
        ),
    ]
    table = "\n".join(f"| {_cell(k)} | {_cell(v)} |" for k, v in rows)
    status_table = f"### {text('status', language)}\n\n| | |\n|---|---|\n{table}"
    listed = identities_markdown(admin.documents(audience), language)
    hidden = admin.hidden_count(audience)
    if hidden:
        listed += "\n\n" + text("hidden_documents", language).format(n=hidden)
    return f"{status_table}\n\n{listed}"


# The Admin tab lists at most this many documents; the CLI lists all of them.
MAX_LISTED = 200


def identities_markdown(records: Sequence[DocumentRecord], language: str) -> str:
    """What ingestion detected per document (label, period and where it came
    from, version), so the corpus owner can check the identity rules."""
    head = (text("file", language), text("label", language), text("period", language))
    lines = [
        f"### {text('identities', language)}",
        "",
        f"| {head[0]} | {head[1]} | {head[2]} | {text('version', language)} | "
        f"{text('access', language)} |",
        "|---|---|---|---|---|",
    ]
    for record in records[:MAX_LISTED]:
        ctx = record.context
        period = f"{ctx.period} ({record.period_from})" if ctx.period else "—"
        version = ctx.version + (f" ({ctx.effective})" if ctx.effective else "")
        lines.append(
            f"| `{_cell(record.source)}` | {_cell(ctx.label or record.title)} | {period} | "
            f"{_cell(version or '—')} | {_cell(', '.join(record.groups) or '—')} |"
        )
    if len(records) > MAX_LISTED:
        lines += ["", text("more_documents", language).format(n=len(records) - MAX_LISTED)]
    return "\n".join(lines)


def report_markdown(
    report: IngestReport | None, language: str, uploads: SavedUploads | None = None
) -> str:
    lines: list[str] = []
    if uploads is not None:
        if uploads.saved:
            lines.append(f"**{text('saved', language)}:** " + ", ".join(uploads.saved))
        for rejected in uploads.rejected:
            lines.append(
                f"- ❌ {text('rejected', language)}: `{rejected.name}` ({rejected.reason})"
            )
    if report is not None:
        mark = "✅" if report.ok else "⚠️"
        lines.append(f"{mark} **{text('report', language)}:** {report.summary()}")
        if report.failed:
            lines += ["", f"**{text('failed', language)}**", "", "| file | reason | hint |"]
            lines.append("|---|---|---|")
            lines += [
                f"| `{_cell(f.source)}` | {_cell(f.reason)} | {_cell(f.hint)} |"
                for f in report.failed
            ]
    return "\n".join(lines)


def build_admin_tab(
    admin: CorpusAdmin, assistant: Assistant, language: gr.Radio, guard: Guard
) -> tuple[Callable[[str], list[Any]], list[Any]]:
    """Lay out the tab (inside ``gr.Tabs``, hidden until the page knows the
    user is an admin); returns the relabel function for the language toggle
    and the components it updates, in order."""
    with gr.Tab(text("tab_admin"), id="admin-tab", elem_id="admin-tab", visible=False) as tab:
        status = gr.Markdown("", elem_id="corpus-status")
        refresh = gr.Button(text("refresh"), size="sm", elem_id="refresh-status")
        upload_heading = gr.Markdown(f"### {text('upload')}\n{text('upload_hint')}")
        files = gr.File(
            file_count="multiple",
            file_types=supported_extensions(),
            type="filepath",
            label=text("upload"),
            elem_id="upload-files",
        )
        with gr.Row():
            upload = gr.Button(text("upload_button"), variant="primary", elem_id="upload")
            reindex = gr.Button(text("reindex"), elem_id="reindex")
            rebuild = gr.Checkbox(False, label=text("rebuild"), elem_id="rebuild")
        report = gr.Markdown(elem_id="ingest-report")

    def shown_to(principal: Principal | None, lang: str) -> str:
        if principal is None:
            return text("admin_only", lang)
        return status_markdown(admin, assistant, lang, Audience.of(principal))

    def show_status(lang: str, request: gr.Request) -> str:
        return shown_to(guard(request), lang)

    def run_sync(
        principal: Principal,
        lang: str,
        full: bool,
        progress: gr.Progress,
        saved: SavedUploads | None = None,
    ) -> tuple[str, str]:
        def step(source: str, done: int, total: int) -> None:
            progress((done, total), desc=f"{text('indexing', lang)}: {source}")

        try:
            result = admin.sync(step, rebuild=full)
        except IngestionBusyError:
            return text("busy", lang), shown_to(principal, lang)
        except BoundaryError as exc:
            log.warning("web ingestion failed: %s", exc)
            return f"⚠️ {exc}", shown_to(principal, lang)
        return report_markdown(result, lang, saved), shown_to(principal, lang)

    def on_upload(
        paths: Sequence[str] | None,
        lang: str,
        full: bool,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's injection idiom)
    ) -> tuple[str, str, None]:
        principal = guard(request)
        if principal is None:
            return text("admin_only", lang), text("admin_only", lang), None
        if not paths:
            return text("no_files", lang), shown_to(principal, lang), None
        saved = admin.save_uploads([(Path(p).name, Path(p)) for p in paths])
        if not saved.saved:
            return report_markdown(None, lang, saved), shown_to(principal, lang), None
        shown, current = run_sync(principal, lang, full, progress, saved)
        return shown, current, None

    def on_reindex(
        lang: str,
        full: bool,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, str]:
        principal = guard(request)
        if principal is None:
            return text("admin_only", lang), text("admin_only", lang)
        return run_sync(principal, lang, full, progress)

    # One ingestion at a time across all sessions.
    upload.click(
        on_upload,
        [files, language, rebuild],
        [report, status, files],
        concurrency_limit=1,
        concurrency_id="ingest",
    )
    reindex.click(on_reindex, [language, rebuild], [report, status], concurrency_id="ingest")
    refresh.click(show_status, language, status)
    tab.select(show_status, language, status)

    def relabel(lang: str) -> list[Any]:
        # The status is re-rendered (in the new language) when the tab is
        # opened, by a handler that checks the role.
        return [
            gr.update(label=text("tab_admin", lang)),
            gr.update(),
            gr.update(value=text("refresh", lang)),
            f"### {text('upload', lang)}\n{text('upload_hint', lang)}",
            gr.update(label=text("upload", lang)),
            gr.update(value=text("upload_button", lang)),
            gr.update(value=text("reindex", lang)),
            gr.update(label=text("rebuild", lang)),
        ]

    return relabel, [tab, status, refresh, upload_heading, files, upload, reindex, rebuild]
