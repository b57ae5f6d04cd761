"""Boundary's main job: ingest the corpus, start the LLM, serve the web UI.

``make run`` calls this. Steps, each reusing what is already built:

1. start the embedded vLLM CPU server in a background thread (embedded mode
   only; the model folder is built first if missing; a healthy server already
   on the port is adopted). Its configuration follows the CPU
   (``chatbot.llm.cpu``) and the console reports each start-up stage;
2. sync ``corpus/`` into the indexes (unchanged files are skipped; off with
   ``CHATBOT_INGEST__ON_START=false``, for replicas that only answer);
3. serve one web app on 127.0.0.1:7860 at once, without waiting for the LLM:
   the Gradio UI at /, the JSON API under /v1 (docs at /docs), cited
   documents under /sources, and Slack's /slack/events when Slack HTTP mode is
   set. While the LLM starts, the page and /health say so, questions the gate
   refuses are answered, and those that need the model are told it is still
   starting.

Ctrl-C stops the UI and the server this process started.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from chatbot.errors import BoundaryError
from chatbot.logs import configure_logging
from chatbot.settings import Settings

if TYPE_CHECKING:
    from slack_bolt import App as SlackApp

    from chatbot.assistant import Assistant
    from chatbot.llm.server import EmbeddedServer

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
    from chatbot.compose import build_directory

    log.info("Slack events endpoint at /slack/events")
    return slack_app_from_settings(assistant, cfg, build_directory(settings))


def _start_llm(server: EmbeddedServer) -> None:
    """Thread body: build/launch the server, wait for it, then watch it; a
    failure is kept in ``server.status()`` for the page and /health, and
    logged with its fix."""
    try:
        server.start()
        server.supervise()  # restarted when it exits or hangs, reported down past the limit
    except BoundaryError as exc:
        log.error("the LLM did not start: %s", exc)
    except Exception as exc:  # the thread must not die silently
        server.fail(f"unexpected error while starting: {exc}")
        log.exception("the LLM did not start")


def main() -> int:
    configure_logging(verbose=1)
    # SIGTERM (systemd, docker stop, kill) must unwind like Ctrl-C does, so the
    # LLM server this process started is stopped in the finally block below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    settings = Settings()
    import uvicorn

    from chatbot.admin import CorpusAdmin
    from chatbot.assistant import Assistant
    from chatbot.channels.web_app import create_web_app
    from chatbot.compose import (
        build_audit,
        build_generator,
        build_pipeline,
        build_stores,
        build_web_access,
        ingestor_for,
        limit_answering_threads,
        llm_base_url,
    )
    from chatbot.llm.readiness import readiness_wrapped
    from chatbot.llm.server import SERVED_NAME, EmbeddedServer
    from chatbot.llm.status import READY, LLMStatus
    from chatbot.protocols import Generator
    from chatbot.signin import require_safe_bind

    server: EmbeddedServer | None = None
    assistant: Assistant | None = None
    try:
        # Before anything starts: no sign-in configured means 127.0.0.1 only.
        access = build_web_access(settings)
        require_safe_bind(access.signin, settings.ui.host)
        llm_status: Callable[[], LLMStatus] = lambda: READY  # noqa: E731
        generator: Generator = build_generator(settings, llm_base_url(settings))
        if settings.llm.mode == "embedded":
            server = EmbeddedServer(settings.embedded)
            threading.Thread(target=_start_llm, args=(server,), daemon=True).start()
            llm_status = server.status
            generator = readiness_wrapped(generator, server.status, SERVED_NAME)
        stores = build_stores(settings)
        ingestor = ingestor_for(stores, settings)
        if settings.ingest.on_start:
            report = ingestor.sync(settings.ingest.corpus_dir)
            log.info("ingestion: %s", report.summary())
            for failure in report.failed:
                log.warning("not indexed: %s", failure)
        else:
            log.info("ingestion at start is off (CHATBOT_INGEST__ON_START=false)")
        # After the bulk work: answering embeds one question at a time.
        limit_answering_threads(settings)
        pipeline = build_pipeline(settings, stores=stores, generator=generator)
        assistant = Assistant(pipeline, build_audit(settings))
        admin = CorpusAdmin(ingestor, stores.keywords, settings.ingest.corpus_dir)
        app = create_web_app(
            assistant,
            admin,
            access=access,
            examples=EXAMPLES,
            slack=_slack_app(settings, assistant),
            llm_status=llm_status,
        )
        log.info(
            "web UI on http://%s:%d (JSON API under /v1, docs at /docs); LLM: %s; sign-in: %s",
            settings.ui.host,
            settings.ui.port,
            llm_status().state.value,
            "single-user (127.0.0.1 only)" if access.signin.mode == "local" else "SSO / tokens",
        )
        # proxy_headers off: sign-in checks the socket's own peer address.
        uvicorn.run(
            app,
            host=settings.ui.host,
            port=settings.ui.port,
            log_level="warning",
            proxy_headers=False,
        )
    except BoundaryError as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        if assistant is not None:
            assistant.close()
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
