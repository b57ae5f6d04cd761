"""What the SQLite keyword index hands FTS5: a question's content terms as
a quoted OR query, and a chunk's access groups as tokens of the ``acl``
column, with the query that restricts a search to an audience
(``chatbot.adapters.sqlite_keyword`` explains why access is decided inside
FTS5)."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Collection, Mapping, Sequence

from chatbot.access import Audience
from chatbot.adapters import keyword_stages
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


# -- two-stage search for long questions on large indexes ---------------------


def rare_terms(total: int, kept: Sequence[str], frequencies: Mapping[str, int]) -> set[str] | None:
    """The first-stage terms of a two-stage search (``keyword_stages``), or
    None when one stage is as fast: a small index, a short question, or a term
    FTS5 would split (scored in Python, every term must be one FTS5 token)."""
    if total < keyword_stages.TWO_STAGE_FROM or len(kept) <= keyword_stages.RARE_TERMS:
        return None
    if any(fts_tokens(term) != [term] for term in kept):
        return None
    ranked = sorted(kept, key=lambda t: (frequencies.get(t, 0), t))
    return set(ranked[: keyword_stages.RARE_TERMS])


# FTS5's unicode61 tokenizer as the index configures it (tokenchars . ' -):
# a token is a run of letters, digits and those three.
_FTS_TOKEN_RE = re.compile(r"(?:[^\W_]|[.'-])+")

K1 = 1.2
B = 0.75  # FTS5's bm25 constants (fts5_aux.c), fixed by SQLite


def fts_tokens(text: str) -> list[str]:
    """``text`` split as the index's FTS5 tokenizer splits it (the text is
    already lower-case: the app indexes its own terms)."""
    return _FTS_TOKEN_RE.findall(text)


def decode_averages(block: bytes) -> tuple[int, int]:
    """(rows, tokens in every column) from FTS5's averages record (rowid 1
    of its ``_data`` table): SQLite varints, the row count first, then one
    token total per column."""
    values: list[int] = []
    i = 0
    while i < len(block):
        value = 0
        for j in range(9):
            byte = block[i]
            i += 1
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        values.append(value)
    return values[0], sum(values[1:])


def bm25_scores(
    rows: Sequence[tuple[int, str, str]],
    query_terms: Sequence[str],
    frequencies: Mapping[str, int],
    total_rows: int,
    total_tokens: int,
) -> dict[int, float]:
    """The score FTS5's ``bm25(1.0, 0.0)`` gives each ``(rowid, terms, acl)``
    row for ``query_terms`` (positive, higher is better): idf from the
    documents holding each term (floored to 1e-6 as FTS5 does), term counts
    from the terms column, length from both columns, the mean length from
    the index's totals."""
    avgdl = total_tokens / total_rows if total_rows else 1.0
    idf = {}
    for term in dict.fromkeys(query_terms):
        hits = frequencies.get(term, 0)
        value = math.log((0.5 + total_rows - hits) / (0.5 + hits))
        idf[term] = value if value > 0 else 1e-6
    scores: dict[int, float] = {}
    for rowid, terms_text, acl in rows:
        tokens = fts_tokens(terms_text)
        length = len(tokens) + len(fts_tokens(acl))
        counts: dict[str, int] = {}
        for token in tokens:
            if token in idf:
                counts[token] = counts.get(token, 0) + 1
        norm = K1 * (1 - B + B * length / avgdl)
        scores[rowid] = sum(
            idf[t] * (counts.get(t, 0) * (K1 + 1)) / (counts.get(t, 0) + norm) for t in idf
        )
    return scores
