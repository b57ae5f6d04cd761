"""How the embedded LLM server is launched and watched from outside.

The command lines (vLLM's OpenAI-compatible API server, or llama.cpp's via
``chatbot.llm.llama_server``) and the environment for the server
(``chatbot.llm.server.EmbeddedServer`` fills them in from the CPU's serving
profile), the two probes every caller uses (is the port taken, does
``/health`` answer), and ``StartupProgress``, which names the start-up stages
as they appear in the server's log so the console is never silent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from chatbot.llm.cpu import ServingProfile
from chatbot.settings import EmbeddedLLMSettings

log = logging.getLogger(__name__)


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


def vllm_command(
    settings: EmbeddedLLMSettings,
    profile: ServingProfile,
    dtype: str,
    enforce_eager: bool,
    model_dir: Path,
    served_name: str,
) -> list[str]:
    """``python -m vllm.entrypoints.openai.api_server ...`` for one profile
    (``vllm serve`` does not work with the CPU package's metadata)."""
    return [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        served_name,
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--dtype",
        dtype,
        "--max-model-len",
        str(settings.max_model_len),
        "--max-num-seqs",
        str(profile.max_num_seqs),
        "--max-num-batched-tokens",
        str(max(profile.max_num_batched_tokens, settings.max_model_len)),
        "--seed",
        "0",
        "--disable-log-stats",
        *(["--enforce-eager"] if enforce_eager else []),
    ]


def llama_cpp_command(settings: EmbeddedLLMSettings, gguf: Path, served_name: str) -> list[str]:
    """``python -m chatbot.llm.llama_server ...``: llama.cpp's OpenAI-compatible
    server on the GGUF file itself (no conversion, no compile step)."""
    return [
        sys.executable,
        "-m",
        "chatbot.llm.llama_server",
        "--model",
        str(gguf),
        "--alias",
        served_name,
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--n-ctx",
        str(settings.max_model_len),
        "--threads",
        str(settings.threads),
    ]


def vllm_environment(settings: EmbeddedLLMSettings) -> dict[str, str]:
    """This process's environment plus what the CPU server needs: no reserved
    core, the KV cache size, offline hubs, no usage statistics, and Intel
    OpenMP preloaded where the venv has it."""
    env = dict(os.environ)
    env.update(
        {
            "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
            "VLLM_CPU_KVCACHE_SPACE": str(settings.kv_cache_gib),
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


def lower_priority(pid: int, nice: int) -> None:
    """Run the server below the app's CPU priority (``nice``). Called right
    after the exec, before vLLM forks its engine process, which inherits it.
    (Not ``preexec_fn``: the server is started from a thread.)"""
    if nice <= 0:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    except OSError as exc:
        log.warning("could not lower the LLM server's CPU priority: %s", exc)


def end_process_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """End the server's process group (SIGTERM, then SIGKILL after ``grace_s``)."""
    if proc.poll() is not None:
        # The API server is gone; its engine workers (same process group)
        # may not be, and they hold the model's memory.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace_s)
    except ProcessLookupError:
        pass


# vLLM log lines that mark a start-up stage, and what the console says for each.
_STAGES = (
    ("Initializing a V1 LLM engine", "vLLM engine initialising"),
    ("Starting to load model", "loading the model weights"),
    ("Loading weights took", "weights loaded"),
    ("Warming up model", "compiling and warming up the model (torch.compile)"),
    ("Warming up done", "warm-up done"),
    ("CPU KV cache size", "KV cache allocated"),
    ("Starting vLLM server on", "opening the HTTP port"),
    ("llama.cpp: loading", "loading the model weights (llama.cpp)"),
    ("llama.cpp: model loaded", "opening the HTTP port"),
)


class StartupProgress:
    """Reads the server's log as it grows and names each start-up stage once."""

    def __init__(self, log_file: Path, offset: int = 0) -> None:
        self.log_file = log_file
        self.offset = offset
        self.seen: set[str] = set()

    def poll(self) -> str | None:
        """The newest stage reached since the last call, or None."""
        try:
            with self.log_file.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return None
        self.offset += len(chunk)
        newest: str | None = None
        for line in chunk.decode("utf-8", errors="replace").splitlines():
            for marker, stage in _STAGES:
                if marker in line and stage not in self.seen:
                    self.seen.add(stage)
                    newest = stage
        return newest
