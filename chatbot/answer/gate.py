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

from chatbot.answer.periods import stated_figures
from chatbot.answer.question import Question
from chatbot.domain import Evidence, Passage
from chatbot.protocols import KeywordIndex
from chatbot.settings import GateSettings
from chatbot.text import passage_sentences, stem, terms


def idf_weights(question_terms: Sequence[str], keywords: KeywordIndex) -> dict[str, float]:
    """BM25-style IDF per term; unseen terms get the largest weight."""
    total, freqs = keywords.document_frequencies(question_terms)
    n = max(total, 1)
    return {
        term: math.log(1.0 + (n - freqs.get(term, 0) + 0.5) / (freqs.get(term, 0) + 0.5))
        for term in question_terms
    }


def assess(
    question: Question,
    shown: Sequence[Passage],
    candidates: Sequence[Passage],
    keywords: KeywordIndex,
) -> Evidence:
    """Measure how well ``shown`` passages cover ``question``."""
    units = question.units
    dense_scores = sorted(
        (p.dense_score for p in candidates if p.dense_score is not None), reverse=True
    )
    best_dense = dense_scores[0] if dense_scores else None
    dense_gap = dense_scores[0] - dense_scores[1] if len(dense_scores) > 1 else 0.0
    language = question.language
    if not units:
        return Evidence(language, best_dense, 0.0, (), (), dense_gap=dense_gap)
    idf = idf_weights(sorted({t for _, grams in units for t in grams}), keywords)
    weights = [max(idf[g] for g in grams) for _, grams in units]
    total = sum(weights)
    if total <= 0:
        return Evidence(language, best_dense, 0.0, (), (), dense_gap=dense_gap)

    def covered_by(present: set[str]) -> list[bool]:
        return [any(stem(g) in present for g in grams) for _, grams in units]

    # A passage also covers its document's declared period and version (the
    # year of the 2024 report), never the rest of its context line.
    stated = {p.id: {stem(t) for t in stated_figures(p.chunk.context)} for p in shown}
    hits = covered_by({stem(t) for p in shown for t in terms(p.chunk.text)}.union(*stated.values()))
    matched = tuple(unit for (unit, _), hit in zip(units, hits, strict=True) if hit)
    missing = tuple(unit for (unit, _), hit in zip(units, hits, strict=True) if not hit)
    coverage = sum(w for w, hit in zip(weights, hits, strict=True) if hit) / total
    heaviest_missing = max(
        (w for w, hit in zip(weights, hits, strict=True) if not hit), default=0.0
    )
    best_sentence, sentence_coverage = "", 0.0
    for passage in shown:
        for sentence in passage_sentences(passage.chunk.text):
            present = {stem(t) for t in terms(sentence)} | stated[passage.id]
            share = sum(w for w, hit in zip(weights, covered_by(present), strict=True) if hit)
            if share / total > sentence_coverage:
                best_sentence, sentence_coverage = sentence, share / total
    return Evidence(
        language,
        best_dense,
        coverage,
        matched,
        missing,
        sentence_coverage=sentence_coverage,
        best_sentence=best_sentence[:400],
        dense_gap=dense_gap,
        heaviest_missing=heaviest_missing / total,
    )


def below_thresholds(evidence: Evidence, settings: GateSettings) -> str | None:
    """Why the evidence fails the fixed thresholds (the ``no_evidence``
    refusal), or None to go on. The calibrated check that gives
    ``weak_evidence`` comes after it (``chatbot.answer.examine``)."""
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
