"""``chatbot-access``: make API tokens and check who may see a document.

Examples::

    chatbot-access token --principal risk-dashboard --groups credit-risk
    chatbot-access check board/minutes-2024.pdf

``token`` prints a new random token once (give it to the API client) and the
``[[tokens]]`` entry to append to ``CHATBOT_AUTH__TOKENS_FILE``: only its
sha256 is stored. ``check`` says which groups the access file gives a path.
"""

from __future__ import annotations

import json

import click

from chatbot.access import valid_group
from chatbot.settings import Settings
from chatbot.signin import hash_token, new_token


@click.group()
def main() -> None:
    """Access-control helpers (see the README, 'Access control')."""


@main.command()
@click.option("--principal", required=True, help="Who the token is for (e.g. risk-dashboard).")
@click.option("--groups", default="", help="Comma-separated groups the token may read.")
def token(principal: str, groups: str) -> None:
    """Print a new bearer token and its entry for the tokens file."""
    names = [g.strip() for g in groups.split(",") if g.strip()]
    bad = [g for g in names if not valid_group(g)]
    if bad:
        raise click.BadParameter(f"not group names: {bad}", param_hint="--groups")
    secret = new_token()
    listed = ", ".join(json.dumps(g) for g in names)
    click.echo(f"token (give it to the client; it is not stored): {secret}", err=True)
    click.echo(
        f'[[tokens]]\nsha256 = "{hash_token(secret)}"\nprincipal = {json.dumps(principal)}\n'
        f"groups = [{listed}]"
    )


@main.command()
@click.argument("source")
def check(source: str) -> None:
    """Which groups the access file gives SOURCE (a path inside the corpus)."""
    from ingest.access_rules import load_access_rules
    from ingest.identity import rules_path

    cfg = Settings().ingest
    rules = load_access_rules(rules_path(cfg.corpus_dir, cfg.access_file))
    groups = rules.groups_for(source)
    where = rules.path or "no access file: everything is open to 'everyone'"
    click.echo(f"{source}: {', '.join(groups) or 'no group (shown to nobody)'}  [{where}]")
