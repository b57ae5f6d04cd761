"""A bounded load generator for the JSON API: simulated staff asking
questions at once, for the short load test and ``benchmarks/load_bench.py``.

Each simulated user loops until the run's time is up: it thinks for a
moment (``think_s``), then does one thing from a realistic mix: a question the gate
refuses (off topic or pushing the boundary, from the own set), a question
the documents answer, a follow-up in the same conversation after an answer,
or feedback on its last reply. Every request is classified by what came
back: ``answer``, ``gate_refusal`` (refused before any LLM call),
``follow_up_refusal`` (refused at the gate after an LLM call: a follow-up's
rewrite into a standalone question, by the server's timings, so it waits for
the model like an answer),
``llm_refusal`` (the model's answer did not verify), ``busy`` (HTTP 429;
it must carry ``Retry-After``), ``starting`` (503 while the model starts),
``feedback``, ``fault`` (any other 4xx/5xx), or ``timeout`` (no reply within
the client's limit). Told "busy", a user waits the ``Retry-After`` seconds
and asks the same question again, as a person told "try again in N s"
would (``honour_retry_after=False``: it moves on at once). It is bounded in
count and time and refuses any host but loopback.

``python -m eval.load --url http://127.0.0.1:7860 --users 50 --seconds 300``
prints the summary as JSON.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click
import httpx

OWN_SET = Path(__file__).parent / "datasets" / "own.jsonl"

# refusal reasons decided before any LLM call (chatbot.domain.RefusalReason)
# Less than this in the condense, queue and generate steps: no LLM call was made
# (the shortest rewrite by the embedded model takes over half a second).
LLM_CALL_S = 0.05

GATE_REASONS = frozenset(
    {
        "no_evidence",
        "weak_evidence",
        "not_in_passages",
        "out_of_scope",
        "period_not_covered",
        "invalid_question",
        "no_access",
    }
)
FOLLOW_UPS = ("And when was that?", "Who was involved in it?", "What else does it say about it?")
# shares of each action in the mix; the rest are answerable questions
MIX = {"refused": 0.4, "follow_up": 0.15, "feedback": 0.1}


@dataclass(frozen=True, slots=True)
class Result:
    action: str  # what the user did: refused, answerable, follow_up, feedback
    outcome: str  # see the module docstring
    status: int
    seconds: float
    started: float  # seconds since the run began
    retry_after: str | None = None
    reason: str = ""


@dataclass
class Questions:
    answerable: list[str]
    refused: list[str]

    @classmethod
    def from_own_set(cls, path: Path = OWN_SET) -> Questions:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        return cls(
            answerable=[r["question"] for r in rows if r["answerable"]],
            refused=[
                r["question"] for r in rows if r["category"] in ("off_topic", "boundary_push")
            ],
        )


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, result: Result) -> None:
        with self.lock:
            self.results.append(result)


def _classify(response: httpx.Response) -> tuple[str, str]:
    if response.status_code == 200:
        body = response.json()
        if body.get("kind") == "answer":
            return "answer", ""
        reason = str(body.get("reason", ""))
        # A gate refusal is one no LLM call took part in (the server's own
        # timings say); a gate reason after a rewrite is a follow-up's.
        timings = body.get("timings") or {}
        llm_s = sum(float(timings.get(k, 0.0)) for k in ("condense_s", "queue_s", "generate_s"))
        if reason in GATE_REASONS:
            # Steps that did not call the model still time a few microseconds.
            return ("gate_refusal" if llm_s < LLM_CALL_S else "follow_up_refusal"), reason
        return "llm_refusal", reason
    if response.status_code == 429:
        return "busy", ""
    if response.status_code == 503:
        error = response.json().get("error", "") if response.content else ""
        return ("starting" if error == "llm_starting" else "fault"), str(error)
    return "fault", response.text[:200]


def _user(
    number: int,
    base_url: str,
    questions: Questions,
    run: Run,
    began: float,
    until: float,
    timeout_s: float,
    think_s: tuple[float, float],
    headers: dict[str, str],
    budget: Callable[[], bool],
    honour_retry_after: bool = True,
) -> None:
    rng = random.Random(number)
    conversation = f"load-{number}"
    last_answer: str | None = None  # interaction id of the last answer, for feedback
    again: tuple[str, dict[str, Any]] | None = None  # told "busy": the same question
    with httpx.Client(base_url=base_url, timeout=timeout_s, headers=headers) as client:
        while time.monotonic() < until and budget():
            if again is None:
                time.sleep(rng.uniform(*think_s))
            if time.monotonic() >= until:
                return
            roll = rng.random()
            if again is not None:
                (action, body), again = again, None
            elif roll < MIX["refused"]:
                action, body = "refused", {"question": rng.choice(questions.refused)}
            elif roll < MIX["refused"] + MIX["follow_up"] and last_answer is not None:
                action = "follow_up"
                body = {"question": rng.choice(FOLLOW_UPS), "conversation_id": conversation}
            elif roll < MIX["refused"] + MIX["follow_up"] + MIX["feedback"] and last_answer:
                action = "feedback"
            else:
                action = "answerable"
                question = rng.choice(questions.answerable)
                body = {"question": question, "conversation_id": conversation}
            started = time.monotonic()
            try:
                if action == "feedback":
                    response = client.post(
                        "/v1/feedback",
                        json={"interaction_id": last_answer, "helpful": rng.random() < 0.8},
                    )
                    outcome, reason = ("feedback" if response.status_code == 200 else "fault"), ""
                    last_answer = None
                else:
                    response = client.post("/v1/ask", json=body)
                    outcome, reason = _classify(response)
                    if outcome == "answer":
                        last_answer = response.json().get("interaction_id")
                status = response.status_code
                retry = response.headers.get("retry-after")
                if outcome == "busy" and retry and honour_retry_after:
                    # A person told "try again in N s" waits N s and asks again.
                    time.sleep(min(float(retry), max(0.0, until - time.monotonic())))
                    again = (action, body)
            except httpx.TimeoutException:
                outcome, reason, status, retry = "timeout", "", 0, None
            except httpx.HTTPError as exc:
                outcome, reason, status, retry = "fault", type(exc).__name__, 0, None
            run.add(
                Result(
                    action,
                    outcome,
                    status,
                    time.monotonic() - started,
                    started - began,
                    retry,
                    reason,
                )
            )


def drive(
    base_url: str,
    *,
    users: int,
    seconds: float,
    questions: Questions | None = None,
    timeout_s: float = 180.0,
    think_s: tuple[float, float] = (1.0, 3.0),
    max_requests: int = 20_000,
    headers: dict[str, str] | None = None,
    honour_retry_after: bool = True,
) -> list[Result]:
    """Run ``users`` simulated users against ``base_url`` for ``seconds``;
    return every request's result. Loopback only; at most ``max_requests``."""
    host = urlparse(base_url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the load generator only drives loopback addresses, not {host!r}")
    questions = questions or Questions.from_own_set()
    run = Run()
    began = time.monotonic()
    until = began + seconds

    def budget() -> bool:
        return len(run.results) < max_requests

    threads = [
        threading.Thread(
            target=_user,
            args=(n, base_url, questions, run, began, until, timeout_s, think_s),
            kwargs={
                "headers": headers or {},
                "budget": budget,
                "honour_retry_after": honour_retry_after,
            },
            daemon=True,
        )
        for n in range(users)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + timeout_s + 30)
    return list(run.results)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarise(results: Sequence[Result], seconds: float) -> dict[str, object]:
    """Counts, throughput and latency percentiles by outcome."""
    by: dict[str, list[float]] = {}
    for r in results:
        by.setdefault(r.outcome, []).append(r.seconds)
    return {
        "requests": len(results),
        "per_second": round(len(results) / seconds, 2) if seconds else 0.0,
        "outcomes": dict(Counter(r.outcome for r in results)),
        "latency_s": {
            outcome: {
                "p50": round(statistics.median(values), 3),
                "p95": round(percentile(values, 95), 3),
                "max": round(max(values), 3),
            }
            for outcome, values in sorted(by.items())
        },
        "busy_without_retry_after": sum(
            1 for r in results if r.outcome == "busy" and not r.retry_after
        ),
        "server_errors": sum(1 for r in results if r.status >= 500 and r.outcome != "starting"),
    }


def rss_mb(pid: int) -> float:
    """Resident memory of one process, in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemorySampler:
    """Samples a process's RSS every ``every_s`` seconds in a thread."""

    def __init__(self, pid: int, every_s: float = 2.0) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._every_s = every_s
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        began = time.monotonic()
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - began, rss_mb(self.pid)))
            self._stop.wait(self._every_s)

    def summary(self) -> dict[str, float]:
        values = [mb for _, mb in self.samples if mb]
        if not values:
            return {}
        third = max(1, len(values) // 3)
        return {
            "start_mb": round(values[0], 1),
            "max_mb": round(max(values), 1),
            "end_mb": round(values[-1], 1),
            # growth over the run's last third: a leak keeps climbing there
            "last_third_growth_mb": round(values[-1] - values[-third], 1),
        }


def app_environment(folder: Path, port: int, extra: dict[str, str]) -> dict[str, str]:
    """Environment for ``app.py`` serving the sample corpus from ``folder``
    (index, audit, logs there) on ``port``, on the embedded LLM (a healthy
    one on its port is adopted)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATBOT_")}
    env.update(
        {
            "CHATBOT_INDEX__PATH": str(folder / "index"),
            "CHATBOT_AUDIT__PATH": str(folder / "audit.sqlite3"),
            "CHATBOT_UI__PORT": str(port),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            **extra,
        }
    )
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving_app(
    folder: Path, extra: dict[str, str], *, ready_within_s: float
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``app.py`` (from the repository root) serving the sample corpus with
    its index, audit and log (``app.log``) in ``folder``, ready on a free
    port; yields the process and its base URL, and stops it afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (folder / "app.log").open("wb") as log:
        app = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=Path(__file__).resolve().parent.parent,
            env=app_environment(folder, port, extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_ready(base, within_s=ready_within_s)
            yield app, base
        finally:
            app.terminate()
            try:
                app.wait(timeout=30)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait(timeout=30)


def wait_until_ready(base_url: str, within_s: float) -> dict[str, object]:
    """Poll /health until the web process is up and the LLM ready."""
    deadline = time.monotonic() + within_s
    last: dict[str, object] = {}
    while time.monotonic() < deadline:
        try:
            last = httpx.get(f"{base_url}/health", timeout=5).json()
            llm = last.get("llm")
            if isinstance(llm, dict) and llm.get("state") == "ready":
                return last
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(1.0)
    raise TimeoutError(f"{base_url} was not ready within {within_s:.0f}s (last /health: {last})")


@click.command()
@click.option("--url", default="http://127.0.0.1:7860", show_default=True)
@click.option("--users", default=50, show_default=True)
@click.option("--seconds", default=300.0, show_default=True)
@click.option("--timeout", "timeout_s", default=180.0, show_default=True)
def main(url: str, users: int, seconds: float, timeout_s: float) -> None:
    """Drive the JSON API at URL with simulated users; print the summary."""
    results = drive(url, users=users, seconds=seconds, timeout_s=timeout_s)
    click.echo(json.dumps(summarise(results, seconds), indent=2))


if __name__ == "__main__":
    main()
