"""Verification of a generated answer against the passages it was given.

Checks, in order, each one a reason to refuse:

1. the model used the fixed refusal sentence -> MODEL_DECLINED;
2. a citation points outside the numbered passages, or there is none
   -> NO_VALID_CITATION. An answer with no marker at all, whose sentences a
   single passage backs nearly word for word (the model copied a passage and
   forgot the marker), is cited for it instead and then verified as usual;
3. a sentence is not backed by the passages it cites: too few of its content
   words occur there, or a number in it does not -> UNSUPPORTED, unless the
   answer survives without it (below);
4. a figure of the question (a year, a count) is in none of the cited
   passages: the question rests on a premise they do not state -> UNSUPPORTED.

A sentence without its own marker is checked against the citations of the
next cited sentence in the answer (models often cite once at the end).

Partial answers: unsupported sentences are dropped, not fatal, when what
remains still answers something: at least one supported, cited sentence, and
among the remaining sentences at least one of the question's content terms and
one term the question did not already contain. Otherwise the whole answer is
refused as UNSUPPORTED, as a single bad sentence used to do. Small models
often add one embellishing sentence to a correct answer; refusing the correct
part with it cost more than it protected. ``Verdict.dropped`` counts the
dropped sentences and ``detail`` names them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from chatbot.domain import Citation, Passage, RefusalReason
from chatbot.prompts import REFUSAL_SENTENCE
from chatbot.text import (
    ABBREVIATION_END_RE,
    CITATION_RE,
    FIGURE_RE,
    STOPWORDS,
    content_terms,
    figures,
    fold_chinese_script,
    is_cjk,
    ordinals,
    says_nothing_new,
    stem,
    strip_citations,
    terms,
)

_CITATION_RE = CITATION_RE
# A sentence ends at CJK end punctuation, or at . ! ? followed by a space, a
# citation or the end of text; "3.5" never ends one, nor does an abbreviation
# made of single letters and dots ("GenA.I.", "e.g.", "U.S.").
_END_RE = re.compile(r"[。！？]+|[.!?]+(?=\s|\[|$)")
_TRAILING_MARKERS_RE = re.compile(r"(?:\s*" + CITATION_RE.pattern + ")+")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Either the verified citations, or why the answer fails."""

    citations: tuple[Citation, ...] = ()
    failure: RefusalReason | None = None
    detail: str = ""
    text: str = ""  # the answer as verified (markers re-pointed where needed)
    reattributed: int = 0  # sentences whose citation was moved to the passage that holds it
    dropped: int = 0  # unsupported sentences removed from the answer (see module docstring)


def cited_numbers(text: str) -> list[int]:
    """Every ``[n]`` / ``[n, m]`` number in order of appearance."""
    numbers: list[int] = []
    for group in _CITATION_RE.findall(text):
        numbers.extend(int(n) for n in re.split(r"\s*[,，、]\s*", group) if n)
    return numbers


def split_sentences(text: str) -> list[str]:
    """Sentences with their trailing citation markers attached."""
    sentences: list[str] = []
    start = 0
    for match in _END_RE.finditer(text):
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


def is_model_refusal(text: str) -> bool:
    flat = re.sub(r"\s+", " ", text).strip().lower()
    return any(sentence.lower().rstrip(".。") in flat for sentence in REFUSAL_SENTENCE.values())


def support(sentence: str, passages: Sequence[Passage]) -> tuple[float, list[str]]:
    """Share of the sentence's content words found in ``passages``, and any
    numbers of the sentence missing from them."""
    # Script folded on both sides: a Simplified 英国 in the answer is the
    # Traditional 英國 of the passage.
    bare = fold_chinese_script(_CITATION_RE.sub(" ", sentence))
    wanted = content_terms(bare)
    evidence_text = fold_chinese_script(" ".join(p.chunk.text for p in passages))
    present = {stem(t) for t in terms(evidence_text)}
    digits_in_evidence = figures(evidence_text)
    missing_numbers = [
        n for n in FIGURE_RE.findall(bare) if n.replace(",", "") not in digits_in_evidence
    ]
    if not wanted:
        return 1.0, missing_numbers
    found = sum(1 for t in wanted if stem(t) in present)
    return found / len(wanted), missing_numbers


