"""The JSON API's request and response shapes (``chatbot.channels.api``).

They are the API's contract, published in /openapi.json: an answer and a
refusal are different shapes told apart by ``kind``; requests reject unknown
fields. ``timings_out`` and ``citation_out`` turn the domain's values into
them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatbot.channels.view import SourceView
from chatbot.domain import Timings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskRequest(_Strict):
    question: str = Field(min_length=1, max_length=20_000, description="The question.")
    conversation_id: str | None = Field(
        None,
        max_length=200,
        description="Caller's conversation id, kept in the audit trail. Questions with the "
        "same id are one conversation: a follow-up ('When was it announced?') is rewritten "
        "into a standalone question from the last turns. Without it, every question stands "
        "alone.",
    )
    user: str | None = Field(
        None,
        max_length=200,
        description="For a service token: the end user it asks for, kept in the audit trail "
        "next to the token's principal. It grants nothing: answers use the token's groups.",
    )


class CitationOut(BaseModel):
    number: int = Field(description="The [n] marker in the answer text.")
    title: str
    source: str = Field(description="Path of the document within the corpus.")
    page: int | None = Field(
        description="1-based page, slide or sheet number (see unit); null for formats "
        "without pages."
    )
    unit: str = Field("", description="What page counts: '' (a page), 'slide' or 'sheet'.")
    section: str = Field("", description="Heading path; a sheet's name for spreadsheets.")
    quote: str = Field(description="The start of the cited passage.")
    ocr: str = Field(
        "",
        description="'ocr' when the passage was read by OCR from a scanned page, 'ocr-low' "
        "when with low confidence; '' for text the file held.",
    )
    ocr_confidence: str = Field("", description="Mean OCR word confidence, 0-100.")
    attachment_of: str = Field(
        "", description="For a mail attachment: the mail it came with (source is the mail)."
    )


class TimingsOut(BaseModel):
    condense_s: float = Field(
        0.0, description="Rewriting a follow-up into a standalone question (an LLM call)."
    )
    retrieve_s: float
    read_s: float = Field(0.0, description="The answerability reader (0 when it did not run).")
    queue_s: float = Field(0.0, description="Waiting for a free place at the LLM.")
    generate_s: float
    verify_s: float
    total_s: float


class AnswerOut(BaseModel):
    kind: Literal["answer"] = "answer"
    text: str = Field(description="The answer, with [n] markers naming its citations.")
    short_answer: str | None = Field(
        None,
        description="The shortest phrase of the cited passages that answers the question "
        "(a name, number or date), checked against them; null when none was extracted.",
    )
    citations: list[CitationOut]
    timings: TimingsOut
    interaction_id: str | None = Field(description="Audit id; send it with feedback.")
    standalone_question: str | None = Field(
        None, description="For a follow-up: the self-contained question that was answered."
    )


class RefusalOut(BaseModel):
    kind: Literal["refusal"] = "refusal"
    message: str = Field(description="Why no answer is given, in the question's language.")
    reason: str = Field(
        description="Stable reason code: no_evidence, weak_evidence, not_in_passages, "
        "model_declined, no_valid_citation, unsupported, invalid_question, out_of_scope, "
        "period_not_covered or no_access."
    )
    label: str = Field(description="The reason in words.")
    timings: TimingsOut
    interaction_id: str | None = Field(description="Audit id; send it with feedback.")
    standalone_question: str | None = Field(
        None, description="For a follow-up: the self-contained question that was answered."
    )


AskResponse = Annotated[AnswerOut | RefusalOut, Field(discriminator="kind")]


class FeedbackRequest(_Strict):
    interaction_id: str = Field(min_length=1, max_length=100)
    helpful: bool
    comment: str = Field("", max_length=2000)


class FeedbackOut(BaseModel):
    status: Literal["recorded"] = "recorded"


class IndexStatusOut(BaseModel):
    documents: int
    pages: int
    chunks: int
    last_ingested_at: datetime | None
    embedder: str | None


class WhoAmIOut(BaseModel):
    principal: str
    via: str = Field(description="local, proxy or token.")
    groups: list[str]
    admin: bool
    auditor: bool


class ErrorOut(BaseModel):
    error: str = Field(description="Machine-readable error code.")
    message: str = Field(description="One sentence for a person.")


def timings_out(t: Timings) -> TimingsOut:
    return TimingsOut(
        condense_s=t.condense_s,
        retrieve_s=t.retrieve_s,
        read_s=t.read_s,
        queue_s=t.queue_s,
        generate_s=t.generate_s,
        verify_s=t.verify_s,
        total_s=t.total_s,
    )


def citation_out(source: SourceView) -> CitationOut:
    return CitationOut(
        number=source.number or 0,
        title=source.title,
        source=source.source,
        page=source.page,
        unit=source.unit,
        section=source.section,
        quote=source.quote,
        ocr=source.ocr,
        ocr_confidence=source.ocr_confidence,
        attachment_of=source.attachment_of,
    )
