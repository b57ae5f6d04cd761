"""What to expect on this machine: start-up, model speed, answers and refusals.

Prints, for the CPU it runs on:

* the CPU's model and class and the serving configuration chosen for it;
* embedded-server start-up from cold caches (fresh ``VLLM_CACHE_ROOT`` and
  ``TORCHINDUCTOR_CACHE_DIR``) and again on the filled caches (``--startup``);
* time to first token on a ~1,200-token prompt and decode tokens/s;
* cited-answer latency p50/p95 over the own set's answerable questions, with
  the naive baseline measured in the same run on the same questions: the
  same model and the same passages, one call, no gate, no checks; and the
  ratio of the two;
* LLM calls per cited answer;
* gate-refusal latency p50/p95 over the own set's unanswerable questions,
  once with the LLM idle and once while another user's answer is being
  written (a thread keeps the server busy).

    .venv/bin/python benchmarks/answer_latency.py --startup      # the README table
    .venv/bin/python benchmarks/answer_latency.py --limit 20     # quicker, no start-up timing
    CHATBOT_GATE__JUDGE_MODE=separate .venv/bin/python benchmarks/answer_latency.py

Needs `make ingest`. In embedded mode the server is started here (a healthy
one already on the port is adopted, and start-up is then not timed).
"""

from __future__ import annotations

import signal
import statistics
import sys
import threading
import time
from collections.abc import Sequence

import click
from common import fresh_compile_caches, start_timed

from chatbot.adapters.openai_generator import OpenAIChatGenerator
from chatbot.answer.pipeline import Pipeline
from chatbot.answer.prompts import build_messages
from chatbot.answer.question import Question
from chatbot.answer.scope import out_of_scope
from chatbot.compose import (
    build_generator,
    build_pipeline,
    build_stores,
    limit_answering_threads,
    llm_base_url,
)
from chatbot.domain import Answer, Refusal
from chatbot.llm.cpu import detect
from chatbot.llm.launch import healthy
from chatbot.llm.server import EmbeddedServer
from chatbot.llm.speed import measure_speed
from chatbot.protocols import ChatMessage, Generator
from chatbot.settings import Settings
from eval.counting import CountingGenerator
from eval.loaders import load_own_set


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def naive_answer(pipeline: Pipeline, generator: Generator, question: str) -> float:
    """The baseline: same passages the pipeline would show, one call, nothing else.

    ``generator`` carries its own cache salt, so the baseline does not reuse
    the prompt the pipeline just sent (each side keeps only its own cached
    system prompt, as a fresh question would)."""
    started = time.perf_counter()
    shown = pipeline.examine(question).shown
    "".join(generator.stream(build_messages(Question.of(question), shown)))
    return time.perf_counter() - started


def forget_prompt(generator: Generator) -> None:
    """Leave the server holding an unrelated prompt, as after another user's
    question. llama.cpp keeps the last prompt's state and reuses its longest
    common prefix (vLLM's cache salt does not reach it), so without this the
    baseline would reuse the prompt the pipeline had just sent, or the other
    way round. Not timed."""
    "".join(generator.stream([ChatMessage("user", "Reply with the word ok.")]))


def refused_at_gate(pipeline: Pipeline, questions: Sequence[str]) -> list[str]:
    """The questions the scope check or the gate refuses (found with no LLM call)."""
    return [q for q in questions if out_of_scope(q) is not None or pipeline.examine(q).refusal]


def gate_refusals(pipeline: Pipeline, questions: Sequence[str]) -> list[float]:
    """Whole-pipeline time of each question the gate refuses."""
    times: list[float] = []
    for question in questions:
        started = time.perf_counter()
        outcome = pipeline.answer(question)
        elapsed = time.perf_counter() - started
        if isinstance(outcome, Refusal) and not outcome.llm_called:
            times.append(elapsed)
    return times


def busy_llm(generator: Generator, stop: threading.Event) -> None:
    """Another user: keep the server writing until ``stop`` is set."""
    prompt = [ChatMessage("user", "Write a long paragraph about bank supervision.")]
    while not stop.is_set():
        for _ in generator.stream(prompt):
            if stop.is_set():
                break


