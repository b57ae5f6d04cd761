"""The evaluation data model every dataset adapter produces.

An ``EvalSet`` is a list of questions (``EvalItem``) and, for public datasets,
the passages to index for them (``Context``). Public sets are evaluated as an
open corpus: all contexts of the set go into one index, so retrieval has to
find the right one among many. The own question set has no contexts: it is
asked against the ingested ``corpus/``.

When a runner indexes contexts, each ``Context.id`` should become the chunk's
``source`` (and ``Context.title`` its title); gold sources of public-set items
are context ids, so retrieval metrics compare like with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chatbot.domain import Passage

Level = Literal["source", "page"]

ANSWERABLE = "answerable"
UNANSWERABLE = "unanswerable"
OFF_TOPIC = "off_topic"
BOUNDARY_PUSH = "boundary_push"
OUT_OF_CORPUS = "out_of_corpus"
NEGATIVE_REJECTION = "negative_rejection"
# Period-aware sets (eval/datasets/hkma.jsonl): a question about a year no
# document covers; the correct outcome is a refusal before any LLM call.
UNCOVERED_PERIOD = "uncovered_period"


@dataclass(frozen=True, slots=True)
class EvalItem:
    """One question with what a correct system should do about it.

    ``answers`` are gold short answers (empty for unanswerable questions).
    ``gold_sources`` name the documents (corpus-relative paths, or context ids
    for public sets) that hold the answer; ``gold_pages`` are 1-based pages of
    the single gold source, or parallel to ``gold_sources``. ``context_ids``
    are the contexts the question was written against, also for unanswerable
    questions (SQuAD's adversarial ones, DRCD's out-of-corpus ones).
    """

    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    language: str  # "en" or "zh"
    category: str
    gold_sources: tuple[str, ...] = ()
    gold_pages: tuple[int, ...] = ()
    context_ids: tuple[str, ...] = ()
    # The period the question asks about ("2024"), "" when it names none;
    # ``other_period_answers`` are the same quantity's values in other
    # periods' documents: an answer carrying one of them mixed up the years.
    period: str = ""
    other_period_answers: tuple[str, ...] = ()

    def gold_locations(self) -> tuple[tuple[str, int | None], ...]:
        """(source, page or None) pairs; pages without a matching source are dropped."""
        if not self.gold_pages:
            return tuple((s, None) for s in self.gold_sources)
        if len(self.gold_sources) == 1:
            return tuple((self.gold_sources[0], p) for p in self.gold_pages)
        return tuple(zip(self.gold_sources, self.gold_pages, strict=False))

    def gold_keys(self, level: Level = "source") -> tuple[str, ...]:
        """Keys to compare with ``passage_key`` of retrieved passages."""
        if level == "source":
            return self.gold_sources
        return tuple(dict.fromkeys(location_key(s, p) for s, p in self.gold_locations()).keys())


@dataclass(frozen=True, slots=True)
class Context:
    """A passage of a public dataset, to be indexed as one document."""

    id: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class EvalSet:
    name: str
    items: tuple[EvalItem, ...]
    contexts: tuple[Context, ...] = ()  # empty: ask against the ingested corpus


def location_key(source: str, page: int | None) -> str:
    return source if page is None else f"{source}#p{page}"


def passage_key(passage: Passage, level: Level = "source") -> str:
    """The retrieval key of a passage at ``level`` ('source' or 'source#pN')."""
    if level == "source":
        return passage.chunk.source
    return location_key(passage.chunk.source, passage.chunk.page)
