"""Answer-quality, refusal, rate and latency metrics: pure functions, no I/O.

Answer scoring follows the SQuAD 2.0 rules: normalise (lower-case, drop
punctuation and the articles a/an/the, collapse whitespace), then exact match
and token-overlap F1, taking the best score over the gold answers. A refusal
is scored as the empty prediction, so an unanswerable question scores 1 only
when the system refused. Chinese gold answers are scored per character (the
DRCD convention), because Chinese text has no spaces to split tokens on.

Rates carry their counts and a 95% Wilson score interval, which stays inside
[0, 1] and behaves sensibly for the small counts a bank's own test set has.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chatbot.text import detect_language
from chatbot.text import strip_citations as _without_markers

Z_95 = 1.959963984540054  # two-sided 95% standard-normal quantile

_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)


# --- normalisation -------------------------------------------------------------------


def normalize_answer(text: str) -> str:
    """SQuAD 2.0 normalisation: lower-case, no punctuation, no articles,
    single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _ASCII_PUNCT)
    text = _ARTICLES_RE.sub(" ", text)
    return " ".join(text.split())


def _is_punctuation(ch: str) -> bool:
    # Unicode categories P* cover both ASCII and CJK/full-width punctuation
    # (。，、「」《》！？：；（）); S* adds symbols such as full-width ～ and ＄.
    return ch in _ASCII_PUNCT or unicodedata.category(ch)[0] in "PS"


def normalize_zh(text: str) -> str:
    """Chinese normalisation: lower-case Latin letters, drop all whitespace and
    ASCII/CJK punctuation. NFKC first, so full-width letters and digits match
    their ASCII forms."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if not ch.isspace() and not _is_punctuation(ch))


def strip_citations(text: str) -> str:
    """Remove ``[n]`` / ``[n, m]`` markers so an answer can be scored as text."""
    return _without_markers(text).strip()


def scorer_language(gold: str) -> str:
    """'zh' when the gold answer is Chinese (score per character), else 'en'."""
    return "zh" if detect_language(gold) == "zh" else "en"


def answer_tokens(text: str, language: str) -> list[str]:
    """Tokens compared by F1: characters for 'zh', normalised words otherwise."""
    if language == "zh":
        return list(normalize_zh(text))
    return normalize_answer(text).split()


# --- per-question scores ---------------------------------------------------------------


def _normalized(text: str, language: str) -> str:
    return normalize_zh(text) if language == "zh" else normalize_answer(text)


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    language = scorer_language(gold)
    return float(_normalized(prediction, language) == _normalized(gold, language))


def token_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 (characters for Chinese gold). Two empty strings score
    1.0; exactly one empty string scores 0.0."""
    language = scorer_language(gold)
    pred = answer_tokens(prediction, language)
    ref = answer_tokens(gold, language)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision = common / len(pred)
    recall = common / len(ref)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True, slots=True)
class QuestionScore:
    exact: float
    f1: float


def score_question(
    prediction: str | None, answers: Sequence[str], answerable: bool
) -> QuestionScore:
    """SQuAD 2.0 score of one question. ``prediction`` is None (or "") for a
    refusal. Unanswerable questions score 1 only for an empty prediction; an
    answerable question without gold strings is scored against "", like the
    official script does."""
    pred = prediction or ""
    golds = [a for a in answers if normalize_answer(a) or normalize_zh(a)] if answerable else []
    if not golds:
        golds = [""]
    return QuestionScore(
        exact=max(exact_match(pred, g) for g in golds),
        f1=max(token_f1(pred, g) for g in golds),
    )


