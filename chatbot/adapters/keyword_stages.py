"""When a keyword search runs in two stages, on either backend.

Ranking every chunk that shares any term with a long question (20-35
Chinese bigrams, or a pasted paragraph) is most of such a search's time on
a large index, because common terms have long postings. In two stages, the
question's ``RARE_TERMS`` rarest terms find ``candidate_count(k)``
candidates, and only those are then scored on every term. What can differ
from one stage: a chunk that shares only common terms with the question and
is not among the candidates. Both backends read these values at call time
(the scale benchmark switches them to measure its baselines).
"""

from __future__ import annotations

RARE_TERMS = 10
"""First-stage terms; a question with no more terms than this (after
``sqlite_fts.worthless_terms`` on SQLite) is searched in one stage."""

TWO_STAGE_FROM = 30_000
"""Below this many chunks one stage is fast enough and exact. Measured on
SQLite (``benchmarks/scale_bench.py``): at 10k chunks two stages were
0.93x the one-stage time yet kept only 92% of its top 10, at 100k 0.33x
with 99.2% kept."""


def candidate_count(k: int) -> int:
    """How many first-stage candidates are scored on every term for top ``k``."""
    return max(50, 4 * k)
