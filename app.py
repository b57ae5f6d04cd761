"""Boundary's main job: ingest the corpus, start the LLM, serve the web UI.

``make run`` calls this. Steps, each reusing what is already built:

1. start the embedded vLLM CPU server in the background (embedded mode only;
   a healthy server already on the port is adopted);
2. sync ``corpus/`` into the indexes (unchanged files are skipped);
3. wait for the LLM server, then serve the Gradio UI on 127.0.0.1:7860.

Ctrl-C stops the UI and the server this process started.
"""

from __future__ import annotations

import logging
import signal
import sys

from chatbot.errors import BoundaryError
from chatbot.settings import Settings

log = logging.getLogger("boundary")


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # SIGTERM (systemd, docker stop, kill) must unwind like Ctrl-C does, so the
    # LLM server this process started is stopped in the finally block below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    settings = Settings()
    from chatbot.channels.gradio_ui import build_ui, launch
    from chatbot.compose import build_pipeline, build_stores, ingestor_for, status_line
    from chatbot.llm.server import EmbeddedServer

    server: EmbeddedServer | None = None
    try:
        base_url: str | None = None
        if settings.llm.mode == "embedded":
            server = EmbeddedServer(settings.embedded)
            server.launch()
        stores = build_stores(settings)
        report = ingestor_for(stores, settings).sync(settings.ingest.corpus_dir)
        log.info("ingestion: %s", report.summary())
        for failure in report.failed:
            log.warning("not indexed: %s", failure)
        if server is not None:
            base_url = server.wait()
        pipeline = build_pipeline(settings, base_url=base_url, stores=stores)
        model = pipeline.generator.model_name
        ui = build_ui(
            pipeline,
            status=lambda: status_line(stores, model),
            examples=[
                "When was the GenA.I. Sandbox launched, and by whom?",
                "How many use cases and banks were in the first cohort?",
                "What must happen before GenAI output is used in a customer communication?",
                "沙盒第二期於何時公佈？",
            ],
        )
        log.info("web UI on http://%s:%d", settings.ui.host, settings.ui.port)
        launch(ui, settings.ui.host, settings.ui.port)
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