def contains_gold(prediction: str | None, answers: Sequence[str]) -> bool:
    """True when some normalised gold answer occurs inside the normalised
    prediction. Generated answers are whole sentences, so this is a fairer
    'correct' signal for them than exact match."""
    if not prediction:
        return False
    # Curly quotes and other non-ASCII punctuation ("“Digital Bank”") would
    # stick to the words next to them under the SQuAD normalisation.
    prediction = "".join(" " if _is_punctuation(ch) else ch for ch in prediction)
    for gold in answers:
        language = scorer_language(gold)
        g = _normalized("".join(" " if _is_punctuation(ch) else ch for ch in gold), language)
        if not g:
            continue
        p = _normalized(prediction, language)
        if language == "zh":
            if g in p:
                return True
        elif f" {g} " in f" {p} " or (  # whole tokens only: "10" must not match "100"
            scorer_language(prediction) == "zh" and _glued_match(gold, prediction)
        ):
            return True
    return False


def _glued_match(gold: str, prediction: str) -> bool:
    """A Latin or numeric gold ("6.1%") inside Chinese prose, where no space
    separates it from the characters around it ("收縮6.1%，是"): matched on the
    Chinese normalisation, with no letter or digit right before or after it,
    so "6.1%" still does not match "16.1%"."""
    g, p = normalize_zh(gold), normalize_zh(prediction)
    return bool(g) and re.search(rf"(?<![0-9a-z]){re.escape(g)}(?![0-9a-z])", p) is not None


# --- rates with confidence intervals ---------------------------------------------------


