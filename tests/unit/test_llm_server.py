"""The embedded-server manager and weight builder, without starting vLLM."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chatbot.errors import ConfigurationError, GeneratorUnavailableError, ModelWeightsError
from chatbot.llm.launch import healthy, port_in_use
from chatbot.llm.server import EmbeddedServer
from chatbot.llm.weights import PACKAGED_MODELS, ensure_model, is_built
from chatbot.settings import EmbeddedLLMSettings


class Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def settings_for(port: int, tmp_path: Path, **extra: object) -> EmbeddedLLMSettings:
    return EmbeddedLLMSettings(
        port=port, cache_dir=tmp_path / "models", log_file=tmp_path / "vllm.log", **extra
    )


def test_a_healthy_server_on_the_port_is_adopted_not_restarted(
    health_server: int, tmp_path: Path
) -> None:
    server = EmbeddedServer(settings_for(health_server, tmp_path))
    assert server.start() == f"http://127.0.0.1:{health_server}/v1"
    assert server.adopted and server.process is None
    server.stop()  # leaves the adopted server alone
    assert healthy(f"http://127.0.0.1:{health_server}")


def test_a_busy_unhealthy_port_is_waited_for_then_reported(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])
        assert port_in_use("127.0.0.1", port)
        server = EmbeddedServer(settings_for(port, tmp_path, startup_timeout_s=1.5))
        with pytest.raises(GeneratorUnavailableError, match="did not become healthy"):
            server.start()
        assert server.process is None  # never started a second server on a busy port


def test_own_model_folder_must_look_like_a_model(tmp_path: Path) -> None:
    server = EmbeddedServer(settings_for(1, tmp_path, model_dir=tmp_path / "empty"))
    with pytest.raises(ConfigurationError, match=r"config\.json"):
        server.model_dir()


def test_command_serves_the_model_under_a_stable_name(tmp_path: Path) -> None:
    server = EmbeddedServer(settings_for(8123, tmp_path))
    command = server.command(tmp_path / "m")
    assert command[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert "--port" in command and "8123" in command
    env = server.environment()
    assert env["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0" and env["HF_HUB_OFFLINE"] == "1"


def test_unknown_packaged_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelWeightsError, match="MODEL_DIR"):
        ensure_model(tmp_path, "gpt-huge")


def test_a_folder_without_the_build_marker_is_not_trusted(tmp_path: Path) -> None:
    key = "qwen2.5-coder-0.5b-instruct"
    (tmp_path / key).mkdir()
    (tmp_path / key / "config.json").write_text("{}")
    assert not is_built(tmp_path, key)
    (tmp_path / key / "boundary-build.json").write_text('{"gguf_sha256": "wrong"}')
    assert not is_built(tmp_path, key)


def test_packaged_models_pin_every_part() -> None:
    spec = PACKAGED_MODELS["qwen2.5-coder-1.5b-instruct"]
    requirements = spec.requirements()
    assert len(requirements) == 22 and all(r.endswith("==0.2.0") for r in requirements)
    assert len(spec.sha256) == 64


def test_start_up_is_serialised_per_port(health_server: int, tmp_path: Path) -> None:
    first = EmbeddedServer(settings_for(health_server, tmp_path))
    second = EmbeddedServer(settings_for(health_server, tmp_path))
    first.launch()  # holds the per-port lock until wait()
    done = threading.Event()

    def start_second() -> None:
        second.start()
        done.set()

    thread = threading.Thread(target=start_second, daemon=True)
    thread.start()
    assert not done.wait(0.5)  # blocked behind the first start-up
    first.wait()
    assert done.wait(5) and second.adopted


def test_start_up_progress_names_each_stage_once_as_the_log_grows(tmp_path: Path) -> None:
    from chatbot.llm.launch import StartupProgress

    log = tmp_path / "vllm.log"
    log.write_text("old run: Starting to load model x\n", encoding="utf-8")
    progress = StartupProgress(log, offset=log.stat().st_size)  # earlier runs do not count
    assert progress.poll() is None
    with log.open("a", encoding="utf-8") as handle:
        handle.write("(Worker) INFO [cpu_model_runner.py:68] Starting to load model m...\n")
    assert progress.poll() == "loading the model weights"
    with log.open("a", encoding="utf-8") as handle:
        handle.write("Loading weights took 4.04 seconds\nWarming up model for the compilation...\n")
        handle.write("Starting to load model again\n")  # a stage already named is not repeated
    assert progress.poll() == "compiling and warming up the model (torch.compile)"
    assert progress.poll() is None
    assert StartupProgress(tmp_path / "missing.log").poll() is None
