"""All configuration, in one pydantic-settings class.

Built once at an entry point (``Settings()``) and passed down; nothing reads
the environment at import time. Variables use the ``CHATBOT_`` prefix and
``__`` for nesting, e.g. ``CHATBOT_LLM__BASE_URL=http://gpu-host:8000/v1``.
A ``.env`` file in the working directory is read too (see ``.env.example``).

The sections live in their own modules (``llm``, ``corpus``, ``answer``,
``channels``); they are imported here so that ``from chatbot.settings import
GateSettings`` keeps naming the one class.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatbot.settings.answer import GateSettings, ReaderSettings, RetrievalSettings
from chatbot.settings.channels import (
    APISettings,
    AuditSettings,
    AuthSettings,
    SlackSettings,
    TeamsSettings,
    UISettings,
)
from chatbot.settings.corpus import EmbedderSettings, IndexSettings, IngestSettings
from chatbot.settings.llm import EmbeddedLLMSettings, EmbeddedModel, LLMSettings

__all__ = [
    "APISettings",
    "AuditSettings",
    "AuthSettings",
    "EmbeddedLLMSettings",
    "EmbeddedModel",
    "EmbedderSettings",
    "GateSettings",
    "IndexSettings",
    "IngestSettings",
    "LLMSettings",
    "ReaderSettings",
    "RetrievalSettings",
    "Settings",
    "SlackSettings",
    "TeamsSettings",
    "UISettings",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHATBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    llm: LLMSettings = Field(default_factory=LLMSettings)
    embedded: EmbeddedLLMSettings = Field(default_factory=EmbeddedLLMSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    reader: ReaderSettings = Field(default_factory=ReaderSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    ui: UISettings = Field(default_factory=UISettings)
    max_question_chars: int = Field(2000, description="Longer questions are rejected.")
    audit: AuditSettings = Field(default_factory=AuditSettings)
    api: APISettings = Field(default_factory=APISettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    teams: TeamsSettings = Field(default_factory=TeamsSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
