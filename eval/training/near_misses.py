"""Labelled near-miss pairs for training the answerability reader.

Every SQuAD v1.1 training question is answerable from its paragraph. From each
one this module makes the answerable pair (question, paragraph, span) and one
*near miss*: a pair that looks answerable but is not. The kinds follow the
adversarial categories of the SQuAD 2.0 paper (Rajpurkar et al., 2018), made by
rules from the question and its own article:

``entity_swap``     a name in the question replaced by a name from another
                    article that its paragraph never mentions
``number_change``   a year or number in the question changed to one the
                    paragraph does not contain
``negation``        the question's auxiliary verb negated ("was" -> "wasn't")
``antonym``         a word replaced by its opposite (first/last, largest/smallest)
                    that the paragraph does not contain; this also covers the
                    paper's "mutual exclusion" cases (before/after, north/south)
``term_swap``       the question's rarest content word that the paragraph uses
                    replaced by a word the paragraph does not use
``other_paragraph`` the unchanged question against the paragraph of the same
                    article that shares most words with it but lacks the answer
``answer_removed``  the unchanged question against its own paragraph with every
                    sentence that holds the answer taken out

The paper's "impossible condition" kind needs rewriting a clause, which rules do
poorly; it is not generated. Rule-made negatives are noisy (a negated question
is sometimes still answerable); the reader is validated on the real adversarial
questions of the shared SQuAD 2.0 calibration half, never on these.

Generation is deterministic for a seed: the same seed gives the same pairs.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eval.training.squad_train import Article, Example

KINDS = (
    "entity_swap",
    "number_change",
    "negation",
    "antonym",
    "term_swap",
    "other_paragraph",
    "answer_removed",
)
# How often each kind is wanted; a kind that cannot be made from a question
# (no number in it, say) gives its turn to the kinds that can.
WEIGHTS = {
    "entity_swap": 0.20,
    "number_change": 0.10,
    "negation": 0.10,
    "antonym": 0.10,
    "term_swap": 0.15,
    "other_paragraph": 0.20,
    "answer_removed": 0.15,
}


@dataclass(frozen=True, slots=True)
class Pair:
    """One training pair; ``answer`` is None for a near miss."""

    question: str
    context: str
    answer: str | None
    answer_start: int  # -1 for a near miss
    kind: str  # "answerable" or one of KINDS
    source: str  # where it came from: "squad-v1.1-train:<question id>"
    title: str


_NAME_RE = re.compile(r"\b[A-Z][\w'-]*(?:\s+(?:of|the|de|von|van|and)?\s*[A-Z][\w'-]*)*")
_NUMBER_RE = re.compile(r"\b\d{1,4}(?:,\d{3})*(?:\.\d+)?\b")
_WORD_RE = re.compile(r"[A-Za-z][a-z'-]{4,}")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how in on at by for from of the a an "
    "during after before is was are were did does do".split()
)
_CONTRACTIONS = {
    "is": "isn't",
    "was": "wasn't",
    "are": "aren't",
    "were": "weren't",
    "did": "didn't",
    "does": "doesn't",
    "do": "don't",
    "can": "can't",
    "could": "couldn't",
    "has": "hasn't",
    "have": "haven't",
    "had": "hadn't",
    "will": "won't",
    "would": "wouldn't",
    "should": "shouldn't",
}
_ANTONYM_PAIRS = (
    ("first", "last"),
    ("largest", "smallest"),
    ("biggest", "smallest"),
    ("highest", "lowest"),
    ("most", "least"),
    ("earliest", "latest"),
    ("before", "after"),
    ("north", "south"),
    ("east", "west"),
    ("increase", "decrease"),
    ("increased", "decreased"),
    ("more", "fewer"),
    ("oldest", "newest"),
    ("longest", "shortest"),
    ("best", "worst"),
    ("maximum", "minimum"),
    ("won", "lost"),
    ("win", "lose"),
    ("start", "end"),
    ("began", "ended"),
    ("open", "closed"),
    ("opened", "closed"),
    ("major", "minor"),
    ("upper", "lower"),
    ("inner", "outer"),
    ("early", "late"),
    ("rich", "poor"),
    ("top", "bottom"),
    ("strongest", "weakest"),
    ("allowed", "forbidden"),
    ("accepted", "rejected"),
    ("public", "private"),
    ("male", "female"),
    ("northern", "southern"),
    ("eastern", "western"),
    ("modern", "ancient"),
    ("positive", "negative"),
    ("higher", "lower"),
    ("larger", "smaller"),
)
_ANTONYMS = {a: b for a, b in _ANTONYM_PAIRS} | {b: a for a, b in _ANTONYM_PAIRS}


def _contains(context: str, phrase: str) -> bool:
    return phrase.lower() in context.lower()


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\w+", text)}


class _Pools:
    """Names and words from the whole training set, to swap into questions."""

    def __init__(self, articles: Sequence[Article]) -> None:
        names: set[str] = set()
        words: Counter[str] = Counter()
        for article in articles:
            for paragraph in article.paragraphs[:6]:
                for sentence in _SENTENCE_RE.split(paragraph):
                    # a capitalised phrase after a sentence's first word is a name
                    for m in _NAME_RE.finditer(sentence, pos=1):
                        if 3 <= len(m.group()) <= 40 and m.start() > 0:
                            names.add(m.group())
                words.update(w.lower() for w in _WORD_RE.findall(paragraph))
        self.names = sorted(names)
        self.document_frequency = words
        # words common enough to be real, rare enough to carry meaning; a tiny
        # corpus has no such band, and then every word is a candidate
        banded = sorted(w for w, c in words.items() if 3 <= c <= 200)
        self.words = banded or sorted(words)


def _entity_swap(ex: Example, rng: random.Random, pools: _Pools) -> str | None:
    candidates = [
        m
        for m in _NAME_RE.finditer(ex.question)
        if m.start() > 0 and _contains(ex.context, m.group())
    ]
    if not candidates or not pools.names:
        return None
    target = rng.choice(candidates)
    for _ in range(20):
        name = rng.choice(pools.names)
        if not _contains(ex.context, name) and name.lower() != target.group().lower():
            return ex.question[: target.start()] + name + ex.question[target.end() :]
    return None


def _number_change(ex: Example, rng: random.Random, pools: _Pools) -> str | None:
    del pools
    candidates = list(_NUMBER_RE.finditer(ex.question))
    if not candidates:
        return None
    target = rng.choice(candidates)
    text = target.group().replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return None
    for _ in range(20):
        if "." in text:
            new = f"{value * rng.choice((0.5, 1.5, 2.0, 3.0)):.{len(text.split('.')[1])}f}"
        elif 1000 <= value <= 2100:  # a year
            new = str(int(value) + rng.choice((-1, 1)) * rng.randint(1, 30))
        else:
            new = str(max(0, int(value) + rng.choice((-1, 1)) * rng.randint(1, max(2, int(value)))))
        if new != text and new not in ex.context:
            return ex.question[: target.start()] + new + ex.question[target.end() :]
    return None


def _negation(ex: Example, rng: random.Random, pools: _Pools) -> str | None:
    del rng, pools
    tokens = ex.question.split()
    for i, token in enumerate(tokens[:4]):
        negated = _CONTRACTIONS.get(token.lower())
        if negated and i + 1 < len(tokens):
            if token[0].isupper():
                negated = negated.capitalize()
            return " ".join([*tokens[:i], negated, *tokens[i + 1 :]])
    return None


def _antonym(ex: Example, rng: random.Random, pools: _Pools) -> str | None:
    del pools
    spots = [m for m in re.finditer(r"[A-Za-z]+", ex.question) if m.group().lower() in _ANTONYMS]
    rng.shuffle(spots)
    for m in spots:
        opposite = _ANTONYMS[m.group().lower()]
        if re.search(rf"\b{opposite}\b", ex.context, re.IGNORECASE):
            continue
        if m.group()[0].isupper():
            opposite = opposite.capitalize()
        return ex.question[: m.start()] + opposite + ex.question[m.end() :]
    return None


def _term_swap(ex: Example, rng: random.Random, pools: _Pools) -> str | None:
    context_words = _words(ex.context)
    spots = [
        m
        for m in _WORD_RE.finditer(ex.question)
        if m.group().lower() in context_words
        and m.group().lower() not in _QUESTION_WORDS
        and not _contains(ex.answer, m.group())
    ]
    if not spots or not pools.words:
        return None
    rarest = min(spots, key=lambda m: pools.document_frequency.get(m.group().lower(), 0))
    for _ in range(20):
        word = rng.choice(pools.words)
        if word not in context_words:
            return ex.question[: rarest.start()] + word + ex.question[rarest.end() :]
    return None


_REWRITES: dict[str, Callable[[Example, random.Random, _Pools], str | None]] = {
    "entity_swap": _entity_swap,
    "number_change": _number_change,
    "negation": _negation,
    "antonym": _antonym,
    "term_swap": _term_swap,
}


def _other_paragraph(ex: Example, article: Article) -> str | None:
    asked = _words(ex.question) - _QUESTION_WORDS
    best: tuple[int, str] | None = None
    for index, paragraph in enumerate(article.paragraphs):
        if index == ex.paragraph_index or _contains(paragraph, ex.answer):
            continue
        overlap = len(asked & _words(paragraph))
        if best is None or overlap > best[0]:
            best = (overlap, paragraph)
    return None if best is None or best[0] == 0 else best[1]


def _answer_removed(ex: Example) -> str | None:
    kept = [s for s in _SENTENCE_RE.split(ex.context) if not _contains(s, ex.answer)]
    context = " ".join(kept)
    if len(kept) < 2 or _contains(context, ex.answer):
        return None
    return context


def near_miss(
    ex: Example, article: Article, kind: str, rng: random.Random, pools: _Pools
) -> Pair | None:
    """The near miss of ``kind`` made from ``ex``, or None when it cannot be made."""
    source = f"squad-v1.1-train:{ex.id}"
    if kind in _REWRITES:
        question = _REWRITES[kind](ex, rng, pools)
        if question is None or question == ex.question:
            return None
        return Pair(question, ex.context, None, -1, kind, source, ex.title)
    if kind == "other_paragraph":
        context = _other_paragraph(ex, article)
    elif kind == "answer_removed":
        context = _answer_removed(ex)
    else:
        raise ValueError(f"unknown near-miss kind {kind!r}; expected one of {KINDS}")
    return None if context is None else Pair(ex.question, context, None, -1, kind, source, ex.title)


def build(
    examples: Sequence[Example],
    articles: Sequence[Article],
    n_questions: int,
    seed: int,
    kinds: Sequence[str] = KINDS,
) -> tuple[list[Pair], Counter[str]]:
    """``n_questions`` sampled questions, each as its answerable pair plus one
    near miss of a kind drawn by ``WEIGHTS`` among the kinds it allows.
    Returns the shuffled pairs and how many of each kind were made."""
    rng = random.Random(seed)
    by_title = {a.title: a for a in articles}
    pools = _Pools(articles)
    chosen = rng.sample(range(len(examples)), min(n_questions, len(examples)))
    pairs: list[Pair] = []
    for i in chosen:
        ex = examples[i]
        pairs.append(
            Pair(
                ex.question,
                ex.context,
                ex.answer,
                ex.answer_start,
                "answerable",
                f"squad-v1.1-train:{ex.id}",
                ex.title,
            )
        )
        remaining = list(kinds)
        while remaining:
            kind = rng.choices(remaining, weights=[WEIGHTS[k] for k in remaining])[0]
            made = near_miss(ex, by_title[ex.title], kind, rng, pools)
            if made is not None:
                pairs.append(made)
                break
            remaining.remove(kind)
    rng.shuffle(pairs)
    return pairs, Counter(p.kind for p in pairs)
