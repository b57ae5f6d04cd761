"""The question as every answering step reads it, derived once.

Retrieval weighs the dense side by the question's language, the gate measures
how well the passages cover its evidence units, the calibrated model reads its
wording, and the prompt and messages follow its language. ``Question.of``
works all of that out once; the steps take the value instead of re-reading
the text.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.text import detect_language, evidence_units, question_language


@dataclass(frozen=True, slots=True)
class Question:
    """A standalone question: its text, its language and what evidence must cover."""

    text: str
    # ``chatbot.text.detect_language``: "en", "zh" or "und".
    language: str
    # "zh" or "en": the language answers and messages are written in.
    reply_language: str
    # ``chatbot.text.evidence_units``: each piece the passages must cover,
    # with the index terms that can cover it.
    units: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def of(cls, text: str) -> Question:
        return cls(
            text=text,
            language=detect_language(text),
            reply_language=question_language(text),
            units=tuple(evidence_units(text)),
        )
