"""Text normalisation and term extraction shared by indexing and answering.

One tokeniser for both sides keeps the keyword index, the evidence gate and
the verifier consistent: Latin text is split into lower-cased words; CJK text,
which has no spaces, is cut into overlapping character bigrams (single
characters for isolated ones), which is how the keyword side matches
Traditional Chinese without a segmenter.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

_CJK = (
    "\u3400-\u4dbf"  # extension A
    "\u4e00-\u9fff"  # unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
)
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+(?:[.'’-][^\W_{_CJK}]+)*", re.UNICODE)
_CJK_RE = re.compile(rf"[{_CJK}]")
_SPACES_RE = re.compile(r"[ \t\u00a0\u3000]+")
# A citation marker: [1], or several numbers in one bracket, [1, 2] / [1，2] /
# [1、2]; group 1 holds the numbers. The one definition every step and
# channel uses (a copy that missed "[1, 2]" once leaked markers into prompts).
CITATION_RE = re.compile(r"\[(\d+(?:\s*[,，、]\s*\d+)*)\]")
_CITATION_WITH_SPACE_RE = re.compile(r"\s*" + CITATION_RE.pattern)


def strip_citations(text: str) -> str:
    """``text`` without its citation markers (and the spaces before them)."""
    return _CITATION_WITH_SPACE_RE.sub("", text)


# Text ending in an abbreviation made of single letters and dots ("GenA.I.",
# "e.g.", "U.S."): a full stop there does not end a sentence.
ABBREVIATION_END_RE = re.compile(r"(?:\b|(?<=[a-z]))(?:[A-Za-z]\.){2,}$")

# Sentences: the one home of both splitters. Passages (written by people) end
# a sentence at ". " before a capital, digit, quote or CJK character; answers
# (written by the model, with [n] markers) end one at . ! ? before a space, a
# marker or the end, and keep their trailing markers. Neither splits "3.5" or
# an abbreviation of single letters and dots ("GenA.I.", "e.g.", "U.S.").
_PASSAGE_END_RE = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9\"'(\[\u3400-\u9fff])|(?<=[。！？；])")
_ANSWER_END_RE = re.compile(r"[。！？]+|[.!?]+(?=\s|\[|$)")
_TRAILING_MARKERS_RE = re.compile(r"(?:\s*" + CITATION_RE.pattern + ")+")


def passage_sentences(text: str) -> list[str]:
    """Rough sentence split of passage text, good enough to find the sentence
    that covers most of a question (the gate) or to quote one (quote)."""
    sentences: list[str] = []
    for part in (p.strip() for p in _PASSAGE_END_RE.split(text)):
        if not part:
            continue
        if sentences and ABBREVIATION_END_RE.search(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {part}"
        else:
            sentences.append(part)
    return sentences


def answer_sentences(text: str) -> list[str]:
    """Sentences of a model answer, each with its trailing citation markers."""
    sentences: list[str] = []
    start = 0
    for match in _ANSWER_END_RE.finditer(text):
        if match.group(0) == "." and ABBREVIATION_END_RE.search(text[start : match.end()]):
            continue
        end = match.end()
        markers = _TRAILING_MARKERS_RE.match(text, end)
        if markers:
            end = markers.end()
        sentences.append(text[start:end].strip())
        start = end
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


# Function words carry no evidence; a question built only from them must not
# look answered just because every passage contains "the".
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves tell please give explain describe say said according does did
    many much kind sort way any anything something thing things answer long often soon
    called
    的 了 是 在 和 與 及 或 有 也 都 而 就 被 把 這 那 其 之 為 以 於 對 中 上 下 個 嗎 呢
    什麼 甚麼 哪 誰 如何 怎樣 多少 幾 請 問 答案 回答 何時 哪些 哪一 是否 多久 為何
    """.split()
)