def verify(
    answer: str, passages: Sequence[Passage], min_support: float, question: str = ""
) -> Verdict:
    """Check ``answer`` to ``question`` against the numbered ``passages`` (1-based)."""
    if not answer.strip() or is_model_refusal(answer):
        return Verdict(failure=RefusalReason.MODEL_DECLINED, detail="model used refusal sentence")
    bare = _CITATION_RE.sub(" ", answer)
    if not content_terms(bare) and not figures(bare):
        return Verdict(failure=RefusalReason.MODEL_DECLINED, detail="no statement besides markers")
    if question and says_nothing_new(bare, question):
        # "The 10 banks were [1]." says nothing the question did not: a non-answer
        # dressed as one (small models do this when the passages lack the fact).
        # A figure the question lacks ("4 partners supported it [1]") is an answer.
        return Verdict(
            failure=RefusalReason.MODEL_DECLINED, detail="answer only restates the question"
        )
    numbers = cited_numbers(answer)
    invalid = sorted({n for n in numbers if not 1 <= n <= len(passages)})
    if invalid:
        return Verdict(
            failure=RefusalReason.NO_VALID_CITATION,
            detail=f"cites {invalid} but only {len(passages)} passages were given",
        )
    if not numbers:
        with_markers = _cite_uncited(answer, passages, min_support)
        if with_markers is None:
            return Verdict(failure=RefusalReason.NO_VALID_CITATION, detail="no [n] citation")
        verdict = verify(with_markers, passages, min_support, question)
        if verdict.failure is not None:
            return verdict
        return replace(
            verdict,
            reattributed=verdict.reattributed + len(cited_numbers(with_markers)),
            detail="; ".join(filter(None, ["model gave no [n]; citations added", verdict.detail])),
        )

    sentences = split_sentences(answer)
    per_sentence = [cited_numbers(s) for s in sentences]
    checked: dict[int, str] = {}  # sentence index -> the sentence as verified
    borrowed: dict[int, tuple[int, list[int]]] = {}  # uncited index -> (lender, its markers)
    failures: list[str] = []
    moved = 0
    for index, sentence in enumerate(sentences):
        own = per_sentence[index]
        if not own:  # borrow the next cited sentence's markers, else the last seen
            lender = _lender(per_sentence, index)
            assert lender is not None  # the answer has markers (checked above)
            own = per_sentence[lender]
            borrowed[index] = (lender, own)
        cited = [passages[n - 1] for n in dict.fromkeys(own)]
        share, missing_numbers = support(sentence, cited)
        if not missing_numbers and share >= min_support:
            checked[index] = sentence
            continue
        # Small models often cite the neighbour of the passage they used. If one
        # given passage fully backs the sentence, point the citation there; the
        # claim is still checked, only its address is corrected.
        better = _best_single_passage(sentence, passages, min_support)
        if better is not None:
            checked[index] = f"{_without_markers(sentence)} [{better}]"
            borrowed.pop(index, None)
            moved += 1
            continue
        if missing_numbers:
            failures.append(f"numbers {missing_numbers} not in cited passages: {sentence[:160]!r}")
        else:
            failures.append(f"support {share:.2f} < {min_support:.2f}: {sentence[:160]!r}")

    dropped = len(sentences) - len(checked)
    if dropped:
        reason = _partial_answer_problem(list(checked.values()), question)
        if reason is not None:
            detail = failures[0] if not checked else f"{failures[0]}; not dropped: {reason}"
            return Verdict(failure=RefusalReason.UNSUPPORTED, detail=detail)
        for index, (lender, markers) in borrowed.items():
            # An uncited sentence that borrowed the markers of a dropped one
            # keeps them, so that every remaining sentence stays cited.
            if index in checked and lender not in checked:
                numbers_text = ", ".join(str(n) for n in dict.fromkeys(markers))
                checked[index] = f"{_without_markers(checked[index])} [{numbers_text}]"
    text = _joiner(answer).join(checked.values()) if moved or dropped else answer.strip()
    citations = _citations(text, passages)
    unstated = _unstated_premise(question, citations)
    if unstated:
        return Verdict(
            failure=RefusalReason.UNSUPPORTED,
            detail=f"the question's figures or ordinals {unstated} are not in the cited passages: "
            "answering would accept a premise the documents do not state",
        )
    detail = ""
    if dropped:
        detail = f"dropped {dropped} of {len(sentences)} sentences: " + "; ".join(failures)
    return Verdict(
        citations=citations, text=text, reattributed=moved, dropped=dropped, detail=detail
    )


def _unstated_premise(question: str, citations: Sequence[Citation]) -> list[str]:
    """The figures and ordinals of ``question`` that none of the cited passages
    (with their section headings) contains. "Since 20 banks took part, name
    them", "Who patented it in 1883?" or "How many use cases are in the second
    cohort?" rests on a figure or a qualifier; when the passages the answer
    stands on do not state it, an answer would accept the premise (or quietly
    answer about the first cohort) instead of saying the documents do not
    cover the question."""
    asked = figures(question) | ordinals(question)
    if not asked:
        return []
    stated: set[str] = set()
    for c in citations:
        text = f"{c.passage.chunk.section}\n{c.passage.chunk.text}"
        stated |= figures(text) | ordinals(text)
    return sorted(asked - stated)


