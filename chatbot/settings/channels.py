"""Settings of the channels and what they share: sign-in, the UI, the audit trail,
the API, Slack and Teams."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class AuthSettings(BaseModel):
    """Who is asking: sign-in for the web UI and the API, the chat directory,
    and the roles. With neither trusted proxies nor tokens configured the web
    side runs single-user on 127.0.0.1 only (``local`` mode)."""

    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR ranges of the single sign-on reverse proxy (e.g. "
        "oauth2-proxy). Identity headers are accepted only from these; the same headers "
        "from any other address are rejected (403) and audited. As JSON in the "
        'environment: \'["10.0.0.5", "10.1.0.0/24"]\'.',
    )
    user_header: str = Field(
        "X-Forwarded-User", description="Request header that carries the signed-in user's id."
    )
    groups_header: str = Field(
        "X-Forwarded-Groups",
        description="Request header that carries the user's groups, separated by "
        "groups_separator (oauth2-proxy: X-Forwarded-Groups, comma-separated).",
    )
    groups_separator: str = Field(",", description="Separator of groups in groups_header.")
    tokens_file: Path | None = Field(
        None,
        description="TOML file of API bearer tokens, stored only as sha256 hashes, each with "
        "the principal and groups it stands for (see README, 'Access control'); create "
        "entries with `chatbot-access token`.",
    )
    directory_file: Path | None = Field(
        None,
        description="TOML directory mapping Slack user ids and Teams aadObjectIds to groups, "
        "and shared channels / group chats to the groups they may be answered from. "
        "Without it, no chat user has access (they are told to ask an administrator).",
    )
    admin_group: str = Field(
        "boundary-admins", description="Group whose members may use the Admin tab (re-index)."
    )
    auditor_group: str = Field(
        "boundary-auditors", description="Group whose members may export the audit trail."
    )
    local_groups: list[str] | None = Field(
        None,
        description="Groups of the single local user in local mode; default: every group "
        "the access file declares, plus the admin and auditor groups.",
    )


class UISettings(BaseModel):
    host: str = Field("127.0.0.1", description="Web UI interface.")
    port: int = Field(7860, description="Web UI port.")


class AuditSettings(BaseModel):
    """The audit trail: one row per question asked through any channel."""

    enabled: bool = Field(True, description="Record every question and outcome in the audit store.")
    backend: Literal["sqlite", "postgres"] = Field(
        "sqlite",
        description="Where the audit trail lives: 'sqlite' (the file at path, one per process) "
        "or 'postgres' (tables in postgres_schema that every app replica writes to, so one "
        "export holds them all).",
    )
    path: Path = Field(
        Path("data/audit.sqlite3"),
        description="SQLite file of the audit trail and user feedback (WAL mode; sqlite backend).",
    )
    postgres_url: SecretStr | None = Field(
        None,
        description="PostgreSQL URL of the postgres audit backend (never logged); unset, the "
        "audit uses CHATBOT_INDEX__POSTGRES_URL, so one URL serves the keyword index and the "
        "audit trail.",
    )
    postgres_schema: str = Field(
        "boundary_audit",
        description="PostgreSQL schema of the audit tables (created when a store first opens); "
        "keep it apart from the keyword index's schema.",
    )
    postgres_pool_size: int = Field(
        4, ge=1, description="Most PostgreSQL connections one process keeps for the audit."
    )
    retention_days: int = Field(
        365,
        description="Interactions (and their feedback) older than this many days are "
        "deleted when the store opens and on each write; 0 keeps everything.",
    )


class APISettings(BaseModel):
    """The HTTP JSON API (``chatbot-api``)."""

    host: str = Field("127.0.0.1", description="Interface the API server binds to.")
    port: int = Field(8080, description="Port of the API server.")


class SlackSettings(BaseModel):
    """The Slack bot (``chatbot-slack``)."""

    mode: Literal["http", "socket"] = Field(
        "http",
        description="'http': Slack posts events to /slack/events (needs signing_secret); "
        "'socket': the bot connects out to Slack over Socket Mode (needs app_token).",
    )
    bot_token: SecretStr | None = Field(
        None, description="Bot user OAuth token (xoxb-...). Never logged."
    )
    signing_secret: SecretStr | None = Field(
        None,
        description="Signing secret from the Slack app's Basic Information page; every "
        "HTTP request is verified against it. Never logged.",
    )
    app_token: SecretStr | None = Field(
        None, description="App-level token (xapp-...) with connections:write, for Socket Mode."
    )
    api_url: str = Field(
        "https://slack.com/api/",
        description="Base URL of the Slack Web API (change only for a proxy or a test double).",
    )
    host: str = Field("127.0.0.1", description="Interface the HTTP-mode server binds to.")
    port: int = Field(3000, description="Port of the HTTP-mode server.")


class TeamsSettings(BaseModel):
    """The Microsoft Teams bot (``chatbot-teams``), via the Microsoft 365 Agents SDK."""

    client_id: str = Field("", description="Azure Bot / Entra app registration client id.")
    tenant_id: str = Field("", description="Entra tenant id of the app registration.")
    client_secret: SecretStr | None = Field(
        None, description="Client secret of the app registration. Never logged."
    )
    anonymous_allowed: bool = Field(
        False,
        description="Accept activities without a bearer token. Only for local testing "
        "with the Agents Playground; never in production.",
    )
    host: str = Field("127.0.0.1", description="Interface the bot's HTTP server binds to.")
    port: int = Field(3978, description="Port of the bot's HTTP server (POST /api/messages).")
