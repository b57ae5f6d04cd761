"""Load: 50 simulated staff for 5 minutes against the real app (``app.py``:
the web UI and the JSON API) on the embedded LLM, with back-pressure (the
default: a few LLM places, a short line, 429 + Retry-After past it) and,
in the same run, the naive path (``CHATBOT_LLM__MAX_CONCURRENT=-1``: every
question goes straight to the LLM and waits there).

For each: throughput, p50/p95/max latency by outcome (answer, gate refusal,
LLM refusal, busy), 5xx and client timeouts, whether the audit trail holds
every question and every piece of feedback, and the RSS of the web process
and of the LLM server over the run. Ratios are naive / back-pressure.

    .venv/bin/python benchmarks/load_bench.py --users 50 --seconds 300 [--think 1,3]

The embedded LLM server is started first if none is healthy on its port
(and stopped at the end), then adopted by both app processes. Loopback only.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from chatbot.adapters.sqlite_audit import SqliteAuditStore
from chatbot.llm.launch import healthy
from chatbot.llm.server import EmbeddedServer
from chatbot.settings import EmbeddedLLMSettings
from eval.load import MemorySampler, drive, serving_app, summarise

REPO = Path(__file__).resolve().parent.parent


def llm_pid(port: int) -> int | None:
    """The process listening on the LLM port (for its RSS), if it can be found."""
    try:
        out = subprocess.run(
            ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    marker = "pid="
    if marker not in out:
        return None
    return int(out.split(marker, 1)[1].split(",", 1)[0])


def one_run(
    name: str,
    extra: dict[str, str],
    users: int,
    seconds: float,
    folder: Path,
    llm: int | None,
    think: tuple[float, float],
) -> dict[str, Any]:
    with serving_app(folder, extra, ready_within_s=600) as (app, base):
        print(f"[{name}] app ready on {base}; {users} users for {seconds:.0f}s", flush=True)
        samplers = [MemorySampler(app.pid)] + ([MemorySampler(llm)] if llm else [])
        for sampler in samplers:
            sampler.__enter__()
        started = time.monotonic()
        results = drive(base, users=users, seconds=seconds, timeout_s=180.0, think_s=think)
        wall = time.monotonic() - started
        for sampler in samplers:
            sampler.__exit__()
        alive = app.poll() is None
    summary = summarise(results, seconds)
    audit = SqliteAuditStore(folder / "audit.sqlite3")
    asked = sum(1 for r in results if r.action != "feedback")
    recorded = len(list(audit.interactions())) + len(audit.failures())
    given = sum(1 for r in results if r.outcome == "feedback")
    summary.update(
        {
            "name": name,
            "think_s": list(think),
            "wall_s": round(wall, 1),
            "app_alive_after": alive,
            "audit": {
                "questions_sent": asked,
                "questions_recorded": recorded,
                "feedback_sent": given,
                "feedback_recorded": len(audit.feedback()),
                "share_recorded": round(recorded / asked, 4) if asked else 1.0,
            },
            "rss_web": samplers[0].summary(),
            "rss_llm": samplers[1].summary() if len(samplers) > 1 else {},
        }
    )
    return summary


def _p(summary: dict[str, Any], outcome: str, key: str) -> float | None:
    value = summary["latency_s"].get(outcome, {}).get(key)
    return float(value) if value is not None else None


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


@click.command()
@click.option("--users", default=50, show_default=True)
@click.option("--seconds", default=300.0, show_default=True)
@click.option(
    "--think",
    default="5,20",
    show_default=True,
    help="Seconds a user waits between requests, MIN,MAX (uniform): 5-20 is a person "
    "reading a reply; 1,3 is a stress test (50 users then ask like several hundred).",
)
@click.option(
    "--only",
    type=click.Choice(["back-pressure", "naive"]),
    default=None,
    help="Run one of the two set-ups (no ratios then).",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write JSON here.")
def main(users: int, seconds: float, think: str, only: str | None, out: Path | None) -> None:
    low, high = (float(x) for x in think.split(","))
    settings = EmbeddedLLMSettings(cache_dir=REPO / "models")
    server: EmbeddedServer | None = None
    if not healthy(f"http://{settings.host}:{settings.port}"):
        server = EmbeddedServer(settings)
        print(f"starting the embedded LLM: {server.describe()}", flush=True)
        server.start()
    llm = llm_pid(settings.port)
    runs = []
    try:
        setups: tuple[tuple[str, dict[str, str]], ...] = (
            ("back-pressure", {}),
            ("naive", {"CHATBOT_LLM__MAX_CONCURRENT": "-1"}),
        )
        for name, extra in setups:
            if only is not None and name != only:
                continue
            with tempfile.TemporaryDirectory(prefix=f"boundary-load-{name}-") as folder:
                runs.append(one_run(name, extra, users, seconds, Path(folder), llm, (low, high)))
    finally:
        if server is not None:
            server.stop()
    print(json.dumps(runs, indent=2))
    if out is not None:
        out.write_text(json.dumps(runs, indent=2))
    print()
    print(f"{users} users, {seconds:.0f}s each, thinking {low:g}-{high:g}s")
    if len(runs) == 2:
        bounded, naive = runs
        print("ratios are naive / back-pressure")
        print(f"{'figure':34} {'back-pressure':>14} {'naive':>10} {'ratio':>8}")
        rows: list[tuple[str, float | None, float | None]] = [
            ("requests/s", bounded["per_second"], naive["per_second"]),
        ]
        for outcome in ("gate_refusal", "follow_up_refusal", "answer", "llm_refusal", "busy"):
            for key in ("p50", "p95", "max"):
                rows.append(
                    (f"{outcome} {key} (s)", _p(bounded, outcome, key), _p(naive, outcome, key))
                )
        for label, a, b in rows:
            show_a = "-" if a is None else f"{a:.3f}"
            show_b = "-" if b is None else f"{b:.3f}"
            print(f"{label:34} {show_a:>14} {show_b:>10} {_ratio(b, a):>8}")
    for run in runs:
        print(
            f"[{run['name']}] outcomes {run['outcomes']}; 5xx {run['server_errors']}; "
            f"busy without Retry-After {run['busy_without_retry_after']}; audit "
            f"{run['audit']}; web RSS {run['rss_web']}; LLM RSS {run['rss_llm']}; "
            f"latency {run['latency_s']}"
        )


if __name__ == "__main__":
    main()
