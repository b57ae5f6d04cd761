"""An independent lexical check that answers say only what their citations say.

The pipeline's own verifier (``chatbot.answer.verify``) already refuses unsupported
answers; an evaluation that reused it would only confirm itself. This module
therefore has its own tokeniser, stopword list and suffix folding, and a
simple rule a risk reviewer can apply by hand:

    an answer sentence is supported when the passages it cites contain at
    least 60% of its content words and every number in it.

Content words are lower-cased Latin words (minus function words, folded to a
crude stem) and, for Chinese, character bigrams of ideograph runs. A sentence
without its own ``[n]`` marker is checked against the markers of the next
sentence that has some (models often cite once, at the end of a paragraph),
or the previous one when none follows; ``strict=True`` counts it as
unsupported instead. Markers naming a passage that was not given count as
unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from chatbot.domain import Answer
from chatbot.text import CITATION_RE
from eval.metrics import Rate

MIN_CONTENT_SHARE = 0.6

_MARKER_RE = CITATION_RE
# A sentence ends at CJK end punctuation, or at Latin end punctuation followed by
# a space or the end; trailing [n] markers belong to the sentence they close.
_SENTENCE_END_RE = re.compile(r"(?:[。！？]+|[.!?]+(?=\s|\[|$))(?:\s*" + CITATION_RE.pattern + ")*")
_ABBREVIATIONS = frozenset({"e.g", "i.e", "etc", "no", "p", "pp", "vs", "dr", "mr", "mrs", "ms"})
_IDEOGRAPH = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_IDEOGRAPH_RE = re.compile(rf"[{_IDEOGRAPH}]")
_WORD_RE = re.compile(rf"[{_IDEOGRAPH}]+|[a-z0-9]+(?:['’][a-z]+)?")
_NUMBER_RE = re.compile(r"\d+(?:[.,:]\d+)*")
# Kept as text: a word list reads and diffs better than a list of quoted strings.
_FUNCTION_WORDS_TEXT = """
    a an the and or but nor so yet of to in on at by for with from into onto over under
    about as than then that this these those there here it its is are was were be been
    being am do does did done has have had having will would shall should can could may
    might must not no yes which who whom whose what when where why how all any each both
    either neither some such only own same other also very too just more most less least
    their them they he she his her hers him we us our you your i me my mine if while
    because although though after before until since during per via
