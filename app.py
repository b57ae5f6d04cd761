"""Boundary's main job: ingest the corpus, start the LLM, serve the web UI.

``make run`` calls this. Steps, each reusing what is already built:

1. start the embedded vLLM CPU server in the background (embedded mode only;
   a healthy server already on the port is adopted);
2. sync ``corpus/`` into the indexes (unchanged files are skipped);
3. wait for the LLM server, then serve one web app on 127.0.0.1:7860: the
   Gradio UI at /, the JSON API under /v1 (docs at /docs), cited documents
   under /sources, and Slack's /slack/events when Slack HTTP mode is set.

Ctrl-C stops the UI and the server this process started.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import TYPE_CHECKING

from chatbot.errors import BoundaryError
from chatbot.settings import Settings

if TYPE_CHECKING:
    from slack_bolt import App as SlackApp

    from chatbot.channels.assistant import Assistant

log = logging.getLogger("boundary")

EXAMPLES = [
    "When was the GenA.I. Sandbox launched, and by whom?",
    "How many use cases and banks were in the first cohort?",
    "What must happen before GenAI output is used in a customer communication?",
    "沙盒第二期於何時公佈？",
]


def _slack_app(settings: Settings, assistant: Assistant) -> SlackApp | None:
    """The Slack app when HTTP mode is fully configured, else None (no endpoint)."""
    cfg = settings.slack
    if cfg.mode != "http" or cfg.bot_token is None or cfg.signing_secret is None:
        return None
    from chatbot.channels.slack_bot import slack_app_from_settings

    log.info("Slack events endpoint at /slack/events")
    return slack_app_from_settings(assistant, cfg)


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # SIGTERM (systemd, docker stop, kill) must unwind like Ctrl-C does, so the
    # LLM server this process started is stopped in the finally block below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    settings = Settings()
    import uvicorn

    from chatbot.audit import AuditStore
    from chatbot.channels.admin import CorpusAdmin
    from chatbot.channels.assistant import Assistant
    from chatbot.channels.web_app import create_web_app
    from chatbot.compose import build_pipeline, build_stores, ingestor_for
    from chatbot.llm.server import EmbeddedServer

    server: EmbeddedServer | None = None
    try:
        base_url: str | None = None
        if settings.llm.mode == "embedded":
            server = EmbeddedServer(settings.embedded)
            server.launch()
        stores = build_stores(settings)
        ingestor = ingestor_for(stores, settings)
        report = ingestor.sync(settings.ingest.corpus_dir)
        log.info("ingestion: %s", report.summary())
        for failure in report.failed:
            log.warning("not indexed: %s", failure)
        if server is not None:
            base_url = server.wait()
        pipeline = build_pipeline(settings, base_url=base_url, stores=stores)
        cfg = settings.audit
        audit = AuditStore(cfg.path, cfg.retention_days) if cfg.enabled else None
        assistant = Assistant(pipeline, audit)
        admin = CorpusAdmin(ingestor, stores.keywords, settings.ingest.corpus_dir)
        app = create_web_app(
            assistant, admin, examples=EXAMPLES, slack=_slack_app(settings, assistant)
        )
        log.info(
            "web UI on http://%s:%d (JSON API under /v1, docs at /docs)",
            settings.ui.host,
            settings.ui.port,
        )
        uvicorn.run(app, host=settings.ui.host, port=settings.ui.port, log_level="warning")
    except BoundaryError as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
