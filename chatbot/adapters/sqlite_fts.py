"""What the SQLite keyword index hands FTS5: a question's content terms as
a quoted OR query, and a chunk's access groups as tokens of the ``acl``
column, with the query that restricts a search to an audience
(``chatbot.adapters.sqlite_keyword`` explains why access is decided inside
FTS5)."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence

from chatbot.access import Audience
from chatbot.domain import EVERYONE
from chatbot.text import content_terms


def group_token(group: str) -> str:
    """The token a group is indexed as: letters and digits only, so that no
    group name ('grp.board@bank') is split or read as FTS5 syntax."""
    return "acl" + hashlib.sha256(group.encode("utf-8")).hexdigest()[:24]


# Marks a chunk that ``everyone`` may not see.
RESTRICTED = group_token("\x00restricted")


def acl_text(groups: Sequence[str]) -> str:
    """The acl column of a chunk in ``groups``. A chunk open to ``everyone``
    carries only its other groups, usually none: FTS5's bm25 normalises by the
    length of the whole row, so an index with no restricted document scores
    exactly as one without access control. Any other chunk carries
    ``RESTRICTED`` and its groups."""
    others = [group_token(g) for g in sorted(set(groups)) if g != EVERYONE]
    return " ".join(others if EVERYONE in groups else [RESTRICTED, *others])


def access_query(query: str, audience: Audience, skip: Collection[str] = ()) -> str:
    """The FTS5 query for ``query`` restricted to ``audience`` ('' when no
    chunk could match): an audience holding ``everyone`` excludes restricted
    chunks that share none of its other groups; any other audience needs one
    of its groups. Terms in ``skip`` are left out (``worthless_terms``)."""
    match = fts_query(query, skip)
    if not match or audience.empty:
        return ""
    tokens = [group_token(g) for g in sorted(audience.groups) if g != EVERYONE]
    mine = " OR ".join(tokens)
    if EVERYONE not in audience.groups:
        return f"terms : ({match}) AND acl : ({mine})" if tokens else ""
    if not tokens:
        return f"terms : ({match}) NOT acl : {RESTRICTED}"
    return f"terms : ({match}) NOT (acl : {RESTRICTED} NOT acl : ({mine}))"


def fts_query(query: str, skip: Collection[str] = ()) -> str:
    """An FTS5 query that ORs the quoted content terms of ``query`` ('' if none),
    but those in ``skip``.

    Quoting makes every term a literal string, so user text can never inject
    FTS5 operators (AND, NEAR, column filters, '*').
    """
    quoted = [
        '"' + term.replace('"', '""') + '"' for term in content_terms(query) if term not in skip
    ]
    return " OR ".join(quoted)


PRUNE_FROM_CHUNKS = 10_000
"""Below this many chunks every keyword search is fast; terms are never
left out there."""


PRUNE_SHARE = 0.5
"""Terms in more than this share of the chunks are left out (at one half,
exactly those whose bm25 idf is floored)."""


def worthless_terms(total: int, frequencies: Mapping[str, int]) -> set[str]:
    """The query terms that add nothing to any chunk's score: FTS5's bm25 gives
    a term in more than half the chunks an idf of log((N - n + 0.5) / (n +
    0.5)) <= 0, floored to 1e-6, yet walking its postings is most of such a
    query's time at 100k chunks. They are left out, as long as at least one
    term stays (a query of only common terms is searched as it is) and the
    index holds at least ``PRUNE_FROM_CHUNKS`` chunks. The scores of the
    chunks found through the other terms are unchanged; what is lost are
    chunks that matched only a common term, at a score of about zero."""
    if total < PRUNE_FROM_CHUNKS:
        return set()
    common = {term for term, n in frequencies.items() if n > total * PRUNE_SHARE}
    return common if len(common) < len(frequencies) else set()
