"""``chatbot-ask``: ask the indexed corpus one or more questions from a shell.

Examples::

    chatbot-ask "When was the GenA.I. Sandbox launched?"
    chatbot-ask --detail "Which banks took part?" "What is 2027 GDP growth?"

It uses the configured LLM server (embedded or remote) but does not start the
embedded one: run ``make run`` or ``chatbot-llm serve`` first. Every question
is written to the audit trail (channel ``cli``, the shell user), like the
other channels' questions.
"""

from __future__ import annotations

import sys

import click

from chatbot.domain import Answer, Refusal
from chatbot.errors import BoundaryError
from chatbot.logs import configure_logging
from chatbot.settings import Settings


@click.command()
@click.argument("questions", nargs=-1, required=True)
@click.option("--detail", is_flag=True, help="Show gate scores, timings and refusal details.")
@click.option("-v", "--verbose", is_flag=True, help="Log retrieval and gate decisions.")
@click.option(
    "--groups",
    default=None,
    help="Ask as a member of these comma-separated groups only (e.g. 'everyone,credit-risk'), "
    "to check what they would be shown [default: the local user's groups].",
)
def main(questions: tuple[str, ...], detail: bool, verbose: bool, groups: str | None) -> None:
    """Answer QUESTIONS from the indexed corpus, or say why not.

    Example: chatbot-ask --groups everyone "When was the Sandbox launched?"
    """
    configure_logging(1 if verbose else 0)
    import getpass

    from chatbot.access import Principal
    from chatbot.assistant import build_assistant
    from chatbot.compose import build_web_access

    try:
        settings = Settings()
        # The shell user can read the index files anyway: they ask as the
        # local user, or as the groups given, to see what those would get.
        local = build_web_access(settings).signin.local_principal
        chosen = local.groups if groups is None else [g.strip() for g in groups.split(",")]
        principal = Principal(
            f"cli:{getpass.getuser()}", frozenset(g for g in chosen if g), "local"
        )
        assistant, _ = build_assistant(settings)
        for question in questions:
            # Audited like every other channel (channel "cli", the shell user).
            recorded = assistant.ask(question, channel="cli", principal=principal)
            outcome = recorded.outcome
            click.echo(f"Q: {question}")
            match outcome:
                case Answer():
                    click.echo(f"A: {outcome.text}")
                    for c in outcome.citations:
                        click.echo(f"   [{c.number}] {c.passage.location()} ({c.source})")
                case Refusal():
                    click.echo(f"REFUSED ({outcome.reason.value}): {outcome.message}")
                    if detail:
                        click.echo(f"   detail: {outcome.detail}")
            if detail:
                t = outcome.timings
                evidence = outcome.evidence.describe() if outcome.evidence else "-"
                click.echo(
                    f"   evidence: {evidence}\n   timings: retrieve {t.retrieve_s:.3f}s "
                    f"read {t.read_s:.3f}s "
                    f"generate {t.generate_s:.2f}s verify {t.verify_s:.3f}s"
                )
            click.echo()
    except BoundaryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