def normalise_whitespace(text: str) -> str:
    """Collapse runs of spaces (pypdf doubles them in justified lines), keep
    paragraph breaks, drop trailing spaces and NFKC-normalise compatibility forms."""
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES_RE.sub(" ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    blank = False
    for line in lines:
        if not line:
            if out and not blank:
                out.append("")
            blank = True
            continue
        out.append(line)
        blank = False
    return "\n".join(out).strip()


def is_cjk(text: str) -> bool:
    return bool(_CJK_RE.search(text))


def detect_language(text: str) -> str:
    """'zh' when CJK ideographs dominate the letters, 'en' for Latin, else 'und'."""
    cjk = len(_CJK_RE.findall(text))
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    if cjk == 0 and latin == 0:
        return "und"
    # One ideograph carries about as much as a short English word.
    return "zh" if cjk * 3 >= latin else "en"


def question_language(text: str) -> str:
    """'zh' or 'en': the language to answer ``text`` in (undetermined reads as English)."""
    return "zh" if detect_language(text) == "zh" else "en"


def terms(text: str) -> list[str]:
    """All index terms of ``text`` in order (with repeats)."""
    out: list[str] = []
    for match in _TOKEN_RE.finditer(text.lower()):
        token = match.group(0)
        if _CJK_RE.match(token):
            if len(token) == 1:
                out.append(token)
            else:
                out.extend(token[i : i + 2] for i in range(len(token) - 1))
        else:
            token = token.replace("’", "'")
            out.append(token[:-2] if token.endswith("'s") else token)
    return out


def stem(term: str) -> str:
    """A deliberately light English suffix stripper for matching evidence
    ("banks"/"bank", "launched"/"launch"); CJK terms and short words pass through."""
    if not term.isascii() or len(term) <= 4 or term.isdigit():
        return term
    if term.endswith(("ss", "us", "is")):
        return term
    if term.endswith("sses") or term.endswith("uses"):
        return term[:-2]
    for suffix in ("ings", "ing", "ies", "ed", "s"):
        if term.endswith(suffix) and len(term) - len(suffix) >= 3:
            return term[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return term


def content_terms(text: str) -> list[str]:
    """Distinct terms of ``text`` that carry meaning (no stopwords, no 1-letter
    Latin tokens), in first-seen order."""
    seen: dict[str, None] = {}
    for term in terms(text):
        if term in STOPWORDS or (len(term) == 1 and term.isascii()):
            continue
        if _CJK_RE.match(term) and all(ch in STOPWORDS for ch in term):
            continue
        seen.setdefault(term, None)
    return list(seen)


@functools.cache
def _converter(config: str) -> Any:
    import opencc  # C++ OpenCC with its dictionaries, from the opencc wheel

    return opencc.OpenCC(config)


def fold_chinese_script(text: str) -> str:
    """``text`` with Traditional Chinese characters written in their Simplified
    form, for comparisons only. The small model sometimes writes a name from a
    Traditional passage in Simplified (羅斯福 -> 罗斯福, 英國 -> 英国); folding
    both sides lets such a span still match. Traditional-to-Simplified is
    close to many-to-one, so folding loses no distinction that matters here.
    Text without CJK characters is returned as it is."""
    if not _CJK_RE.search(text):
        return text
    return str(_converter("t2s").convert(text))


def in_question_script(text: str, question: str, reference: str = "") -> str:
    """``text`` written in Traditional characters when ``question`` is: the
    small model sometimes answers a Traditional question partly in
    Simplified. A question in Simplified, or with no Traditional-only
    character, leaves ``text`` as it is. For display; comparisons fold.

    Simplified-to-Traditional is one-to-many, so a converter must guess, and
    it guesses wrong for text that was Traditional already (東征 becomes
    東徵, 群 becomes 羣). A character found in ``reference`` (the passages
    the answer stands on) is therefore kept as written; only characters the
    passages do not use are converted, in the Taiwan standard forms."""
    if not _CJK_RE.search(text) or fold_chinese_script(question) == question:
        return text
    converted = str(_converter("s2tw").convert(text))
    if not reference or len(converted) != len(text):
        return converted
    used = set(reference)
    return "".join(old if old in used else new for old, new in zip(text, converted, strict=True))


FIGURE_RE = re.compile(r"\d+(?:[.,]\d+)*")


def figures(text: str) -> set[str]:
    """The numbers written in ``text``, thousands separators removed ("1,200"
    and "1200" are one figure). ``content_terms`` skips one-digit tokens, so
    a check built only on terms would miss that "4 partners" names a count."""
    return {match.replace(",", "") for match in FIGURE_RE.findall(text)}


# Ordinals from "second" up: "the second cohort" names a different thing from
# "the first cohort". "First" is left out: documents often state it as "the
# launch of", "initially", "首批" or leave it implied.
_ORDINAL_RE = re.compile(
    r"\b(?:second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth"
    r"|\d*(?:[2-9]|1[0-9])(?:nd|rd|th))\b"
    r"|第[二三四五六七八九十兩两]+",
    re.IGNORECASE,
)


def ordinals(text: str) -> set[str]:
    """The ordinals from "second" up that ``text`` uses, lower-cased and
    script-folded like ``fold_chinese_script`` ("second", "3rd", "第二")."""
    return {m.lower() for m in _ORDINAL_RE.findall(fold_chinese_script(text))}


def says_nothing_new(text: str, question: str) -> bool:
    """True when ``text`` names no content term and no figure that
    ``question`` did not already contain: a restatement, not an answer.
    Terms are compared stemmed; text with no content terms and no figures
    does not count (there is nothing to compare)."""
    said = {stem(t) for t in content_terms(text)}
    new_figures = figures(text) - figures(question)
    if new_figures:
        return False
    return bool(said) and said <= {stem(t) for t in content_terms(question)}


def evidence_units(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """The pieces of a question that evidence must cover, each with the index
    terms that can cover it.

    A Latin content word stands for itself. A CJK character stands for the
    (non-stopword) bigrams that contain it: "首批沙盒" yields 首/批/沙/盒, and 批
    is covered when 首批 or 批沙 occurs in the evidence. This way the bigrams
    that straddle two words ("批沙") do not count as missing evidence, while
    a character no evidence bigram contains does.
    """
    units: list[tuple[str, tuple[str, ...]]] = []
    for match in _TOKEN_RE.finditer(text.lower()):
        token = match.group(0)
        if not _CJK_RE.match(token):
            continue
        if len(token) == 1:
            if token not in STOPWORDS:
                units.append((token, (token,)))
            continue
        grams = [token[i : i + 2] for i in range(len(token) - 1)]
        stopped = {i + k for i, g in enumerate(grams) if g in STOPWORDS for k in (0, 1)}
        for i, char in enumerate(token):
            if char in STOPWORDS or i in stopped:
                continue
            around = tuple(
                grams[j] for j in (i - 1, i) if 0 <= j < len(grams) and grams[j] not in STOPWORDS
            )
            units.append((char, around))
    seen: dict[str, tuple[str, ...]] = {}
    for term in content_terms(text):
        if not _CJK_RE.match(term):
            seen.setdefault(term, (term,))
    return [*seen.items(), *units]
