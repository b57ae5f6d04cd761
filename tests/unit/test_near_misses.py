"""The near-miss generator: each kind on a tiny article, seeded and reproducible."""

from __future__ import annotations

import random

import pytest

from eval.training.near_misses import KINDS, _Pools, build, near_miss
from eval.training.squad_train import Article, Example

PARAGRAPHS = (
    "The Treaty of Verdun was signed in 843. It divided the empire of Charlemagne "
    "among his three grandsons. Lothair received the middle kingdom.",
    "Charlemagne was crowned emperor in Rome by Pope Leo III. His court at Aachen "
    "attracted scholars from across Europe.",
    "The Carolingian minuscule became the standard script of the emperor. Monks copied "
    "classical texts in it. Many of the oldest surviving manuscripts use it.",
)
OTHER = Article(
    "Rivers",
    (
        "The Danube flows through Vienna and Budapest before it reaches "
        "the Black Sea. The Rhine rises in Switzerland.",
    ),
)
ARTICLE = Article("Carolingians", PARAGRAPHS)


def example(question: str, answer: str, paragraph: int = 0, qid: str = "q1") -> Example:
    context = PARAGRAPHS[paragraph]
    return Example(qid, ARTICLE.title, paragraph, question, context, answer, context.index(answer))


POOLS = _Pools([ARTICLE, OTHER])


def make(kind: str, ex: Example, seed: int = 0):  # type: ignore[no-untyped-def]
    return near_miss(ex, ARTICLE, kind, random.Random(seed), POOLS)


def test_number_change_writes_a_number_the_paragraph_lacks() -> None:
    pair = make("number_change", example("What was signed in 843?", "The Treaty of Verdun"))
    assert pair is not None and pair.answer is None and pair.answer_start == -1
    changed = pair.question.split()[-1].rstrip("?")
    assert changed.isdigit() and changed != "843" and changed not in pair.context


def test_entity_swap_brings_a_name_from_elsewhere() -> None:
    pair = make(
        "entity_swap",
        example("Who did Charlemagne divide his empire among?", "his three grandsons"),
    )
    assert pair is not None and "Charlemagne" not in pair.question
    assert pair.context == PARAGRAPHS[0]


def test_negation_contracts_the_auxiliary() -> None:
    pair = make("negation", example("When was the Treaty of Verdun signed?", "843"))
    assert pair is not None and pair.question == "When wasn't the Treaty of Verdun signed?"


def test_antonym_needs_an_opposite_the_paragraph_does_not_use() -> None:
    pair = make(
        "antonym",
        example("What became the first standard script?", "The Carolingian minuscule", paragraph=2),
    )
    assert pair is not None and pair.question == "What became the last standard script?"
    # "oldest" -> "newest": fine; but an opposite already in the paragraph is not used
    assert make("antonym", example("Which manuscripts use the minuscule?", "Many", 2)) is None


def test_other_paragraph_picks_the_closest_one_without_the_answer() -> None:
    pair = make(
        "other_paragraph", example("Who was crowned emperor in Rome?", "Charlemagne", paragraph=1)
    )
    # paragraph 0 mentions Charlemagne (the answer); paragraph 2 shares "emperor"
    assert pair is not None and pair.context == PARAGRAPHS[2]
    assert pair.question == "Who was crowned emperor in Rome?"


def test_answer_removed_drops_every_sentence_with_the_answer() -> None:
    pair = make("answer_removed", example("What did Lothair receive?", "the middle kingdom"))
    assert pair is not None and "middle kingdom" not in pair.context
    assert pair.context.startswith("The Treaty of Verdun was signed in 843.")


def test_term_swap_replaces_a_word_the_paragraph_uses() -> None:
    ex = example("Whose court attracted scholars?", "His court at Aachen", paragraph=1)
    pair = make("term_swap", ex)
    assert pair is not None and pair.question != ex.question
    assert pair.question.count(" ") == ex.question.count(" ")


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown near-miss kind"):
        make("paraphrase", example("When was it signed?", "843"))


def test_build_is_reproducible_and_labels_every_pair() -> None:
    examples = [
        example("When was the Treaty of Verdun signed?", "843", qid="a"),
        example("Who was crowned emperor in Rome?", "Charlemagne", 1, qid="b"),
        example("What became the first standard script?", "The Carolingian minuscule", 2, "c"),
    ]
    first, counts = build(examples, [ARTICLE, OTHER], 3, seed=7)
    again, _ = build(examples, [ARTICLE, OTHER], 3, seed=7)
    assert first == again
    assert counts["answerable"] == 3 and sum(counts.values()) == len(first) == 6
    assert set(counts) - {"answerable"} <= set(KINDS)
    for pair in first:
        assert pair.source.startswith("squad-v1.1-train:")
        if pair.answer is not None:
            assert pair.context[pair.answer_start :].startswith(pair.answer)
