"""Conversation memory: turn a follow-up into a standalone question.

A follow-up such as "When was it announced?" cannot be retrieved on its own.
``condense`` asks the LLM once to rewrite it, using the last few turns, into a
question that names what "it" is. Everything after that (retrieve ▶ gate ▶
prompt ▶ generate ▶ verify) sees only the standalone question: earlier
answers never reach the answering prompt, and citations can only point at
passages retrieved for the new question. So the conversation can change
*what is asked*, never *what may be answered*: an off-corpus follow-up is
refused by the gate like any other off-corpus question.

The rewrite is guarded. Output that is empty, far longer than the question,
spread over several lines, not question-like, in another language, or that
carries citation markers (an answer, not a question) is discarded and the
original question is used instead.

``ConversationMemory`` keeps the last few turns per conversation id, in
memory only, for ``chatbot.assistant.Assistant``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.protocols import ChatMessage, Generator
from chatbot.text import CITATION_RE, content_terms, question_language, strip_citations

log = logging.getLogger(__name__)

CONDENSE_TURNS = 3  # turns shown to the rewriter; older ones rarely hold the referent
ANSWER_CHARS = 400  # an earlier answer is clipped to this in the rewrite prompt
SELF_CONTAINED_TERMS = 5  # see ``needs_context``


@dataclass(frozen=True, slots=True)
class Turn:
    """One finished exchange. ``answer_text`` is None when the turn was refused."""

    question: str
    answer_text: str | None


# -- when to condense -----------------------------------------------------------

# Words that usually point back at something said earlier. "and", "but" and
# "so" only count as the first word ("And what about…"): inside a question
# they are ordinary conjunctions.
_DEICTIC_WORDS = frozenset(
    """
    it its it's itself they them their theirs this that these those he she him her his hers
    there then also same former latter above previous earlier
    """.split()
)
_LEADING_WORDS = frozenset({"and", "but", "so", "or"})
_DEICTIC_PHRASES = ("what about", "how about", "what else", "anything else")
_DEICTIC_CJK = ("它", "他們", "她", "這", "那", "其", "此", "該", "呢", "還有", "另外", "上述")
_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")


def needs_context(question: str) -> bool:
    """Whether ``question`` may lean on earlier turns and is worth an LLM rewrite.

    A cheap heuristic, tuned to save an LLM call (seconds on a CPU server)
    on questions that are plainly self-contained: no pronoun or deictic word
    ("it", "those", "there", "what about", 它, 這, 那…) and at least
    ``SELF_CONTAINED_TERMS`` content words. The trade-off: an elliptical
    follow-up with no such word and many content words ("Which banks took
    part in the second cohort as well") is not rewritten and is answered as
    asked; a short self-contained question ("How many banks?") pays for a
    rewrite that should return it unchanged. Neither case can widen what is
    answered: the gate and the verifier still judge the question that is used.
    """
    lowered = question.lower().replace("’", "'")
    words = _WORD_RE.findall(lowered)
    if words and words[0] in _LEADING_WORDS:
        return True
    if any(word in _DEICTIC_WORDS for word in words):
        return True
    if any(phrase in lowered for phrase in _DEICTIC_PHRASES):
        return True
    if any(marker in question for marker in _DEICTIC_CJK):
        return True
    return len(content_terms(question)) < SELF_CONTAINED_TERMS


# -- the rewrite prompt --------------------------------------------------------

_SYSTEM = """You rewrite the last question of a conversation so that it can be understood \
without the conversation. You never answer questions.

Rules:
- Replace every pronoun or vague reference in the last question (it, its, they, this, that, \
there, 它, 這, 那…) with the exact name of the thing it refers to, copied from the \
conversation.
- Keep the rest of the question as it is: it must still ask what the last question asks, \
with the same years, numbers and details. Never repeat an earlier question instead, and do \
not add facts, names or dates that the last question does not ask about.
- If the last question is already clear on its own, output it unchanged.
- Output only the rewritten question, on one line, in {language}. No answer, no \
explanation, no quotation marks.

Example:
{example}"""

_EXAMPLE = {
    "en": """User: Who chairs the credit committee?
Assistant: The credit committee is chaired by the Chief Risk Officer.
Last question: How often does it meet?
Rewritten question: How often does the credit committee meet?""",
    "zh": """User: 誰主持信貸委員會？
Assistant: 信貸委員會由首席風險官主持。
Last question: 它多久開會一次？
Rewritten question: 信貸委員會多久開會一次？""",
}
_LANGUAGE_NAME = {"en": "English", "zh": "Traditional Chinese (繁體中文)"}


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def condense_messages(question: str, history: Sequence[Turn]) -> list[ChatMessage]:
    """The rewrite prompt: the last ``CONDENSE_TURNS`` turns, then the question."""
    language = question_language(question)
    lines = []
    for turn in history[-CONDENSE_TURNS:]:
        lines.append(f"User: {_clip(turn.question, ANSWER_CHARS)}")
        if turn.answer_text is None:
            lines.append("Assistant: (no answer)")
        else:
            # Citation markers point at passages of that turn; they mean nothing here
            # and a small model tends to copy them into its output.
            answer = strip_citations(turn.answer_text)
            lines.append(f"Assistant: {_clip(answer, ANSWER_CHARS)}")
    user = (
        "Conversation:\n"
        + "\n".join(lines)
        + f"\n\nLast question: {question.strip()}\n\n"
        + "Rewrite the last question so that it names what it refers to. "
        + "Output only the rewritten question.\nRewritten question:"
    )
    system = _SYSTEM.format(language=_LANGUAGE_NAME[language], example=_EXAMPLE[language])
    return [ChatMessage("system", system), ChatMessage("user", user)]


# -- guarding the output --------------------------------------------------------

_PREFIX_RE = re.compile(
    r"^(?:(?:rewritten|standalone|self-contained|reformulated|condensed|new|final)\s+)?"
    r"(?:question|query)\s*[:：]\s*|^q\s*[:：]\s*|^(?:改寫後的問題|獨立問題|問題)\s*[:：]\s*",
    re.IGNORECASE,
)
_QUOTES = "\"'`“”‘’「」『』*"
_QUESTION_START = frozenset(
    """
    what when where who whom whose which why how is are was were do does did can could
    should would will has have had may might must shall list name describe explain tell
    give summarise summarize compare define
    """.split()
)
_QUESTION_CJK = (
    "嗎",
    "呢",
    "什麼",
    "甚麼",
    "何",
    "哪",
    "誰",
    "多少",
    "幾",
    "如何",
    "怎",
    "是否",
    "請",
)


def _question_like(text: str) -> bool:
    if text.endswith(("?", "？")):
        return True
    first = _WORD_RE.findall(text.lower()[:40])
    if first and first[0] in _QUESTION_START:
        return True
    return any(marker in text for marker in _QUESTION_CJK)


def clean_rewrite(raw: str, question: str) -> str | None:
    """The usable standalone question in ``raw``, or None to keep ``question``."""
    text = raw.strip()
    # A prefix may sit inside or outside quotes; strip both, twice.
    for _ in range(2):
        text = _PREFIX_RE.sub("", text.strip().strip(_QUOTES).strip())
    text = text.strip().strip(_QUOTES).strip()
    if not text or not any(ch.isalnum() for ch in text):
        return None
    if "\n" in text:
        return None  # an explanation or an answer came with it
    if len(text) > 3 * len(question) + 200:
        return None
    if CITATION_RE.search(text):
        return None  # it answered, citing the earlier turn
    if question_language(text) != question_language(question):
        return None
    if _question_like(question.strip()) and not _question_like(text):
        return None
    return text


def _same(a: str, b: str) -> bool:
    return " ".join(a.lower().split()).rstrip("?？") == " ".join(b.lower().split()).rstrip("?？")


def _repeats_earlier_turn(rewritten: str, question: str, history: Sequence[Turn]) -> bool:
    """A small model sometimes returns the previous question instead of the new
    one ("And its population?" -> "What is the capital of Peru?"); answering
    that would answer something the user did not ask."""
    if _same(rewritten, question):
        return False
    return any(_same(rewritten, turn.question) for turn in history[-CONDENSE_TURNS:])


def condense(
    question: str, history: Sequence[Turn], generator: Generator, *, max_chars: int | None = None
) -> str:
    """``question`` rewritten to stand on its own, given the earlier turns.

    No LLM call when there is no history or the question looks
    self-contained (``needs_context``). Otherwise one short call; output that
    fails the guards (``clean_rewrite``), or is longer than ``max_chars``,
    falls back to ``question``. Generator errors propagate.
    """
    if not history or not needs_context(question):
        return question
    raw = "".join(generator.stream(condense_messages(question, history)))
    rewritten = clean_rewrite(raw, question)
    if (
        rewritten is None
        or (max_chars is not None and len(rewritten) > max_chars)
        or _repeats_earlier_turn(rewritten, question, history)
    ):
        log.info("condense output rejected, keeping the question: %r", raw[:200])
        return question
    log.info("condensed %r -> %r", question, rewritten)
    return rewritten


# -- memory ----------------------------------------------------------------------


class ConversationMemory:
    """The last ``max_turns`` turns of at most ``max_conversations`` conversations.

    In memory only (a restart forgets, which suits follow-ups), least recently
    used conversation dropped first. Safe to share between threads: channels
    answer on worker threads.
    """

    def __init__(self, max_turns: int = 5, max_conversations: int = 1000) -> None:
        if max_turns < 1 or max_conversations < 1:
            raise ValueError("max_turns and max_conversations must be at least 1")
        self.max_turns = max_turns
        self.max_conversations = max_conversations
        self._turns: OrderedDict[str, tuple[Turn, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def history(self, conversation_id: str) -> tuple[Turn, ...]:
        """The stored turns, oldest first; () for an unknown or empty id."""
        if not conversation_id:
            return ()
        with self._lock:
            turns = self._turns.get(conversation_id, ())
            if turns:
                self._turns.move_to_end(conversation_id)
            return turns

    def add(self, conversation_id: str, turn: Turn) -> None:
        """Append ``turn``; an empty id means "no conversation" and is not stored."""
        if not conversation_id:
            return
        with self._lock:
            turns = (*self._turns.pop(conversation_id, ()), turn)
            self._turns[conversation_id] = turns[-self.max_turns :]
            while len(self._turns) > self.max_conversations:
                self._turns.popitem(last=False)

    def forget(self, conversation_id: str) -> None:
        with self._lock:
            self._turns.pop(conversation_id, None)

    def forget_prefix(self, prefix: str) -> None:
        """Drop every conversation whose id starts with ``prefix`` (one asker's
        turns under each audience they used); an empty prefix drops nothing."""
        if not prefix:
            return
        with self._lock:
            for key in [k for k in self._turns if k.startswith(prefix)]:
                del self._turns[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._turns)