@click.command()
@click.option("--limit", default=0, help="Answerable questions used (0: all of the own set's).")
@click.option("--startup", is_flag=True, help="Also time cold and warm embedded start-up.")
def main(limit: int, startup: bool) -> None:
    # SIGTERM must unwind so the server started here is stopped (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    settings = Settings()
    features = detect()
    click.echo(f"CPU: {features.describe()}")
    server: EmbeddedServer | None = None
    cold_s = warm_s = None
    if settings.llm.mode == "embedded":
        server = EmbeddedServer(settings.embedded, cpu=features)
        click.echo(f"serving: {server.describe()}")
        if startup and not healthy(server.root_url):
            with fresh_compile_caches():
                cold_s = start_timed(server)
                server.stop()
                server = EmbeddedServer(settings.embedded, cpu=features)
                warm_s = start_timed(server)
        else:
            server.start()
    try:
        limit_answering_threads(settings)
        generator = CountingGenerator(build_generator(settings, llm_base_url(settings)))
        baseline = OpenAIChatGenerator(
            llm_base_url(settings),
            settings.llm.api_key.get_secret_value(),
            settings.llm.model,
            timeout_s=settings.llm.timeout_s,
            max_tokens=settings.llm.max_tokens,
            cache_salt="naive-baseline",
        )
        stores = build_stores(settings)
        pipeline = build_pipeline(settings, stores=stores, generator=generator)
        speed = measure_speed(
            llm_base_url(settings),
            generator.model_name,
            settings.llm.api_key.get_secret_value(),
        )
        items = load_own_set().items
        answerable = [i.question for i in items if i.answerable]
        unanswerable = [i.question for i in items if not i.answerable]
        if limit:
            answerable = answerable[:limit]
        pipeline.examine(answerable[0])  # loads the embedder outside the timing

        cited: list[float] = []
        naive: list[float] = []
        calls_per_answer: list[int] = []
        single_context = server is not None and server.engine == "llama.cpp"
        for question in answerable:
            if single_context:
                forget_prompt(baseline)
            before = generator.total
            started = time.perf_counter()
            outcome = pipeline.answer(question)
            elapsed = time.perf_counter() - started
            if isinstance(outcome, Answer):
                cited.append(elapsed)
                calls_per_answer.append(generator.total - before)
            if single_context:
                forget_prompt(baseline)
            naive.append(naive_answer(pipeline, baseline, question))
            click.echo(
                f"  {type(outcome).__name__:7s} {elapsed:6.2f}s  naive {naive[-1]:6.2f}s  "
                f"{question[:60]}",
                err=True,
            )

        gated = refused_at_gate(pipeline, unanswerable)
        idle = gate_refusals(pipeline, gated)
        stop = threading.Event()
        other_user = threading.Thread(target=busy_llm, args=(generator, stop), daemon=True)
        other_user.start()
        time.sleep(2.0)  # let its prompt be read, so the questions meet decoding
        try:
            busy = gate_refusals(pipeline, gated)
        finally:
            stop.set()
            other_user.join(timeout=120)
    finally:
        if server is not None:
            server.stop()

    click.echo(f"judge: {settings.gate.judge} (mode {settings.gate.judge_mode})")
    if cold_s is not None and warm_s is not None:
        click.echo(f"start-up: cold caches {cold_s:.1f}s, warm caches {warm_s:.1f}s")
    click.echo(speed.describe())
    base = pct(naive, 0.5)
    click.echo(f"{'measure':42s} {'n':>4s} {'p50 s':>8s} {'p95 s':>8s} {'p50/naive':>10s}")
    rows = (
        ("naive baseline (one call, same passages)", naive, True),
        ("cited answer (Boundary)", cited, True),
        ("gate refusal, LLM idle", idle, False),
        ("gate refusal, LLM busy with another", busy, False),
    )
    for label, values, ratio in rows:
        shown = f"{pct(values, 0.5) / base:10.2f}" if ratio and values else f"{'':>10s}"
        click.echo(
            f"{label:42s} {len(values):4d} {pct(values, 0.5):8.3f} {pct(values, 0.95):8.3f} {shown}"
        )
    if calls_per_answer:
        click.echo(
            f"LLM calls per cited answer: {statistics.mean(calls_per_answer):.2f} "
            f"({len(cited)} of {len(answerable)} answerable questions answered)"
        )


if __name__ == "__main__":
    main()
