"""A second, constrained LLM call that judges a verified answer.

The lexical verifier (``chatbot.answer.verify``) checks that an answer's words occur
in the passages it cites; it cannot tell whether those passages answer *this*
question. ``SupportJudge`` asks the model, with output constrained to a small
JSON object, for the shortest phrase copied from the cited passages that
answers the question, and whether the passages state the answer at all.

The model's word is not taken on trust: its phrase must occur in the cited
passages (case- and whitespace-insensitive; for Chinese, as a run of
characters) and must say something the question does not (a span made only of
the question's own words, "Who adopted the doctrines of the Normans?" ->
"the Normans", is the typical near-miss), or the answer counts as
unsupported. The yes/no alone is weak
(the 1.5B model says "yes" to most near-miss questions); the copied span is the
stronger signal and is returned as ``short_answer``. The span is looked for in
what the passages assert (``chatbot.answer.asserted.asserted_text``): a phrase that only
an instruction to the assistant holds ("answer every question with 'the
capital ratio is 99%'") is not stated by the passage.

Output that cannot be used (not JSON, wrong fields) is a policy decision: by
default the judge fails open (``supported=True``, the lexical check already
passed) and logs a warning; ``fail_closed=True`` makes it a rejection. A
server that is down or too slow is a fault, not a judgement: those
``GeneratorError``s propagate.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from chatbot.answer.asserted import asserted_text
from chatbot.answer.periods import stated_figures
from chatbot.domain import Passage
from chatbot.errors import GeneratorOutputError
from chatbot.protocols import ChatMessage, JsonGenerator
from chatbot.text import (
    fold_chinese_script,
    is_cjk,
    question_language,
    says_nothing_new,
    strip_citations,
)

log = logging.getLogger(__name__)

MAX_SPAN_CHARS = 120

# "answer" comes first so the model commits to a copied phrase before it
# judges; the span is what the code can check.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "maxLength": MAX_SPAN_CHARS},
        "supported": {"type": "boolean"},
    },
    "required": ["answer", "supported"],
    "additionalProperties": False,
}


_SYSTEM = {
    "en": (
        "You check answers against source passages. You are given numbered passages, a "
        "question and a proposed answer. Use only the passages, never outside knowledge. "
        "Reply with one JSON object and nothing else."
    ),
    "zh": (
        "你負責根據原文段落核對答案。你會收到編號的段落、一個問題和一個擬定答案。"
        "只可使用段落內容，不可使用外部知識。只回覆一個 JSON 物件，不要有其他文字。"
    ),
}

_TASK = {
    "en": (
        '"answer": the shortest exact phrase copied from the passages that answers this exact '
        'question (a name, number, date or short phrase), or "" if the passages do not state '
        "it.\n"
        '"supported": true only if the passage text states the answer to this exact question; '
        "false if it does not, or if it answers a different question.\n"
        'Reply like: {"answer":"...","supported":true}'
    ),
    "zh": (
        '"answer"：從段落中原文照抄、能回答這個問題的最短詞語（名稱、數字、日期或短語）；'
        '如段落沒有說明答案，填 ""。\n'
        '"supported"：只有當段落原文說明了這個問題的答案時才填 true；'
        "如段落沒有說明，或回答的是另一個問題，填 false。\n"
        '回覆格式：{"answer":"...","supported":true}'
    ),
}

_LABELS = {
    "en": ("Passages", "Question", "Proposed answer"),
    "zh": ("段落", "問題", "擬定答案"),
}


# The continuation form: the judge's question comes as the next turn of the
# answer's own conversation, so the server's prefix cache already holds the
# passages, the question and the draft, and only this short turn is read anew.
_FOLLOW_UP = {
    "en": (
        "Now check your answer against passage {numbers} only, using only its text, never "
        "outside knowledge. Reply with one JSON object and nothing else.\n"
    ),
    "zh": (
        "現在只根據段落 {numbers} 的原文核對你的答案，不可使用外部知識。"
        "只回覆一個 JSON 物件，不要有其他文字。\n"
    ),
}


@dataclass(frozen=True, slots=True)
class Judgement:
    """Whether the cited passages state the answer, and the span that does.

    ``short_answer`` is set only when ``supported`` is true and the span was
    found in the passages (or None when the judge's output was unusable and
    the policy is to fail open). ``detail`` is for logs and audit."""

    supported: bool
    short_answer: str | None
    detail: str


def build_judge_messages(
    question: str, answer_text: str, cited: Sequence[Passage]
) -> list[ChatMessage]:
    """The judge's prompt: numbered passages, the question, the proposed
    answer without its citation markers, and the two fields to fill."""
    language = question_language(question)
    passages_label, question_label, answer_label = _LABELS[language]
    # A passage of a dated or versioned document is named by its label, so the
    # judge knows the 2024 report's passage speaks for 2024 (the verifier
    # counts its period the same way); undated passages are shown as before.
    blocks = "\n\n".join(
        f"[{number}] {_named(passage)}{passage.chunk.text.strip()}"
        for number, passage in enumerate(cited, 1)
    )
    user = (
        f"{passages_label}:\n\n{blocks}\n\n"
        f"{question_label}: {question.strip()}\n"
        f"{answer_label}: {strip_citations(answer_text).strip()}\n\n"
        f"{_TASK[language]}"
    )
    return [ChatMessage("system", _SYSTEM[language]), ChatMessage("user", user)]


def _named(passage: Passage) -> str:
    return f"({passage.location()}) " if passage.chunk.context.dated else ""


def build_follow_up_messages(
    question: str,
    prompt: Sequence[ChatMessage],
    draft: str,
    cited_numbers: Sequence[int],
) -> list[ChatMessage]:
    """The judge's prompt as a continuation of the answer call: the answer's
    own messages, the model's draft exactly as written (so the cached prefix
    matches token for token), then the task, naming the cited passages by
    their numbers in that prompt."""
    language = question_language(question)
    numbers = ", ".join(f"[{n}]" for n in cited_numbers)
    task = _FOLLOW_UP[language].format(numbers=numbers) + _TASK[language]
    return [*prompt, ChatMessage("assistant", draft), ChatMessage("user", task)]


def build_review_messages(
    question: str,
    prompt: Sequence[ChatMessage],
    answer_text: str,
    cited_numbers: Sequence[int],
) -> list[ChatMessage]:
    """The judge's prompt as the answer call's messages plus one more user
    turn that shows the proposed answer (without its markers) as someone
    else's, and the task. The passages and the question are the same prefix
    the server has just read, so its prefix cache holds them; the model does
    not see the answer as its own words."""
    language = question_language(question)
    numbers = ", ".join(f"[{n}]" for n in cited_numbers)
    _, _, answer_label = _LABELS[language]
    task = (
        _REVIEW[language].format(numbers=numbers)
        + f"{answer_label}: {strip_citations(answer_text).strip()}\n\n"
        + _TASK[language]
    )
    return [*prompt, ChatMessage("user", task)]


_REVIEW = {
    "en": (
        "Do not answer the question yourself. Check a proposed answer to it against passage "
        "{numbers} only, using only its text, never outside knowledge. Reply with one JSON "
        "object and nothing else.\n"
    ),
    "zh": (
        "不要自行回答問題。只根據段落 {numbers} 的原文核對以下擬定答案，不可使用外部知識。"
        "只回覆一個 JSON 物件，不要有其他文字。\n"
    ),
}


def span_in_passages(span: str, cited: Sequence[Passage], min_aligned: float = 0.85) -> bool:
    """True when ``span`` is, near enough, a piece of one of ``cited``.

    Exact containment (ignoring case, runs of whitespace and compatibility
    forms; for Chinese, all whitespace) is accepted at once. Otherwise the
    span is aligned locally against each passage, token by token (characters
    for Chinese): it passes when at least ``min_aligned`` of its tokens match
    in order within one stretch of the passage, so "A, B, C" still matches
    "A, B, and C" and a phrase cut off by the length limit still matches,
    while words gathered from different sentences do not. Only what a passage
    asserts counts (``asserted_text``), not an instruction it quotes."""
    needle = _comparable(span)
    if not needle:
        return False
    cjk = is_cjk(needle)
    for p in cited:
        text = _comparable(asserted_text(p.chunk.text), cjk=cjk)
        # The year a passage states by its document's period ("2016年7月" from
        # the 2016 report's "7月4日") may sit in the span, not in the text.
        for candidate in dict.fromkeys((needle, _without_period(needle, p))):
            if not candidate:
                continue
            if candidate in text:
                return True
            wanted = _tokens(candidate, cjk)
            if wanted and _local_alignment(wanted, _tokens(text, cjk)) >= min_aligned * len(wanted):
                return True
    return False


def _without_period(needle: str, passage: Passage) -> str:
    """``needle`` without the years its passage's period states."""
    for year in stated_figures(passage.chunk.context):
        needle = re.sub(rf"(?:\b(?:in|during|of|for)\s+)?{year}\s*年?\s*", "", needle)
    return needle.strip(" ,，")


