"""A channel-neutral view of an outcome, for surfaces that are not Markdown.

The JSON API, Slack Block Kit and Teams Adaptive Cards all need the same
facts (answer or refusal, the reason and its label, an answer's short answer
phrase, each citation's number, title, source, page and a short quote); this
module extracts them once so the renderers only lay them out.

What a document or the model wrote (the answer, the short answer, titles,
quotes) is carried as plain text (``render.plain_text``): HTML tags, Slack
control sequences and Markdown links and images are dropped here, for every
surface and for API clients that might render a field as HTML or Markdown;
each renderer still escapes for its own format. A source's path is kept as
it is: it names the file (``/sources/{path}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chatbot.channels.i18n import place, scan_note
from chatbot.channels.render import (
    PASSAGES_NOT_SHOWN,
    plain_text,
    quote,
    reason_label,
    short_answer_of,
)
from chatbot.domain import Answer, Outcome, Passage, Refusal, RefusalReason


@dataclass(frozen=True, slots=True)
class SourceView:
    number: int | None  # the [n] of a citation; None for a passage merely looked at
    title: str
    source: str
    page: int | None
    quote: str
    unit: str = ""  # what page counts: "" pages, "slide", "sheet"
    section: str = ""
    ocr: str = ""  # "ocr" / "ocr-low" for a scanned page read by OCR
    ocr_confidence: str = ""
    attachment_of: str = ""  # the mail an attachment came with (source is the mail)

    def place(self, language: str = "en") -> str:
        """'p. 2', 'slide 3', 'sheet 2 (Limits)' or the section."""
        return place(self.page, self.unit, self.section, language)

    def scan_note(self, language: str = "en") -> str:
        """'scanned, read by OCR ...' for a scanned source, else ''."""
        return scan_note(self.ocr, self.ocr_confidence, language)

    @property
    def where(self) -> str:
        """'Title · p. 2 · path' for one-line displays."""
        parts = [self.title]
        if self.page is not None:
            parts.append(self.place())
        parts.append(self.source)
        return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class OutcomeView:
    kind: Literal["answer", "refusal"]
    text: str  # the answer, or the refusal message
    reason: RefusalReason | None
    label: str  # short heading: "Answer" or the refusal reason in words
    sources: tuple[SourceView, ...]  # citations of an answer; closest passages of a refusal
    # An answer's shortest answering phrase (``Answer.short_answer``); None for a
    # refusal, or when the support judge did not run or gave none: show nothing then.
    short_answer: str | None = None
    # The question's language ("en" or "zh"): renderers take their labels in it.
    language: str = "en"


def source_view(passage: Passage, number: int | None, quote_chars: int = 300) -> SourceView:
    chunk = passage.chunk
    return SourceView(
        number=number,
        title=plain_text(chunk.name),
        source=chunk.source,
        page=chunk.page,
        quote=plain_text(quote(chunk.text, quote_chars)),
        unit=chunk.context.unit,
        section=plain_text(chunk.section),
        ocr=chunk.context.ocr,
        ocr_confidence=chunk.context.ocr_confidence,
        attachment_of=plain_text(chunk.context.attachment_of),
    )


def view(outcome: Outcome, language: str = "en", quote_chars: int = 300) -> OutcomeView:
    match outcome:
        case Answer():
            return OutcomeView(
                kind="answer",
                text=plain_text(outcome.text),
                reason=None,
                label="Answer",
                sources=tuple(
                    source_view(c.passage, c.number, quote_chars) for c in outcome.citations
                ),
                short_answer=_plain(short_answer_of(outcome)),
                language=language,
            )
        case Refusal():
            shown = () if outcome.reason in PASSAGES_NOT_SHOWN else outcome.passages
            return OutcomeView(
                kind="refusal",
                text=outcome.message,
                reason=outcome.reason,
                label=reason_label(outcome.reason, language),
                sources=tuple(source_view(p, None, quote_chars) for p in shown[:3]),
                language=language,
            )


def _plain(text: str | None) -> str | None:
    return None if text is None else plain_text(text) or None