def _joiner(answer: str) -> str:
    """What goes between re-joined sentences: nothing in Chinese prose, a space otherwise."""
    return "" if is_cjk(answer) and not re.search(r"[A-Za-z]{3}", answer) else " "


def _without_markers(sentence: str) -> str:
    return strip_citations(sentence).rstrip()


def _partial_answer_problem(kept: Sequence[str], question: str) -> str | None:
    """Why the supported sentences ``kept`` cannot stand as the answer once the
    unsupported ones are dropped, or None when they can."""
    if not kept:
        return "no sentence is supported"
    if not question:
        return "no question to check the remaining sentences against"
    remaining = {stem(t) for t in content_terms(_CITATION_RE.sub(" ", " ".join(kept)))}
    asked = {stem(t) for t in content_terms(question)}
    if not remaining & asked:
        return "the remaining sentences share no term with the question"
    if remaining <= asked:
        return "the remaining sentences only restate the question"
    return None


# An answer the model left uncited is only cited for it when a passage backs
# a sentence nearly word for word (a copied passage), not merely half of it.
UNCITED_MIN_SUPPORT = 0.8


def _cite_uncited(answer: str, passages: Sequence[Passage], min_support: float) -> str | None:
    """``answer``, which has no ``[n]`` at all, with each sentence that one
    passage backs (see ``UNCITED_MIN_SUPPORT``) given that passage's marker;
    None when no sentence is backed that well. The result is verified like
    any other answer: sentences left without a marker borrow a neighbour's
    and are dropped or refused if it does not back them."""
    floor = max(min_support, UNCITED_MIN_SUPPORT)
    out: list[str] = []
    added = 0
    for sentence in split_sentences(answer):
        number = _best_single_passage(sentence, passages, floor)
        if number is None:
            out.append(sentence)
            continue
        out.append(f"{sentence} [{number}]")
        added += 1
    if not added:
        return None
    return _joiner(answer).join(out)


def _best_single_passage(
    sentence: str, passages: Sequence[Passage], min_support: float
) -> int | None:
    """1-based number of the given passage that best backs ``sentence`` on its
    own (all numbers present, support at least ``min_support``), or None."""
    best: tuple[float, int] | None = None
    for number, passage in enumerate(passages, start=1):
        share, missing_numbers = support(sentence, [passage])
        if missing_numbers or share < min_support:
            continue
        if best is None or share > best[0]:
            best = (share, number)
    return None if best is None else best[1]


# A sentence the verifier accepted, but whose own words its passages back
# less closely than this, is re-pointed or shown as the passage's sentence
# instead (see ``quote_weak_sentences``). Chosen on the DRCD calibration half:
# the answer sentences an independent reviewer's rule (60% of content words in
# the cited passage) rejected had support 0.71 at most; 0.8 leaves a margin for
# the two measures' different tokenisers (22 of the 78 sentences fall below it).
QUOTE_BELOW = 0.8
# A passage sentence much longer than this is not quoted: the answer would
# become a wall of source text for the sake of one clause.
QUOTE_MAX_CHARS = 400


@dataclass(frozen=True, slots=True)
class Quoted:
    """``text`` with weakly backed sentences replaced by passage sentences."""

    text: str
    citations: tuple[Citation, ...]
    quoted: int  # answer sentences replaced by a quotation
    repointed: int = 0  # sentences whose marker moved to the passage that backs their words


