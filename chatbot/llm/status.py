"""The LLM's state as channels show it: starting (and for about how long yet),
ready, or unavailable with the reason.

A small value with no dependencies, so the web UI, the JSON API and the
pipeline's readiness check can share it without importing the server code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LLMState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class LLMStatus:
    """``elapsed_s`` and ``expected_s`` are set while starting; ``reason`` when
    unavailable."""

    state: LLMState
    elapsed_s: float = 0.0
    expected_s: float | None = None
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.state is LLMState.READY

    @property
    def remaining_s(self) -> float | None:
        """About how long start-up may still take (never below zero), or None."""
        if self.state is not LLMState.STARTING or self.expected_s is None:
            return None
        return max(self.expected_s - self.elapsed_s, 0.0)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for /health and the API."""
        out: dict[str, object] = {"state": self.state.value}
        if self.state is LLMState.STARTING:
            out["elapsed_s"] = round(self.elapsed_s, 1)
            if self.expected_s is not None:
                out["expected_s"] = round(self.expected_s, 1)
        if self.reason:
            out["reason"] = self.reason
        return out


READY = LLMStatus(LLMState.READY)
