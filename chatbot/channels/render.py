"""Render outcomes as Markdown for chat surfaces (the web UI; others reuse parts).

An answer and a refusal never look alike: a refusal opens with a stop sign
and a bold "Not answered" line, carries its reason code and a suggestion of
what to try, and lists no sources as if they supported anything. An answer
with a short answer phrase (``Answer.short_answer``, from the support judge)
opens with an "In brief" line above the full cited text. Headings follow
``language`` ("en" or "zh"); the answer and refusal texts themselves come
from the pipeline in the question's language.

Everything a document or the model wrote (the answer, the short answer,
drafts, quotes, titles, section names, the rewritten question) is text,
never markup: ``plain_text`` drops the markup a document may carry (HTML
tags, Slack control sequences, Markdown links and images) and ``literal``
escapes what is left, so that no surface turns it into a script, an image,
a link or a mention. The only links are the source links built here, and
the only citation markers are the answer's verified ``[n]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from chatbot.answer.asserted import FORGED_CITATION_RE
from chatbot.channels.i18n import language_of, place, scan_note, text
from chatbot.domain import Answer, Outcome, Passage, Refusal, RefusalReason
from chatbot.errors import (
    BoundaryError,
    BusyError,
    GeneratorError,
    GeneratorOutputError,
    GeneratorStartingError,
    GeneratorTimeoutError,
)
from chatbot.llm.status import LLMState, LLMStatus
from chatbot.text import CITATION_RE

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


# -- untrusted text ------------------------------------------------------------

# An HTML or XML tag or comment, and Slack's control sequences (<!channel>,
# <@U123>, <#C1>, <http://evil|Bank portal>): "<" followed by a letter or one
# of !/?@#, up to the next ">". "LTV < 60%" and "<5%" are not tags.
_TAG_RE = re.compile(r"<!--.*?(?:-->|$)|<[A-Za-z!/?@#][^<>]*>", re.S)
_MD_IMAGE_RE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_MD_DEFINITION_RE = re.compile(r"^[ \t]*\[[^\]\n]+\]:[ \t]*\S.*$", re.M)
_FORGED_CITATION_SHOWN = re.compile(rf"\s*(?:{FORGED_CITATION_RE.pattern})", re.IGNORECASE)


def _link_label(match: re.Match[str]) -> str:
    label = match.group(1)
    # "[1](http://evil)": keep the citation marker, drop the address.
    return match.group(0)[: len(label) + 2] if CITATION_RE.fullmatch(f"[{label}]") else label


def plain_text(text: str) -> str:
    """``text`` (from a document or the model) without markup: HTML tags and
    comments and Slack control sequences dropped, Markdown images reduced to
    their alt text, links to their label, link definitions removed, and
    citations it carries itself ("[source: ...]") dropped: only our ``[n]``
    markers cite. What a careless consumer renders as HTML or Markdown then
    holds nothing active; each surface still escapes what is left."""
    text = _FORGED_CITATION_SHOWN.sub("", _TAG_RE.sub("", text))
    text = _MD_IMAGE_RE.sub(lambda m: m.group(1), text)
    text = _MD_LINK_RE.sub(_link_label, text)
    return _MD_DEFINITION_RE.sub("", text)


# Markdown's punctuation, plus what starts an entity (&), a link destination
# or definition ("](", "]:"), an e-mail autolink (@); "www." and "http://"
# are broken up below so that no autolinker finds them.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&():@])")
_WWW_RE = re.compile(r"\b(www)\.", re.IGNORECASE)


def literal(text: str) -> str:
    """``text`` escaped so it shows as written, never as Markdown or HTML."""
    return _WWW_RE.sub(r"\1\\.", _MARKDOWN_SPECIAL.sub(r"\\\1", text))


def shown_text(text: str) -> str:
    """An answer (or a draft of one) as Markdown: plain text, escaped, with its
    ``[n]`` citation markers left as they are (what follows a marker is
    escaped, so a marker never becomes a link)."""
    text = plain_text(text)
    out: list[str] = []
    at = 0
    for marker in CITATION_RE.finditer(text):
        out += [literal(text[at : marker.start()]), marker.group(0)]
        at = marker.end()
    out.append(literal(text[at:]))
    return "".join(out)


def quote(text: str, limit: int = 420) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[:limit].rsplit(" ", 1)[0] + " …"
    return flat


def source_line(passage: Passage, link: SourceLink | None = None, language: str = "en") -> str:
    chunk = passage.chunk
    where = literal(plain_text(place(chunk.page, chunk.context.unit, chunk.section, language)))
    parts = [f"**{literal(plain_text(chunk.name))}**"]
    if where:
        parts.append(where)
    scanned = scan_note(chunk.context.ocr, chunk.context.ocr_confidence, language)
    if scanned:
        parts.append(f"⚠ {scanned}" if chunk.context.ocr == "ocr-low" else scanned)
    url = link(passage) if link is not None else None
    # A path is shown as code, where Markdown and HTML mean nothing; one that
    # would end the code span is escaped instead.
    path = literal(chunk.source) if re.search(r"[`\n]", chunk.source) else f"`{chunk.source}`"
    parts.append(f"[{path}]({url})" if url else path)
    return " · ".join(parts)


def short_answer_of(answer: Answer) -> str | None:
    """The answer's short phrase, or None when there is none to show (the
    judge did not run or gave nothing usable)."""
    return (answer.short_answer or "").strip() or None


def render_answer(answer: Answer, language: str = "en", link: SourceLink | None = None) -> str:
    lines: list[str] = []
    brief = short_answer_of(answer)
    if brief is not None:
        lines += [f"**{text('in_brief', language)}:** {literal(plain_text(brief))}", ""]
    lines += [shown_text(answer.text), "", f"**{text('sources', language)}**"]
    for citation in answer.citations:
        lines.append(f"[{citation.number}] {source_line(citation.passage, link, language)}")
        excerpt = literal(plain_text(quote(citation.passage.chunk.text)))
        lines.append(f"> {_literal_start(excerpt)}")
        lines.append("")
    if any(c.passage.chunk.context.scanned for c in answer.citations):
        lines.append(f"_{text('ocr_note', language)}_")
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
    covered = f"{text('suggest_topics', language)} " + "; ".join(
        f"*{literal(plain_text(t))}*" for t in topics
    )
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
    """One sentence for the person who asked. LLM faults get a plain sentence
    (the technical message is in the log and the audit trail's failures);
    other faults (a missing index, a broken embedder) keep their message,
    which says what an operator must do."""
    if isinstance(error, GeneratorStartingError):
        return f"⏳ {text('starting', language).format(eta=_eta(error.retry_after_s, language))}"
    if isinstance(error, BusyError):
        seconds = f"{max(1, round(error.retry_after_s))}"
        return f"⏳ {text('llm_busy', language).format(seconds=seconds)}"
    if isinstance(error, GeneratorTimeoutError):
        return f"⚠️ {text('llm_slow', language)}"
    if isinstance(error, GeneratorOutputError):
        return f"⚠️ {text('llm_garbled', language)}"
    if isinstance(error, GeneratorError):
        return f"⚠️ {text('llm_down', language)}"
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
            return f"⏳ {line}" + (f" ({status.reason})" if status.reason else "")
        case _:
            return f"🔴 {text('llm_unavailable', language).format(reason=status.reason)}"


def render_understood(standalone: str, language: str = "en") -> str:
    """The line that says which question a rewritten follow-up became (model
    text, so shown literally, never as Markdown)."""
    return f"_{text('understood_as', language)}: {literal(plain_text(standalone))}_"


def render_draft(draft: str, language: str = "en") -> str:
    """The model's unverified text as it streams, marked as a draft and shown
    as text like the answer it may become."""
    return f"_{text('draft', language)}_\n\n{shown_text(draft)}"
