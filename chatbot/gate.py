"""The evidence gate: decide, before any LLM call, whether the corpus can answer.

Two signals, both cheap and both logged:

* ``best_dense``: cosine similarity of the closest passage to the question.
  Low means nothing in the corpus is about this.
* ``coverage``: the IDF-weighted share of the question's content words that
  occur in the passages we would show the model. A question about "2027 GDP
  growth" against a corpus about the GenAI Sandbox may find passages that
  look related (the HKMA is in both), but its rare, specific words are
  missing, and those carry most of the weight. Words the corpus has never
  seen get the highest weight of all.

Thresholds live in ``GateSettings``; the defaults were chosen on the own
question set (see README) and are meant to be re-calibrated with the eval
harness for a bank's own corpus.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.domain import Passage
from chatbot.protocols import KeywordIndex
from chatbot.settings import GateSettings
from chatbot.text import content_terms, detect_language, stem, terms


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the gate measured for one question."""

    language: str
    best_dense: float | None
    coverage: float  # 0..1
    matched: tuple[str, ...]
    missing: tuple[str, ...]

    def describe(self) -> str:
        dense = "n/a" if self.best_dense is None else f"{self.best_dense:.3f}"
        return (
            f"best_dense={dense} coverage={self.coverage:.2f} "
            f"missing={list(self.missing)[:8]} lang={self.language}"
        )


def idf_weights(question_terms: Sequence[str], keywords: KeywordIndex) -> dict[str, float]:
    """BM25-style IDF per term; unseen terms get the largest weight."""
    total, freqs = keywords.document_frequencies(question_terms)
    n = max(total, 1)
    return {
        term: math.log(1.0 + (n - freqs.get(term, 0) + 0.5) / (freqs.get(term, 0) + 0.5))
        for term in question_terms
    }


def assess(
    question: str,
    shown: Sequence[Passage],
    candidates: Sequence[Passage],
    keywords: KeywordIndex,
) -> Evidence:
    """Measure how well ``shown`` passages cover ``question``."""
    wanted = content_terms(question)
    dense_scores = [p.dense_score for p in candidates if p.dense_score is not None]
    best_dense = max(dense_scores) if dense_scores else None
    language = detect_language(question)
    if not wanted:
        return Evidence(language, best_dense, 0.0, (), ())
    weights = idf_weights(wanted, keywords)
    present = {stem(t) for p in shown for t in terms(p.chunk.text)}
    matched = tuple(t for t in wanted if stem(t) in present)
    missing = tuple(t for t in wanted if stem(t) not in present)
    total = sum(weights.values())
    coverage = sum(weights[t] for t in matched) / total if total > 0 else 0.0
    return Evidence(language, best_dense, coverage, matched, missing)


def weak_evidence(evidence: Evidence, settings: GateSettings) -> str | None:
    """Return why the evidence is too weak to ask the LLM, or None to go on."""
    if not evidence.matched:
        return "no passage shares a content word with the question"
    cjk = evidence.language == "zh"
    min_dense = settings.min_dense_score_cjk if cjk else settings.min_dense_score
    if evidence.best_dense is None or evidence.best_dense < min_dense:
        return f"closest passage too far (dense below {min_dense:.2f})"
    min_cov = settings.min_term_coverage_cjk if cjk else settings.min_term_coverage
    if evidence.coverage < min_cov:
        return f"question's key terms missing from the passages (coverage below {min_cov:.2f})"
    return None