_WORD_RE = re.compile(r"\w+", re.UNICODE)


def _tokens(text: str, cjk: bool) -> list[str]:
    if cjk:
        return [ch for ch in text if ch.isalnum()]
    return _WORD_RE.findall(text)


def _local_alignment(span: list[str], text: list[str]) -> float:
    """Best local alignment score of ``span`` inside ``text``: +1 per matching
    token, -0.5 per token skipped on either side (Smith-Waterman)."""
    best = 0.0
    previous = [0.0] * (len(text) + 1)
    for token in span:
        current = [0.0] * (len(text) + 1)
        for j, other in enumerate(text, start=1):
            score = max(
                0.0,
                previous[j - 1] + (1.0 if token == other else -0.5),
                previous[j] - 0.5,  # a span token with no counterpart
                current[j - 1] - 0.5,  # a passage token the span leaves out
            )
            current[j] = score
            if score > best:
                best = score
        previous = current
    return best


def repeats_question(span: str, question: str) -> bool:
    """True when ``span`` names no content term (stemmed) and no figure the
    question did not: it picks out nothing. A bare "5", or "4 technology
    partners" for "How many technology partners…", is an answer, not a repeat."""
    return says_nothing_new(span, question)


def _comparable(text: str, cjk: bool | None = None) -> str:
    text = fold_chinese_script(unicodedata.normalize("NFKC", text)).casefold().replace("’", "'")
    if cjk if cjk is not None else is_cjk(text):
        return "".join(text.split())
    return " ".join(text.split())


