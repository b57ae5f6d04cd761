"""What the embedded LLM server runs on this machine, and why.

``ServingChoice`` joins the CPU's serving profile (``chatbot.llm.cpu``) with
the ``CHATBOT_EMBEDDED__`` settings that override it: the engine (vLLM or
llama.cpp), vLLM's dtype and execution mode, how many answers are written at
once, and the start-up budget. ``chatbot.llm.server.EmbeddedServer`` is a
``ServingChoice`` that also runs the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chatbot.llm.cpu import (
    LLAMA_CPP_PASSAGE_BUDGET,
    LLAMA_CPP_STARTUP_S,
    CpuFeatures,
    Engine,
    ServingProfile,
    choose_profile,
    detect,
    profile_for,
)
from chatbot.settings import EmbeddedLLMSettings


@dataclass
class ServingChoice:
    """The serving configuration for ``settings`` on ``cpu`` (detected when None)."""

    settings: EmbeddedLLMSettings
    cpu: CpuFeatures | None = None

    def __post_init__(self) -> None:
        if self.cpu is None:
            self.cpu = detect()

    @property
    def profile(self) -> ServingProfile:
        """The serving profile: the forced class's, else the detected CPU's."""
        forced = self.settings.cpu_class
        assert self.cpu is not None
        return choose_profile(self.cpu) if forced == "auto" else profile_for(forced)

    @property
    def engine(self) -> Engine:
        """Which server runs the model: the setting, else llama.cpp for a GGUF
        file of the bank's own (``model_dir``), else the profile's choice."""
        chosen = self.settings.engine
        if chosen != "auto":
            return chosen
        if is_gguf(self.settings.model_dir):
            return "llama.cpp"
        return self.profile.engine

    @property
    def places(self) -> int:
        """Answers the server writes at once: llama.cpp's server one, vLLM the
        profile's batch of sequences (the admission control's default places)."""
        return 1 if self.engine == "llama.cpp" else self.profile.max_num_seqs

    @property
    def passage_budget(self) -> int | None:
        """Passage tokens per prompt for this engine, or None for the configured
        budget: llama.cpp's prompt reading is most of an answer's time, and
        ``LLAMA_CPP_PASSAGE_BUDGET`` keeps the gold pages (``chatbot.llm.cpu``)."""
        return LLAMA_CPP_PASSAGE_BUDGET if self.engine == "llama.cpp" else None

    @property
    def dtype(self) -> str:
        return self.profile.dtype if self.settings.dtype == "auto" else self.settings.dtype

    @property
    def enforce_eager(self) -> bool:
        chosen = self.settings.enforce_eager
        return self.profile.enforce_eager if chosen is None else chosen

    @property
    def startup_timeout_s(self) -> float:
        chosen = self.settings.startup_timeout_s
        if chosen is not None:
            return chosen
        return LLAMA_CPP_STARTUP_S if self.engine == "llama.cpp" else self.profile.startup_budget_s

    def describe(self) -> str:
        """The CPU and the configuration chosen for it, for the console and benchmarks."""
        assert self.cpu is not None
        mode = "eager" if self.enforce_eager else "compiled"
        s = self.settings
        overridden = [
            name
            for name, value in (
                ("engine", s.engine != "auto"),
                ("cpu_class", s.cpu_class != "auto"),
                ("dtype", s.dtype != "auto"),
                ("enforce_eager", s.enforce_eager is not None),
                ("startup_timeout_s", s.startup_timeout_s is not None),
            )
            if value
        ]
        why = f"set by CHATBOT_EMBEDDED__: {', '.join(overridden)}; " if overridden else ""
        # The profile's reason speaks of its own engine; a forced other one has none.
        reason = self.profile.why if self.engine == self.profile.engine else "engine forced"
        if is_gguf(s.model_dir) and s.engine == "auto":
            reason = "CHATBOT_EMBEDDED__MODEL_DIR is a GGUF file, which llama.cpp serves"
        serving = (
            "llama.cpp on the 4-bit GGUF"
            if self.engine == "llama.cpp"
            else f"vLLM {self.dtype}, {mode}"
        )
        return (
            f"CPU {self.cpu.describe()}; serving {serving}, "
            f"start-up budget {self.startup_timeout_s:.0f}s ({why}{reason})"
        )


def is_gguf(path: Path | None) -> bool:
    """Whether ``model_dir`` names a GGUF file rather than a model folder."""
    return path is not None and path.suffix.lower() == ".gguf"