"""
_FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())
# Ideographs that carry no evidence on their own (particles, copula, pronouns).
_FUNCTION_CHARS = frozenset("的了是在和與及或也都而就被把這那其之為以於對中個嗎呢")


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    sentence: str
    cited: tuple[int, ...]
    content_share: float  # share of content words found in the cited passages
    missing_numbers: tuple[str, ...]
    supported: bool


@dataclass(frozen=True, slots=True)
class GroundingResult:
    """Per-sentence checks of one answer."""

    sentences: tuple[SentenceCheck, ...]

    @property
    def supported_sentences(self) -> int:
        return sum(1 for s in self.sentences if s.supported)

    @property
    def grounded(self) -> bool:
        """Every sentence is backed by the passages it cites (and there is one)."""
        return bool(self.sentences) and all(s.supported for s in self.sentences)


def _fold(word: str) -> str:
    """Crude English suffix folding so 'launched'/'launch', 'banks'/'bank' meet."""
    if len(word) <= 4 or not word.isalpha() or not word.isascii():
        return word
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """Folded content words (Latin) and ideograph bigrams (Chinese) of ``text``."""
    out: set[str] = set()
    for token in _WORD_RE.findall(text.lower().replace("’", "'")):
        if _IDEOGRAPH_RE.match(token):
            if len(token) == 1:
                if token not in _FUNCTION_CHARS:
                    out.add(token)
                continue
            for i in range(len(token) - 1):
                pair = token[i : i + 2]
                if not all(ch in _FUNCTION_CHARS for ch in pair):
                    out.add(pair)
            continue
        word = token.removesuffix("'s").split("'")[0]
        if word.isdigit() or len(word) < 2 or word in _FUNCTION_WORDS:
            continue  # numbers are checked exactly, not as words
        out.add(_fold(word))
    return out


def numbers(text: str) -> set[str]:
    """Numbers in ``text`` with thousands separators removed ('1,000' -> '1000')."""
    return {n.replace(",", "") for n in _NUMBER_RE.findall(text)}


def marker_numbers(text: str) -> tuple[int, ...]:
    """Distinct ``[n]`` numbers of ``text`` in order of appearance."""
    seen: dict[int, None] = {}
    for group in _MARKER_RE.findall(text):
        for part in re.split(r"\s*[,，、]\s*", group):
            if part:
                seen.setdefault(int(part), None)
    return tuple(seen)


def _is_abbreviation(before: str) -> bool:
    """'GenA.I.', 'e.g.', 'p.' and the like end in a dot without ending a sentence."""
    words = before.split()
    if not words:
        return False
    word = words[-1].lower().lstrip("(")
    return "." in word or word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def answer_sentences(text: str) -> list[str]:
    """Split at sentence punctuation, keeping trailing ``[n]`` markers with the
    sentence they close."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        if match.group(0).startswith(".") and _is_abbreviation(text[start : match.start()]):
            continue
        pieces.append(text[start : match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if _MARKER_RE.sub("", p).strip(" \t\n.!?。！？")]


def check_sentence(
    sentence: str, cited: Sequence[int], passages: Mapping[int, str], min_share: float
) -> SentenceCheck:
    bare = _MARKER_RE.sub(" ", sentence)
    known = [n for n in cited if n in passages]
    evidence = " ".join(passages[n] for n in known)
    wanted = content_words(bare)
    found = content_words(evidence)
    share = len(wanted & found) / len(wanted) if wanted else 1.0
    missing = tuple(sorted(numbers(bare) - numbers(evidence)))
    supported = bool(cited) and len(known) == len(cited) and share >= min_share and not missing
    return SentenceCheck(sentence, tuple(cited), share, missing, supported)


def check_answer(
    text: str,
    passages: Mapping[int, str],
    min_share: float = MIN_CONTENT_SHARE,
    strict: bool = False,
) -> GroundingResult:
    """Check each sentence of ``text`` against ``passages`` (citation number ->
    passage text)."""
    sentences = answer_sentences(text)
    own = [marker_numbers(s) for s in sentences]
    checks: list[SentenceCheck] = []
    for index, sentence in enumerate(sentences):
        cited = own[index]
        if not cited and not strict:
            later = [c for c in own[index + 1 :] if c]
            earlier = [c for c in own[:index] if c]
            cited = later[0] if later else (earlier[-1] if earlier else ())
        checks.append(check_sentence(sentence, cited, passages, min_share))
    return GroundingResult(tuple(checks))


def check_pipeline_answer(
    answer: Answer, min_share: float = MIN_CONTENT_SHARE, strict: bool = False
) -> GroundingResult:
    """``check_answer`` for a pipeline ``Answer``: markers number the passages
    that were shown to the model (1-based)."""
    shown = {i: p.chunk.text for i, p in enumerate(answer.passages, start=1)}
    return check_answer(answer.text, shown, min_share, strict)


@dataclass(frozen=True, slots=True)
class GroundingSummary:
    answers_grounded: Rate  # answers whose every sentence is supported
    sentences_supported: Rate  # over all sentences of all answers


def grounding_summary(results: Iterable[GroundingResult]) -> GroundingSummary:
    items = list(results)
    return GroundingSummary(
        answers_grounded=Rate(sum(1 for r in items if r.grounded), len(items)),
        sentences_supported=Rate(
            sum(r.supported_sentences for r in items), sum(len(r.sentences) for r in items)
        ),
    )
