"""Render outcomes as Markdown for chat surfaces (the web UI; others reuse parts).

An answer and a refusal never look alike: a refusal opens with a stop sign
and a bold "Not answered" line, carries its reason code and a suggestion of
what to try, and lists no sources as if they supported anything. An answer
with a short answer phrase (``Answer.short_answer``, from the support judge)
opens with an "In brief" line above the full cited text. Headings follow
``language`` ("en" or "zh"); the answer and refusal texts themselves come
from the pipeline in the question's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from chatbot.channels.i18n import language_of, text
from chatbot.domain import Answer, Outcome, Passage, Refusal, RefusalReason
from chatbot.errors import BoundaryError, GeneratorStartingError
from chatbot.llm.status import LLMState, LLMStatus

SourceLink = Callable[[Passage], str | None]
"""Where a passage's source file can be opened (a URL), or None for no link."""

_REASON_LABEL = {
    RefusalReason.NO_EVIDENCE: ("Not in the documents", "文件中沒有相關內容"),
    RefusalReason.MODEL_DECLINED: ("The documents do not answer this", "文件未能回答此問題"),
    RefusalReason.NO_VALID_CITATION: ("Answer could not be tied to a source", "答案無法對應來源"),
    RefusalReason.UNSUPPORTED: ("Answer not supported by its sources", "答案未獲來源支持"),
    RefusalReason.INVALID_QUESTION: ("Not a question I can take", "無法處理此問題"),
    RefusalReason.WEAK_EVIDENCE: ("Evidence too weak to answer", "證據不足以作答"),
    RefusalReason.NOT_IN_PASSAGES: (
        "The passages found do not answer this",
        "找到的段落未能回答此問題",
    ),
    RefusalReason.OUT_OF_SCOPE: ("Not a question about the documents", "並非有關文件的提問"),
    RefusalReason.PERIOD_NOT_COVERED: ("Period not covered by the documents", "文件未涵蓋該期間"),
    RefusalReason.NO_ACCESS: ("No documents you may see", "沒有你可查閱的文件"),
}


# Refusals about the message itself, not about the documents: passages that
# retrieval happened to find were not "close" to a poem request or an empty box.
PASSAGES_NOT_SHOWN = frozenset(
    {RefusalReason.INVALID_QUESTION, RefusalReason.OUT_OF_SCOPE, RefusalReason.NO_ACCESS}
)


def reason_label(reason: RefusalReason, language: str = "en") -> str:
    """The refusal reason in words, in English or Chinese."""
    label_en, label_zh = _REASON_LABEL[reason]
    return label_zh if language_of(language) == "zh" else label_en


_LEADING_MARKUP = re.compile(r"^(\d+)\.(?=\s)|^([-+*#>])(?=\s)")


def _literal_start(line: str) -> str:
    """Escape a leading "4." or "-" so a quoted passage is not read as a list."""
    return _LEADING_MARKUP.sub(
        lambda m: f"{m.group(1)}\\." if m.group(1) else f"\\{m.group(2)}", line
    )


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def _literal(model_text: str) -> str:
    """Model text escaped so it shows as written, never as Markdown."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", model_text)


def quote(text: str, limit: int = 420) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[:limit].rsplit(" ", 1)[0] + " …"
    return flat


def source_line(passage: Passage, link: SourceLink | None = None, language: str = "en") -> str:
    chunk = passage.chunk
    where = f"p. {chunk.page}" if chunk.page is not None else (chunk.section or "")
    parts = [f"**{chunk.name}**"]
    if where:
        parts.append(where)
    url = link(passage) if link is not None else None
    parts.append(f"[`{chunk.source}`]({url})" if url else f"`{chunk.source}`")
    return " · ".join(parts)


def short_answer_of(answer: Answer) -> str | None:
    """The answer's short phrase, or None when there is none to show (the
    judge did not run or gave nothing usable)."""
    return (answer.short_answer or "").strip() or None


def render_answer(answer: Answer, language: str = "en", link: SourceLink | None = None) -> str:
    lines: list[str] = []
    brief = short_answer_of(answer)
    if brief is not None:
        lines += [f"**{text('in_brief', language)}:** {_literal(brief)}", ""]
    lines += [answer.text, "", f"**{text('sources', language)}**"]
    for citation in answer.citations:
        lines.append(f"[{citation.number}] {source_line(citation.passage, link, language)}")
        lines.append(f"> {_literal_start(quote(citation.passage.chunk.text))}")
        lines.append("")
    return "\n".join(lines).rstrip()


def render_refusal(
    refusal: Refusal,
    language: str = "en",
    topics: Sequence[str] = (),
    link: SourceLink | None = None,
) -> str:
    """The refusal, its reason, and what to try instead (``topics``: document titles)."""
    label = reason_label(refusal.reason, language)
    heading = text("not_answered", language)
    lines = [f"🚫 **{heading}: {label}** (`{refusal.reason.value}`)", "", refusal.message]
    covered = f"{text('suggest_topics', language)} " + "; ".join(f"*{t}*" for t in topics)
    if refusal.reason is RefusalReason.OUT_OF_SCOPE:
        # Rephrasing does not turn a task into a question; say what can be asked.
        if topics:
            lines += ["", f"💡 {covered}"]
    elif refusal.reason is not RefusalReason.INVALID_QUESTION:
        suggestion = text("suggest_rephrase", language)
        if topics:
            suggestion += f" {covered}"
        lines += ["", f"💡 {suggestion}"]
        if refusal.passages:
            lines += ["", f"_{text('closest', language)}_"]
            lines += [f"- {source_line(p, link, language)}" for p in refusal.passages[:3]]
    return "\n".join(lines)


def render_outcome(
    outcome: Outcome,
    language: str = "en",
    topics: Sequence[str] = (),
    link: SourceLink | None = None,
) -> str:
    match outcome:
        case Answer():
            return render_answer(outcome, language, link)
        case Refusal():
            return render_refusal(outcome, language, topics, link)


def render_error(error: BoundaryError, language: str = "en") -> str:
    if isinstance(error, GeneratorStartingError):
        return f"⏳ {text('starting', language).format(eta=_eta(error.retry_after_s, language))}"
    return f"⚠️ **{text('unavailable', language)}** {error}"


def _eta(seconds: float | None, language: str) -> str:
    if not seconds:
        return ""
    return text("eta", language).format(seconds=f"{seconds:.0f}")


def render_llm_status(status: LLMStatus, language: str = "en") -> str:
    """The one line a page shows about the language model's state."""
    match status.state:
        case LLMState.READY:
            return f"🟢 {text('llm_ready', language)}"
        case LLMState.STARTING:
            line = text("llm_starting", language).format(
                elapsed=f"{status.elapsed_s:.0f}", eta=_eta(status.remaining_s, language)
            )
            return f"⏳ {line}"
        case _:
            return f"🔴 {text('llm_unavailable', language).format(reason=status.reason)}"


def render_understood(standalone: str, language: str = "en") -> str:
    """The line that says which question a rewritten follow-up became (model
    text, so shown literally, never as Markdown)."""
    return f"_{text('understood_as', language)}: {_literal(standalone)}_"


def render_draft(draft: str, language: str = "en") -> str:
    return f"_{text('draft', language)}_\n\n{draft}"
