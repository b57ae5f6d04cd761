"""What the CPU can do, and the vLLM serving profile chosen for it.

The same vLLM configuration that starts in two minutes on a CPU with AMX
misses a seven-minute timeout on an AVX2-only EPYC: bf16 is emulated there,
and torch.compile's warm-up (``CPUModelRunner.warming_up_model``) runs the
whole model through inductor before the port opens. So the embedded server
reads the CPU's flags once at start-up and picks a profile per CPU class:

==============  =====================================  ==========================
class           what marks it                          profile
==============  =====================================  ==========================
``amx``         ``amx_bf16`` + ``amx_tile``            bf16, compiled
``avx512_bf16`` ``avx512_bf16`` (no AMX)               bf16, eager
``avx512``      ``avx512f`` (no bf16 instructions)     float32, eager
``avx2``        ``avx2`` (no AVX-512)                  float32, eager
``baseline``    none of those                          float32, eager
==============  =====================================  ==========================

Why each choice, with the figures, is in the README ("The embedded LLM on
your CPU"); ``benchmarks/serving_configs.py`` measures them on any machine.
Eager mode (``--enforce-eager``) skips torch.compile and, with an explicit
KV-cache size, vLLM's warm-up pass altogether, so start-up is model loading
only; only where bf16 matrix units exist does the compiled graph pay back its
start-up cost in answer time.

Nothing here imports torch or vLLM: detection reads ``/proc/cpuinfo`` (a
file path or its text can be passed in, which is how the tests feed it the
flags of CPUs this machine is not).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

CpuClass = Literal["amx", "avx512_bf16", "avx512", "avx2", "baseline"]
Dtype = Literal["bfloat16", "float32"]
# Which server runs the embedded model: vLLM's CPU backend (bf16/float32
# weights) or llama.cpp's server on the 4-bit GGUF itself.
Engine = Literal["vllm", "llama.cpp"]

CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True, slots=True)
class CpuFeatures:
    """The few facts about the processor that change how vLLM should run."""

    model_name: str
    flags: frozenset[str]
    cores: int

    @property
    def cpu_class(self) -> CpuClass:
        f = self.flags
        if {"amx_bf16", "amx_tile"} <= f:
            return "amx"
        if "avx512_bf16" in f:
            return "avx512_bf16"
        if "avx512f" in f:
            return "avx512"
        if "avx2" in f:
            return "avx2"
        return "baseline"

    @property
    def has_bf16(self) -> bool:
        """bf16 arithmetic in hardware (AMX or AVX-512 BF16); elsewhere it is
        emulated and slower than float32."""
        return self.cpu_class in ("amx", "avx512_bf16")

    def describe(self) -> str:
        """One line for logs and benchmarks: model, class and the flags that decided it."""
        shown = sorted(self.flags & _DECIDING_FLAGS) or ["none of " + ", ".join(_DECIDING)]
        return f"{self.model_name} ({self.cores} cores): {self.cpu_class} [{' '.join(shown)}]"


_DECIDING = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")
_DECIDING_FLAGS = frozenset(_DECIDING)


def parse_cpuinfo(text: str) -> CpuFeatures:
    """Features from the text of ``/proc/cpuinfo``.

    The flags of the first processor entry count (a machine mixing feature
    sets across cores is not something vLLM handles either); the core count
    is the number of processor entries. Unknown or empty text yields a
    ``baseline`` CPU, the safest profile."""
    model = "unknown CPU"
    flags: frozenset[str] | None = None
    processors = 0
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        if key == "processor":
            processors += 1
        elif key == "model name" and model == "unknown CPU":
            model = value.strip()
        elif key == "flags" and flags is None:
            flags = frozenset(value.split())
    return CpuFeatures(model, flags or frozenset(), max(processors, 1))


def detect(cpuinfo: Path | str | None = None) -> CpuFeatures:
    """Features of this machine's CPU (or of the given cpuinfo file/text)."""
    if isinstance(cpuinfo, str):
        return parse_cpuinfo(cpuinfo)
    path = cpuinfo or CPUINFO
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    features = parse_cpuinfo(text)
    if path == CPUINFO:
        # cpuinfo lists every core of the host; the process may be allowed fewer.
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        if usable:
            features = CpuFeatures(features.model_name, features.flags, usable)
    return features


