"""Time to first token and decode speed of an OpenAI-compatible server.

Used by ``chatbot-llm check`` and the benchmarks, so an operator sees the
same two figures the README's hardware table is made of: how long the model
takes to read a prompt the size the pipeline sends (about 1,200 tokens with
four passages), and how many tokens per second it writes.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import httpx

# About 1,200 tokens, like a four-passage prompt.
_FILLER = (
    "The sandbox report describes how participating banks tested generative AI use cases "
    "under supervision, with attention to data governance, model risk and customer "
    "protection. "
)
PROMPT = _FILLER * 40 + "In one sentence: what does the report describe?"
DECODE_TOKENS = 96


@dataclass(frozen=True, slots=True)
class Speed:
    ttft_s: float
    tokens_per_s: float

    def describe(self) -> str:
        return (
            f"time to first token {self.ttft_s:.2f}s on a ~1,200-token prompt, "
            f"{self.tokens_per_s:.1f} tokens/s"
        )


def measure_speed(
    base_url: str, model: str, api_key: str = "EMPTY", rounds: int = 2, timeout_s: float = 600
) -> Speed:
    """Median over ``rounds`` of: a 1-token reply to ``PROMPT`` (time to first
    token; each round's prompt differs in its first word so no prefix cache
    helps) and a ``DECODE_TOKENS``-token reply to a short prompt (tokens/s).
    ``base_url`` ends in /v1. Raises ``httpx.HTTPError`` when the server fails."""
    firsts: list[float] = []
    speeds: list[float] = []
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=base_url, timeout=timeout_s, headers=headers) as client:
        for index in range(rounds):
            body: dict[str, object] = {
                "model": model,
                "messages": [{"role": "user", "content": f"Round {index}. {PROMPT}"}],
                "max_tokens": 1,
                "temperature": 0,
            }
            started = time.perf_counter()
            client.post("/chat/completions", json=body).raise_for_status()
            firsts.append(time.perf_counter() - started)
            body = {
                "model": model,
                "messages": [{"role": "user", "content": "Count from 1 to 200, comma separated."}],
                "max_tokens": DECODE_TOKENS,
                "min_tokens": DECODE_TOKENS,
                "temperature": 0,
            }
            started = time.perf_counter()
            reply = client.post("/chat/completions", json=body)
            reply.raise_for_status()
            tokens = int(reply.json()["usage"]["completion_tokens"])
            speeds.append(tokens / (time.perf_counter() - started))
    return Speed(statistics.median(firsts), statistics.median(speeds))
