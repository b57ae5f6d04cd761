"""Who may see what: principals, audiences and the one visibility rule.

A document belongs to one or more **groups** (``Chunk.groups``, declared in
the corpus's access file, see ``ingest.access_rules``). A **principal** is
who is asking (a signed-in web user, an API token, a Slack or Teams user, the
single local user), with the groups the bank's directory gives them. The
**audience** of a question is the set of groups whose documents may be used
for it: the asker's groups, narrowed in a shared Slack channel or Teams chat
to the groups declared for that conversation (``Audience.narrowed``).

The rule, in one place (``Audience.allows``): a chunk may be used when it
shares at least one group with the audience. A chunk with no group (a
document no access rule covers, under the default; or a label that could not
be read) shares none, so it is shown to nobody: access fails closed.

``EVERYONE`` is the built-in group every recognised principal holds; a corpus
without an access file puts every document in it, which is how a one-team
deployment works with no configuration. Roles (who may use the Admin tab,
who may export the audit trail) are groups too, named in ``AuthSettings``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from chatbot.domain import EVERYONE, Passage

log = logging.getLogger(__name__)

# What a group name may look like: SSO group names ("credit-risk",
# "grp.board@bank.example") pass; spaces, commas and control characters do
# not, so a name can never split into two when carried in a header or a
# comma-separated label.
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$")

Via = Literal["local", "proxy", "token", "slack", "teams", "eval"]


def valid_group(name: str) -> bool:
    return bool(GROUP_NAME.match(name))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking. ``id`` is stable and names the identity source
    ("alice@bank.example", "token:risk-dashboard", "slack:U012AB"); ``groups``
    always include ``EVERYONE`` for a recognised principal."""

    id: str
    groups: frozenset[str]
    via: Via

    @classmethod
    def of(cls, id: str, groups: Iterable[str], via: Via) -> Principal:
        return cls(id, frozenset({EVERYONE, *groups}), via)

    def member_of(self, group: str) -> bool:
        return group in self.groups

    def describe(self) -> str:
        """For logs and the page: "alice@bank (proxy; groups: a, b)"."""
        return f"{self.id} ({self.via}; groups: {', '.join(sorted(self.groups))})"


@dataclass(frozen=True, slots=True)
class Audience:
    """The groups whose documents may be used for one question."""

    groups: frozenset[str]

    @classmethod
    def of(cls, principal: Principal) -> Audience:
        return cls(principal.groups)

    def narrowed(self, allowed: Iterable[str]) -> Audience:
        """Only the groups that ``allowed`` also holds: a shared conversation
        is answered from what the asker *and* the conversation may see."""
        return Audience(self.groups & frozenset(allowed))

    @property
    def empty(self) -> bool:
        return not self.groups

    def allows(self, groups: Iterable[str]) -> bool:
        """True when a chunk labelled ``groups`` may be used: they share a
        group. No groups (unlabelled, unreadable) means no."""
        return not self.groups.isdisjoint(groups)

    def key(self) -> str:
        """A stable text form, for caches and the audit trail."""
        return ",".join(sorted(self.groups))


# Everything an offline tool may read (the evaluation harness over a corpus
# with no access file, replays): documents open to every principal, no more.
PUBLIC = Audience(frozenset({EVERYONE}))


def permitted(passages: Sequence[Passage], audience: Audience) -> list[Passage]:
    """The authoritative check, run in our code on whatever the indexes
    returned and before anything reaches the gate, the LLM or a person:
    passages the audience may not see are dropped (and logged, since an
    index that returned one has a bug or stale labels)."""
    kept = [p for p in passages if audience.allows(p.chunk.groups)]
    dropped = len(passages) - len(kept)
    if dropped:
        log.warning(
            "access check dropped %d passage(s) an index returned for audience %s",
            dropped,
            audience.key(),
        )
    return kept


@dataclass(frozen=True, slots=True)
class Roles:
    """Which groups carry the two roles: corpus administration (the Admin tab,
    uploads, re-indexing) and audit export. Neither role widens what its
    holder may *read*: that is still their groups against the labels."""

    admin_group: str
    auditor_group: str

    def admin(self, principal: Principal) -> bool:
        return principal.member_of(self.admin_group)

    def auditor(self, principal: Principal) -> bool:
        return principal.member_of(self.auditor_group)
