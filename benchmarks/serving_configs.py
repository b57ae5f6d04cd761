"""Start-up and speed of the embedded vLLM under several serving configurations.

For each configuration it starts the real server with empty compile caches
(fresh ``VLLM_CACHE_ROOT`` and ``TORCHINDUCTOR_CACHE_DIR`` folders), times
how long until /health answers (cold), optionally stops and starts it again on
the now-filled caches (warm), then measures time to first token on a prompt
the size the pipeline sends (~1,200 tokens) and decode speed in tokens/s.
The first configuration is the baseline the others are divided by.

    .venv/bin/python benchmarks/serving_configs.py                 # the default set
    .venv/bin/python benchmarks/serving_configs.py --only eager-fp32,compiled-bf16 --warm
    # approximate an AVX2-only CPU on a machine with AMX (torch/oneDNN only; vLLM's
    # own kernels still see AVX-512):
    .venv/bin/python benchmarks/serving_configs.py --emulate-avx2

Needs the model folder (`chatbot-llm build`) and nothing on port 8019.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass

import click
from common import fresh_compile_caches, start_timed

from chatbot.llm.cpu import detect
from chatbot.llm.server import SERVED_NAME, EmbeddedServer
from chatbot.llm.speed import measure_speed
from chatbot.settings import Settings

CONFIGS: dict[str, dict[str, object]] = {
    "compiled-bf16": {"dtype": "bfloat16", "enforce_eager": False},
    "eager-bf16": {"dtype": "bfloat16", "enforce_eager": True},
    "eager-fp32": {"dtype": "float32", "enforce_eager": True},
    "compiled-fp32": {"dtype": "float32", "enforce_eager": False},
}
# Extra server environment per configuration. "-noaot": vLLM's AOT compile
# cache, which fails to load on the CPU backend in vLLM 0.32 ("'function'
# object has no attribute 'finalize_loading'"), switched off so a warm start
# can reuse torch inductor's own cache instead.
CONFIG_ENV: dict[str, dict[str, str]] = {}
for _name in ("compiled-bf16", "compiled-fp32"):
    CONFIGS[f"{_name}-noaot"] = CONFIGS[_name]
    CONFIG_ENV[f"{_name}-noaot"] = {"VLLM_USE_AOT_COMPILE": "0"}


BENCH_PORT = 8019


@dataclass(frozen=True)
class Measured:
    name: str
    cold_s: float
    warm_s: float | None
    ttft_s: float
    tokens_per_s: float


def measure(
    name: str, warm: bool, rounds: int, extra_env: dict[str, str], model: str | None
) -> Measured:
    settings = Settings().embedded.model_copy(update=CONFIGS[name])
    if model:
        settings = settings.model_copy(update={"model": model})
    # Its own port: a server already healthy on the usual one would be adopted
    # instead of started, and nothing would be measured.
    settings = settings.model_copy(update={"startup_timeout_s": 1800.0, "port": BENCH_PORT})
    with fresh_compile_caches({**CONFIG_ENV.get(name, {}), **extra_env}):
        server = EmbeddedServer(settings)
        click.echo(f"[{name}] {server.describe()}", err=True)
        try:
            cold = start_timed(server)
            warm_s: float | None = None
            if warm:
                server.stop()
                server = EmbeddedServer(settings)
                warm_s = start_timed(server)
            speed = measure_speed(server.base_url, SERVED_NAME, rounds=rounds)
        finally:
            server.stop()
    return Measured(name, cold, warm_s, speed.ttft_s, speed.tokens_per_s)


@click.command()
@click.option("--only", default="", help="Comma-separated configuration names.")
@click.option("--warm", is_flag=True, help="Also time a second start on the filled caches.")
@click.option("--rounds", default=3, show_default=True, help="TTFT/decode repetitions.")
@click.option(
    "--model",
    default=None,
    help="Packaged model to serve (e.g. qwen2.5-coder-0.5b-instruct) [default: the configured].",
)
@click.option(
    "--emulate-avx2",
    is_flag=True,
    help="ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2, MKL_ENABLE_INSTRUCTIONS=AVX2.",
)
def main(only: str, warm: bool, rounds: int, model: str | None, emulate_avx2: bool) -> None:
    # SIGTERM must unwind so the server started here is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    names = [n.strip() for n in only.split(",") if n.strip()] or list(CONFIGS)
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        raise click.BadParameter(f"unknown configurations {unknown}; known: {sorted(CONFIGS)}")
    extra = (
        {
            "ATEN_CPU_CAPABILITY": "avx2",
            "ONEDNN_MAX_CPU_ISA": "AVX2",
            "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        }
        if emulate_avx2
        else {}
    )
    click.echo(f"CPU: {detect().describe()}")
    if emulate_avx2:
        click.echo("emulating AVX2 for torch, oneDNN and MKL (vLLM's own kernels are not affected)")
    results = []
    for name in names:
        results.append(measure(name, warm, rounds, extra, model))
        last = results[-1]
        click.echo(f"  measured {last}", err=True)  # kept even if a later one fails
    base = results[0]
    click.echo(
        f"{'configuration':20s} {'cold s':>7s} {'warm s':>7s} {'TTFT s':>7s} {'tok/s':>6s} "
        f"{'cold/base':>9s} {'TTFT/base':>9s} {'tok/s/base':>10s}"
    )
    for r in results:
        warm_text = f"{r.warm_s:7.1f}" if r.warm_s is not None else f"{'-':>7s}"
        click.echo(
            f"{r.name:20s} {r.cold_s:7.1f} {warm_text} {r.ttft_s:7.2f} {r.tokens_per_s:6.1f} "
            f"{r.cold_s / base.cold_s:9.2f} {r.ttft_s / base.ttft_s:9.2f} "
            f"{r.tokens_per_s / base.tokens_per_s:10.2f}"
        )


if __name__ == "__main__":
    main()
