"""``chatbot-llm``: build and run the embedded vLLM CPU server by hand.

Examples::

    chatbot-llm build            # fetch + verify + convert the packaged weights
    chatbot-llm serve            # run the server in the foreground (Ctrl-C stops it)
    chatbot-llm check            # is the configured LLM server answering?
    chatbot-llm check --speed    # ... and how fast (time to first token, tokens/s)
    chatbot-llm cpu              # the CPU class and the serving profile chosen for it
"""

from __future__ import annotations

import signal
import sys
import time

import click

from chatbot.errors import BoundaryError
from chatbot.logs import configure_logging
from chatbot.settings import Settings


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """Manage the embedded LLM server (vLLM, CPU build)."""
    configure_logging(2 if verbose else 1)


@main.command()
def build() -> None:
    """Build the packaged model folder (idempotent).

    Example: chatbot-llm build
    """
    from chatbot.llm.server import EmbeddedServer

    settings = Settings()
    try:
        folder = EmbeddedServer(settings.embedded).model_dir()
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"model ready: {folder}")


@main.command()
def serve() -> None:
    """Start the embedded server and keep it running until interrupted.

    Example: CHATBOT_EMBEDDED__PORT=8012 chatbot-llm serve
    """
    from chatbot.llm.server import EmbeddedServer

    settings = Settings()
    server = EmbeddedServer(settings.embedded)
    try:
        url = server.start()
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"serving at {url} (log: {settings.embedded.log_file}); Ctrl-C to stop")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while server.process is None or server.process.poll() is None:
            time.sleep(1)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()


@main.command()
def cpu() -> None:
    """Show this machine's CPU class and the serving profile chosen for it.

    Example: chatbot-llm cpu
    """
    from chatbot.llm.server import EmbeddedServer

    click.echo(EmbeddedServer(Settings().embedded).describe())


@main.command()
@click.option("--speed", is_flag=True, help="Also time first token and tokens/s (~30 s).")
def check(speed: bool) -> None:
    """Send one tiny chat request to the configured server.

    Example: CHATBOT_LLM__MODE=remote CHATBOT_LLM__BASE_URL=http://gpu:8000/v1 chatbot-llm check
    """
    from chatbot.compose import build_generator, llm_base_url
    from chatbot.llm.speed import measure_speed

    settings = Settings()
    try:
        generator = build_generator(settings, base_url=None)
        started = time.perf_counter()
        from chatbot.protocols import ChatMessage

        text = "".join(generator.stream([ChatMessage("user", "Reply with the word: ready")]))
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(
        f"model {generator.model_name} answered {text.strip()!r} in "
        f"{time.perf_counter() - started:.2f}s"
    )
    if speed:
        key = settings.llm.api_key.get_secret_value()
        click.echo(measure_speed(llm_base_url(settings), generator.model_name, key).describe())
