"""Render outcomes as Markdown for chat surfaces (Gradio now; others reuse it).

An answer and a refusal never look alike: a refusal opens with a stop sign
and a bold "Not answered" line, carries its reason code, and lists no
sources as if they supported anything.
"""

from __future__ import annotations

from chatbot.domain import Answer, Outcome, Passage, Refusal, RefusalReason
from chatbot.errors import BoundaryError

_REASON_LABEL = {
    RefusalReason.NO_EVIDENCE: ("Not in the documents", "文件中沒有相關內容"),
    RefusalReason.MODEL_DECLINED: ("The documents do not answer this", "文件未能回答此問題"),
    RefusalReason.NO_VALID_CITATION: ("Answer could not be tied to a source", "答案無法對應來源"),
    RefusalReason.UNSUPPORTED: ("Answer not supported by its sources", "答案未獲來源支持"),
    RefusalReason.INVALID_QUESTION: ("Not a question I can take", "無法處理此問題"),
}


def quote(text: str, limit: int = 420) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[:limit].rsplit(" ", 1)[0] + " …"
    return flat


def source_line(passage: Passage) -> str:
    chunk = passage.chunk
    where = f"p. {chunk.page}" if chunk.page is not None else (chunk.section or "")
    parts = [f"**{chunk.title or chunk.source}**"]
    if where:
        parts.append(where)
    parts.append(f"`{chunk.source}`")
    return " · ".join(parts)


def render_answer(answer: Answer) -> str:
    lines = [answer.text, "", "**Sources**"]
    for citation in answer.citations:
        lines.append(f"[{citation.number}] {source_line(citation.passage)}")
        lines.append(f"> {quote(citation.passage.chunk.text)}")
        lines.append("")
    return "\n".join(lines).rstrip()


def render_refusal(refusal: Refusal, language: str = "en") -> str:
    label_en, label_zh = _REASON_LABEL[refusal.reason]
    label = label_zh if language == "zh" else label_en
    lines = [f"🚫 **Not answered: {label}** (`{refusal.reason.value}`)", "", refusal.message]
    if refusal.passages and refusal.reason is not RefusalReason.INVALID_QUESTION:
        lines += ["", "_Closest passages looked at (they do not answer the question):_"]
        lines += [f"- {source_line(p)}" for p in refusal.passages[:3]]
    return "\n".join(lines)


def render_outcome(outcome: Outcome, language: str = "en") -> str:
    match outcome:
        case Answer():
            return render_answer(outcome)
        case Refusal():
            return render_refusal(outcome, language)


def render_error(error: BoundaryError) -> str:
    return f"⚠️ **The assistant is not available right now.** {error}"


def render_draft(text: str) -> str:
    return f"_Drafting; not yet checked against the sources…_\n\n{text}"