def wilson_interval(successes: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when total is 0."""
    if total < 0 or not 0 <= successes <= total:
        raise ValueError(f"need 0 <= successes <= total, got {successes}/{total}")
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    z2 = z * z
    denom = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denom
    # At p = 0 or 1 the bound is exactly 0 or 1; rounding would leave 1e-16 off.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == total else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True, slots=True)
class Rate:
    """``successes`` out of ``total`` with its 95% Wilson interval."""

    successes: int
    total: int

    @property
    def value(self) -> float | None:
        """The proportion, or None when there was nothing to count."""
        return self.successes / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.total)

    def __str__(self) -> str:
        if self.value is None:
            return "n/a (0/0)"
        low, high = self.interval
        return f"{self.value:.1%} ({self.successes}/{self.total}, 95% CI {low:.1%}-{high:.1%})"


def rate(flags: Iterable[bool]) -> Rate:
    """Share of True values."""
    values = list(flags)
    return Rate(sum(1 for v in values if v), len(values))


def rate_dict(value: Rate) -> dict[str, Any]:
    """A rate as JSON: value (None for 0/0), counts and the 95% interval."""
    low, high = value.interval
    return {
        "value": value.value,
        "successes": value.successes,
        "total": value.total,
        "ci95": [low, high],
    }


def hallucination_rate(answerable: Sequence[bool], answered: Sequence[bool]) -> Rate:
    """Share of unanswerable questions that got an answer instead of a refusal."""
    _same_length(answerable, answered)
    return rate(a for ok, a in zip(answerable, answered, strict=True) if not ok)


def coverage(answerable: Sequence[bool], answered: Sequence[bool]) -> Rate:
    """Share of answerable questions that were answered (not refused)."""
    _same_length(answerable, answered)
    return rate(a for ok, a in zip(answerable, answered, strict=True) if ok)


@dataclass(frozen=True, slots=True)
class RefusalScores:
    """Refusal as a classifier; the positive class is 'should refuse'."""

    true_pos: int  # unanswerable and refused
    false_pos: int  # answerable but refused
    false_neg: int  # unanswerable but answered
    true_neg: int  # answerable and answered

    @property
    def precision(self) -> Rate:
        return Rate(self.true_pos, self.true_pos + self.false_pos)

    @property
    def recall(self) -> Rate:
        return Rate(self.true_pos, self.true_pos + self.false_neg)

    @property
    def f1(self) -> float | None:
        """Harmonic mean of precision and recall; None when neither is defined,
        0.0 when there is nothing right to count."""
        p, r = self.precision.value, self.recall.value
        if p is None and r is None:
            return None
        if not p or not r:
            return 0.0
        return 2 * p * r / (p + r)


def refusal_scores(should_refuse: Sequence[bool], refused: Sequence[bool]) -> RefusalScores:
    _same_length(should_refuse, refused)
    pairs = list(zip(should_refuse, refused, strict=True))
    return RefusalScores(
        true_pos=sum(1 for s, r in pairs if s and r),
        false_pos=sum(1 for s, r in pairs if not s and r),
        false_neg=sum(1 for s, r in pairs if s and not r),
        true_neg=sum(1 for s, r in pairs if not s and not r),
    )


# --- overall SQuAD-2.0-style summary ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class SquadSummary:
    """Mean EM/F1 (0..1) overall and split into HasAns / NoAns, as the official
    SQuAD 2.0 script reports them. Means are None for an empty split."""

    exact: float | None
    f1: float | None
    has_ans_exact: float | None
    has_ans_f1: float | None
    no_ans_exact: float | None
    no_ans_f1: float | None
    total: int
    has_ans_total: int
    no_ans_total: int


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def squad_summary(rows: Iterable[tuple[str | None, Sequence[str], bool]]) -> SquadSummary:
    """Aggregate ``(prediction or None for a refusal, gold answers, answerable)`` rows."""
    has: list[QuestionScore] = []
    no: list[QuestionScore] = []
    for prediction, answers, answerable in rows:
        (has if answerable else no).append(score_question(prediction, answers, answerable))
    both = has + no
    return SquadSummary(
        exact=_mean([s.exact for s in both]),
        f1=_mean([s.f1 for s in both]),
        has_ans_exact=_mean([s.exact for s in has]),
        has_ans_f1=_mean([s.f1 for s in has]),
        no_ans_exact=_mean([s.exact for s in no]),
        no_ans_f1=_mean([s.f1 for s in no]),
        total=len(both),
        has_ans_total=len(has),
        no_ans_total=len(no),
    )


# --- latency ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest
    ranks (numpy's default); None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    count: int
    p50: float | None
    p95: float | None
    mean: float | None
    max: float | None


def latency_summary(seconds: Sequence[float]) -> LatencySummary:
    return LatencySummary(
        count=len(seconds),
        p50=percentile(seconds, 50),
        p95=percentile(seconds, 95),
        mean=_mean(seconds),
        max=max(seconds) if seconds else None,
    )


# --- retrieval -------------------------------------------------------------------------


def recall_at_k(ranked: Sequence[str], gold: Collection[str], k: int) -> float | None:
    """Share of the distinct gold keys found among the first ``k`` ranked keys
    (ids, sources or 'source#page'); None when there is no gold to find."""
    wanted = set(gold)
    if not wanted:
        return None
    return len(wanted & set(ranked[:k])) / len(wanted)


def hit_at_k(ranked: Sequence[str], gold: Collection[str], k: int) -> float | None:
    """1.0 when any gold key is among the first ``k`` ranked keys."""
    wanted = set(gold)
    if not wanted:
        return None
    return float(any(key in wanted for key in ranked[:k]))


def reciprocal_rank(ranked: Sequence[str], gold: Collection[str]) -> float | None:
    """1/rank of the first gold key (1-based), 0.0 when none is ranked."""
    wanted = set(gold)
    if not wanted:
        return None
    for position, key in enumerate(ranked, start=1):
        if key in wanted:
            return 1.0 / position
    return 0.0


def mean_defined(values: Iterable[float | None]) -> float | None:
    """Mean over the values that are not None (questions without gold are
    skipped, not counted as misses); None when all are None."""
    kept = [v for v in values if v is not None]
    return _mean(kept)


def mean_reciprocal_rank(runs: Iterable[tuple[Sequence[str], Collection[str]]]) -> float | None:
    """MRR over ``(ranked keys, gold keys)`` pairs that have gold."""
    return mean_defined(reciprocal_rank(ranked, gold) for ranked, gold in runs)


def _same_length(a: Sequence[object], b: Sequence[object]) -> None:
    if len(a) != len(b):
        raise ValueError(f"sequences differ in length: {len(a)} != {len(b)}")