def quote_weak_sentences(
    text: str,
    passages: Sequence[Passage],
    question: str = "",
    short_answer: str | None = None,
    below: float = QUOTE_BELOW,
) -> Quoted:
    """Replace each sentence of a verified answer whose wording its cited
    passages back only loosely (support under ``below``) by the sentence of
    those passages that carries its new information, cited to that passage.

    Small models restate the question around the answer ("Alan Turing is
    attributed to the Turing machine"): the new part is in the passage, the
    restatement is in the model's words, not the document's, and a reader
    cannot check it against the source. The passage's own sentence says the
    same thing in words the source vouches for. A candidate must hold every
    figure of the sentence and every one of its new terms (those the question
    lacks) that the cited passages hold; when the judge extracted a short
    answer, the sentence containing it is preferred. Without such a
    candidate the sentence stays as it was.

    Before quoting, a sentence that another shown passage backs at ``below``
    or more keeps its words and has its marker moved there: the model cited
    the neighbour of the passage it used."""
    sentences = split_sentences(text)
    per_sentence = [cited_numbers(s) for s in sentences]
    asked = {stem(t) for t in content_terms(fold_chinese_script(question))}
    asked_figures = frozenset(figures(question))
    span = fold_chinese_script(short_answer or "").strip().lower()
    out: list[str] = []
    quotations: list[str] = []
    quoted = repointed = 0
    for index, sentence in enumerate(sentences):
        lender = index if per_sentence[index] else _lender(per_sentence, index)
        own = [] if lender is None else per_sentence[lender]
        valid = [n for n in dict.fromkeys(own) if 1 <= n <= len(passages)]
        cited = [passages[n - 1] for n in valid]
        share, _ = support(sentence, cited) if cited else (1.0, [])
        replacement = None
        if share < below:
            # Cited to the wrong neighbour: another shown passage backs the
            # model's own words that closely. Point there and keep them.
            better = _best_single_passage(sentence, passages, below)
            if better is not None:
                out.append(f"{_without_markers(sentence)} [{better}]")
                repointed += 1
                continue
            replacement = _quotation(sentence, valid, passages, asked, span, asked_figures)
        if replacement is None:
            out.append(sentence)
            continue
        quoted += 1
        if replacement not in out:  # two sentences may come down to one quotation
            out.append(replacement)
            quotations.append(_without_markers(replacement))
    if not quoted and not repointed:
        return Quoted(text, _citations(text, passages), 0)
    # A sentence the model copied from the passage may now sit inside a
    # quotation too: say it once.
    kept = [
        s
        for s in out
        if _without_markers(s) in quotations
        or not any(_without_markers(s).rstrip("。.") in q for q in quotations)
    ]
    joined = _joiner(text).join(kept)
    return Quoted(joined, _citations(joined, passages), quoted, repointed)


def passage_sentences(text: str) -> list[str]:
    """Sentences of a passage; a blank line also ends one, so that a heading
    is never quoted as the start of the sentence under it."""
    return [s for block in re.split(r"\n\s*\n", text) for s in split_sentences(block)]


def _lender(per_sentence: Sequence[list[int]], index: int) -> int | None:
    """The sentence whose markers an uncited sentence ``index`` borrows: the
    next cited one, else the last cited one before it; None when none is."""
    later = [i for i in range(index + 1, len(per_sentence)) if per_sentence[i]]
    earlier = [i for i in range(index) if per_sentence[i]]
    return later[0] if later else (earlier[-1] if earlier else None)


def _citations(text: str, passages: Sequence[Passage]) -> tuple[Citation, ...]:
    numbers = [n for n in cited_numbers(text) if 1 <= n <= len(passages)]
    return tuple(Citation(n, passages[n - 1]) for n in dict.fromkeys(numbers))


def _straddles_particle(term: str) -> bool:
    """A Chinese bigram with a particle in it ("西在" of "巴西在"), which mostly
    straddles a word boundary: whether a passage sentence has it says little
    about whether it carries the same fact, so a quotation need not hold it."""
    return len(term) == 2 and is_cjk(term) and any(ch in STOPWORDS for ch in term)


def _quotation(
    sentence: str,
    numbers: Sequence[int],
    passages: Sequence[Passage],
    asked: set[str],
    span: str,
    asked_figures: frozenset[str],
) -> str | None:
    """The cited passage sentence to show instead of ``sentence``, with its
    marker, or None when no passage sentence carries what ``sentence`` adds."""
    bare = fold_chinese_script(_CITATION_RE.sub(" ", sentence))
    wanted = {stem(t) for t in content_terms(bare)}
    new = wanted - asked
    # Figures the question gave need not be repeated by the quotation.
    wanted_figures = figures(bare) - asked_figures
    in_evidence: set[str] = set()
    for number in numbers:
        evidence = fold_chinese_script(passages[number - 1].chunk.text)
        in_evidence |= {stem(t) for t in terms(evidence)}
    must = {t for t in new & in_evidence if not _straddles_particle(t)}
    if not must and not wanted_figures and not span:
        return None  # nothing the sentence adds is in the passages: leave it to the checks
    best: tuple[tuple[int, int, int, int], str] | None = None
    for number in numbers:
        for candidate in passage_sentences(passages[number - 1].chunk.text):
            if len(candidate) > QUOTE_MAX_CHARS:
                continue
            folded = fold_chinese_script(candidate)
            have = {stem(t) for t in terms(folded)}
            if not must <= have or not wanted_figures <= figures(folded):
                continue
            holds_span = 1 if span and span in folded.lower() else 0
            if span and span in bare.lower() and not holds_span:
                continue  # the answer's own short answer must survive the quotation
            overlap = len(wanted & have)
            rank = (holds_span, overlap, -len(candidate), -number)
            if best is None or rank > best[0]:
                flat = re.sub(r"\s*\n\s*", " ", _without_markers(candidate))
                best = (rank, f"{flat} [{number}]")
    if best is None or best[0][1] == 0:
        return None
    return best[1]
