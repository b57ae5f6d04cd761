"""The embedded model on llama.cpp: an OpenAI-compatible server over the GGUF.

Run as ``python -m chatbot.llm.llama_server --model X.gguf ...`` by
``chatbot.llm.server.EmbeddedServer`` when the CPU's profile (or
``CHATBOT_EMBEDDED__ENGINE``) chooses llama.cpp. It is llama-cpp-python's own
server application with two changes that the rest of the project relies on:

* ``GET /health`` answers at once. llama-cpp-python's routes, ``/v1/models``
  included, wait for the model's lock, so while an answer is being written
  they would not answer, and the supervisor would take a busy server for a
  hung one.
* A new request does not cancel the one being streamed
  (``interrupt_requests=False``); requests wait their turn instead, and the
  app's admission control (``chatbot.admission``) keeps that line short.

Only this module imports ``llama_cpp``.
"""

from __future__ import annotations

import argparse
import os


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the GGUF file")
    parser.add_argument("--alias", required=True, help="the model name clients send")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n-ctx", type=int, default=4096, help="context length in tokens")
    parser.add_argument("--threads", type=int, default=0, help="0: every usable core")
    args = parser.parse_args(argv)
    threads = args.threads or len(os.sched_getaffinity(0))

    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    server = ServerSettings(host=args.host, port=args.port, interrupt_requests=False)
    model = ModelSettings(
        model=args.model,
        model_alias=args.alias,
        n_ctx=args.n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        seed=0,
        verbose=False,
    )
    print(f"llama.cpp: loading {args.model} with {threads} threads", flush=True)
    app = create_app(server_settings=server, model_settings=[model])

    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_api_route("/health", health, methods=["GET"])
    print("llama.cpp: model loaded; opening the HTTP port", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