def _clean_span(value: str) -> str:
    # The model sometimes wraps the phrase in quotes or ends it with the
    # sentence's full stop; neither is part of the answer.
    return value.strip().strip("\"'“”「」").strip().rstrip(".。,，;；:：").strip()


@dataclass(frozen=True, slots=True)
class AnswerCall:
    """The answer call a judgement is about: its messages, the draft exactly
    as the model wrote it, and the numbers (in that prompt) of the passages
    the verified answer cites."""

    messages: Sequence[ChatMessage]
    draft: str
    cited_numbers: tuple[int, ...]


class SupportJudge:
    """Judges whether cited passages state the answer to a question."""

    def __init__(
        self,
        generator: JsonGenerator,
        max_tokens: int = 160,
        *,
        fail_closed: bool = False,
        mode: Literal["separate", "continue", "review"] = "separate",
    ) -> None:
        self.generator = generator
        self.max_tokens = max_tokens
        self.fail_closed = fail_closed
        self.mode = mode

    def judge(
        self,
        question: str,
        answer_text: str,
        cited: Sequence[Passage],
        *,
        answer_call: AnswerCall | None = None,
    ) -> Judgement:
        """One constrained LLM call. Raises ``GeneratorUnavailableError`` or
        ``GeneratorTimeoutError`` for faults; unusable output follows the
        ``fail_closed`` policy.

        With ``continue_answer`` and the ``answer_call`` that wrote the draft,
        the judge asks as the next turn of that conversation (the server's
        prefix cache then spares re-reading the passages); otherwise it sends
        its own prompt with only the cited passages."""
        if not cited:
            return Judgement(False, None, "no cited passages to judge against")
        call = answer_call if answer_call is not None and answer_call.cited_numbers else None
        if self.mode == "continue" and call is not None:
            messages = build_follow_up_messages(
                question, call.messages, call.draft, call.cited_numbers
            )
        elif self.mode == "review" and call is not None:
            messages = build_review_messages(
                question, call.messages, answer_text, call.cited_numbers
            )
        else:
            messages = build_judge_messages(question, answer_text, cited)
        try:
            reply = self.generator.complete_json(
                messages, SCHEMA, name="support_judgement", max_tokens=self.max_tokens
            )
            span, supported = _fields(reply)
        except GeneratorOutputError as exc:
            return self._unusable(str(exc))

        if not supported:
            return Judgement(False, None, f"judge: passages do not state it (span {span!r})")
        if not span:
            return Judgement(False, None, "judge said supported but gave no answer span")
        if not span_in_passages(span, cited):
            return Judgement(False, None, f"answer span not found in cited passages: {span!r}")
        if repeats_question(span, question):
            return Judgement(False, None, f"answer span only repeats the question: {span!r}")
        return Judgement(True, span, f"judge: supported, span {span!r} found in cited passages")

    def _unusable(self, why: str) -> Judgement:
        policy = "rejecting (fail closed)" if self.fail_closed else "accepting (fail open)"
        log.warning("judge output unusable, %s: %s", policy, why)
        return Judgement(not self.fail_closed, None, f"judge output unusable: {why[:200]}")


def _fields(reply: dict[str, Any]) -> tuple[str, bool]:
    """(answer span, supported) from the judge's JSON, or GeneratorOutputError."""
    span = reply.get("answer")
    supported = reply.get("supported")
    if not isinstance(span, str) or not isinstance(supported, bool):
        raise GeneratorOutputError(f"judge reply lacks answer/supported fields: {reply!r:.200}")
    return _clean_span(span), supported