@dataclass(frozen=True, slots=True)
class ServingProfile:
    """Which engine serves the model on one CPU class, and how vLLM is
    started there when it is vLLM (or when ``CHATBOT_EMBEDDED__ENGINE=vllm``).

    ``startup_budget_s`` is what a first vLLM start (cold compile caches) was
    measured to need on two cores, with a margin; it becomes the default
    start-up timeout. llama.cpp's is ``LLAMA_CPP_STARTUP_S`` on every class."""

    cpu_class: CpuClass
    engine: Engine
    dtype: Dtype
    enforce_eager: bool
    max_num_seqs: int
    max_num_batched_tokens: int
    startup_budget_s: float
    why: str

    def describe(self) -> str:
        if self.engine == "llama.cpp":
            return "llama.cpp, 4-bit GGUF"
        mode = "eager" if self.enforce_eager else "compiled"
        return (
            f"{self.dtype}, {mode}, up to {self.max_num_seqs} sequences, "
            f"{self.max_num_batched_tokens} batched tokens"
        )


# llama.cpp maps the GGUF and opens its port within seconds (1.6-3.6 s
# measured on two cores); the budget covers a cold page cache on a slow disk
# and the one-time check of the file's checksum.
LLAMA_CPP_STARTUP_S = 120.0

# Passage tokens in a prompt on llama.cpp, where reading the prompt (about
# 45-75 tokens/s on two AVX2 cores) is most of an answer's time: on the own
# set's answerable questions 600 shows the gold page as often as the default
# 900 (96.5%), with the same gate decisions and a quarter fewer prompt tokens;
# 450 drops to 86% (benchmarks/prompt_recall.py).
LLAMA_CPP_PASSAGE_BUDGET = 600

# Four sequences cover the web UI plus an evaluation run on two cores; more
# only queue on the same cores. 4096 batched tokens hold one whole prompt
# (max_model_len), so a long prompt is read in one step.
_SEQS = 4
_BATCHED = 4096

_PROFILES: dict[CpuClass, ServingProfile] = {
    "amx": ServingProfile(
        "amx",
        "vllm",
        "bfloat16",
        enforce_eager=False,
        max_num_seqs=_SEQS,
        max_num_batched_tokens=_BATCHED,
        startup_budget_s=300.0,
        why="AMX multiplies bf16 in hardware; the compiled graph answers faster "
        "and its start-up fits the budget",
    ),
    "avx512_bf16": ServingProfile(
        "avx512_bf16",
        "vllm",
        "bfloat16",
        enforce_eager=True,
        max_num_seqs=_SEQS,
        max_num_batched_tokens=_BATCHED,
        startup_budget_s=240.0,
        why="AVX-512-BF16 has bf16 dot products but no AMX: on a Zen 4 EPYC eager started in "
        "66 s (compiled 142 s) and answered in 8.7 s (llama.cpp 20 s)",
    ),
    "avx512": ServingProfile(
        "avx512",
        "llama.cpp",
        "float32",
        enforce_eager=True,
        max_num_seqs=_SEQS,
        max_num_batched_tokens=_BATCHED,
        startup_budget_s=240.0,
        why="no bf16 instructions: vLLM would emulate bf16 or run float32 (half the "
        "decode speed); llama.cpp reads the 4-bit GGUF directly and starts in seconds",
    ),
    "avx2": ServingProfile(
        "avx2",
        "llama.cpp",
        "float32",
        enforce_eager=True,
        max_num_seqs=_SEQS,
        max_num_batched_tokens=_BATCHED,
        startup_budget_s=300.0,
        why="no AVX-512 or bf16 instructions: vLLM float32 missed 420 s to start on an "
        "EPYC and decodes at 3.3 tokens/s; llama.cpp on the 4-bit GGUF starts in seconds "
        "and decodes about 4.8x faster",
    ),
    "baseline": ServingProfile(
        "baseline",
        "llama.cpp",
        "float32",
        enforce_eager=True,
        max_num_seqs=_SEQS,
        max_num_batched_tokens=_BATCHED,
        startup_budget_s=600.0,
        why="an old or unknown CPU: llama.cpp, which needs no bf16 or AVX-512, with the "
        "longest budget",
    ),
}


def choose_profile(features: CpuFeatures) -> ServingProfile:
    """The serving profile for this CPU's class."""
    return _PROFILES[features.cpu_class]


def profile_for(cpu_class: CpuClass) -> ServingProfile:
    """The profile of a named class (for benchmarks and forced settings)."""
    return _PROFILES[cpu_class]
