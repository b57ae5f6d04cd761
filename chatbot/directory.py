"""Who is asking on Slack and Teams: the bank's directory file.

The chat platforms say *which account* sent a message (a Slack user id, a
Teams ``from.aadObjectId``), not which groups it is in. The bank keeps that
mapping in a TOML file (``AuthSettings.directory_file``)::

    [slack.users]
    U012AB3CD = ["credit-risk"]          # a listed user also holds "everyone"

    [slack.channels]                     # shared channels: the groups they may
    C0456EF7G = ["everyone"]             # be answered from
    shared_default = []                  # any channel not listed (default: none)

    [teams.users]
    "6f1c…-aad-object-id" = ["everyone", "board"]

    [teams.conversations]                # Teams channels and group chats
    "19:abc@thread.tacv2" = ["everyone"]

**Shared conversations.** In a Slack channel (not a DM) or a Teams channel or
group chat, an answer is seen by every member, so the bot answers only from
the groups that the asker holds *and* that the conversation is declared for
(``Audience.narrowed``). A conversation that is not declared gets
``shared_default``, which defaults to nothing: the bot then says it cannot
answer there and suggests a direct message. A user the directory does not
list has no principal at all and is told to ask an administrator. Both fail
closed. A live lookup through each SDK (Slack ``users.info`` and user
groups, Microsoft Graph group membership) can replace the file later; the
interface (``ChatDirectory.principal`` / ``.conversation``) stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chatbot.access import Audience, Principal, valid_group
from chatbot.errors import ConfigurationError
from chatbot.tomlfile import read_toml

Platform = Literal["slack", "teams"]
_SHARED_DEFAULT = "shared_default"
_CONVERSATIONS = {"slack": "channels", "teams": "conversations"}


@dataclass(frozen=True, slots=True)
class _Book:
    users: dict[str, tuple[str, ...]] = field(default_factory=dict)
    conversations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    shared_default: tuple[str, ...] = ()


class ChatDirectory:
    """Slack and Teams accounts to principals, conversations to audiences."""

    def __init__(self, books: dict[Platform, _Book] | None = None) -> None:
        self._books: dict[Platform, _Book] = books or {}

    @classmethod
    def load(cls, path: Path | None) -> ChatDirectory:
        """Parse ``path``; None means no directory (nobody has access)."""
        if path is None:
            return cls()
        _, data = read_toml(
            path,
            fix="see README, 'Access control', or unset CHATBOT_AUTH__DIRECTORY_FILE",
        )
        unknown = sorted(set(data) - {"slack", "teams"})
        if unknown:
            raise ConfigurationError(f"{path}: unknown section(s) {unknown}; use [slack], [teams]")
        books: dict[Platform, _Book] = {}
        platform: Platform
        for platform in ("slack", "teams"):
            section = data.get(platform, {})
            if not isinstance(section, dict):
                raise ConfigurationError(f"{path}: [{platform}] must be a table")
            shared = _CONVERSATIONS[platform]
            bad = sorted(set(section) - {"users", shared})
            if bad:
                raise ConfigurationError(
                    f"{path}: [{platform}] has unknown key(s) {bad}; use users and {shared}"
                )
            conversations = _mapping(section.get(shared, {}), f"{path}: [{platform}.{shared}]")
            books[platform] = _Book(
                users=_mapping(section.get("users", {}), f"{path}: [{platform}.users]"),
                conversations={k: v for k, v in conversations.items() if k != _SHARED_DEFAULT},
                shared_default=conversations.get(_SHARED_DEFAULT, ()),
            )
        return cls(books)

    def principal(self, platform: Platform, user_id: str) -> Principal | None:
        """The listed user's principal, or None for an account nobody listed."""
        book = self._books.get(platform)
        if book is None or not user_id or user_id not in book.users:
            return None
        return Principal.of(f"{platform}:{user_id}", book.users[user_id], platform)

    def asker(self, platform: Platform, user_id: str) -> tuple[Principal, bool]:
        """``(principal, known)``: an unlisted account becomes a principal with
        no group at all (not even ``everyone``), which is refused as
        ``no_access`` and audited under its platform id."""
        known = self.principal(platform, user_id)
        if known is not None:
            return known, True
        return Principal(f"{platform}:{user_id or 'unknown'}", frozenset(), platform), False

    def conversation(self, platform: Platform, conversation_id: str) -> frozenset[str]:
        """The groups a shared conversation may be answered from."""
        book = self._books.get(platform)
        if book is None:
            return frozenset()
        return frozenset(book.conversations.get(conversation_id, book.shared_default))

    def audience(
        self, platform: Platform, principal: Principal, conversation_id: str, shared: bool
    ) -> Audience:
        """What may be used to answer ``principal`` here: all they may see in a
        direct conversation; in a shared one, only what the conversation is
        declared for as well."""
        mine = Audience.of(principal)
        return mine.narrowed(self.conversation(platform, conversation_id)) if shared else mine


def _mapping(value: object, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise ConfigurationError(f'{where}: write entries as id = ["group", ...]')
    out: dict[str, tuple[str, ...]] = {}
    for key, groups in value.items():
        if not isinstance(groups, list) or not all(
            isinstance(g, str) and valid_group(g) for g in groups
        ):
            raise ConfigurationError(f"{where}: {key} must map to a list of group names")
        out[str(key)] = tuple(sorted(set(groups)))
    return out
