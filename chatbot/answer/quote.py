"""Show the source's words where the model's are loose.

A sentence the verifier (``chatbot.answer.verify``) accepted, but whose own words
its cited passage backs only loosely (most often the model rewording the
question around a correct fact), is re-pointed to another shown passage that
backs it closely, or replaced by the cited passage's own sentence that holds
what it adds (its new terms, its figures, the judge's phrase), cited to that
passage. Verification decides whether an answer may be shown; this step only
decides in whose words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.answer.verify import (
    best_single_passage,
    citations_for,
    cited_numbers,
    joiner,
    lender_of,
    support,
    without_markers,
)
from chatbot.domain import Citation, Passage
from chatbot.text import (
    CITATION_RE,
    STOPWORDS,
    answer_sentences,
    content_terms,
    figures,
    fold_chinese_script,
    is_cjk,
    stem,
    terms,
)

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
    sentences = answer_sentences(text)
    per_sentence = [cited_numbers(s) for s in sentences]
    asked = {stem(t) for t in content_terms(fold_chinese_script(question))}
    asked_figures = frozenset(figures(question))
    span = fold_chinese_script(short_answer or "").strip().lower()
    out: list[str] = []
    quotations: list[str] = []
    quoted = repointed = 0
    for index, sentence in enumerate(sentences):
        lender = index if per_sentence[index] else lender_of(per_sentence, index)
        own = [] if lender is None else per_sentence[lender]
        valid = [n for n in dict.fromkeys(own) if 1 <= n <= len(passages)]
        cited = [passages[n - 1] for n in valid]
        share, _ = support(sentence, cited) if cited else (1.0, [])
        replacement = None
        if share < below:
            # Cited to the wrong neighbour: another shown passage backs the
            # model's own words that closely. Point there and keep them.
            better = best_single_passage(sentence, passages, below)
            if better is not None:
                out.append(f"{without_markers(sentence)} [{better}]")
                repointed += 1
                continue
            replacement = _quotation(sentence, valid, passages, asked, span, asked_figures)
        if replacement is None:
            out.append(sentence)
            continue
        quoted += 1
        if replacement not in out:  # two sentences may come down to one quotation
            out.append(replacement)
            quotations.append(without_markers(replacement))
    if not quoted and not repointed:
        return Quoted(text, citations_for(text, passages), 0)
    # A sentence the model copied from the passage may now sit inside a
    # quotation too: say it once.
    kept = [
        s
        for s in out
        if without_markers(s) in quotations
        or not any(without_markers(s).rstrip("。.") in q for q in quotations)
    ]
    joined = joiner(text).join(kept)
    return Quoted(joined, citations_for(joined, passages), quoted, repointed)


def passage_sentences(text: str) -> list[str]:
    """Sentences of a passage; a blank line also ends one, so that a heading
    is never quoted as the start of the sentence under it."""
    return [s for block in re.split(r"\n\s*\n", text) for s in answer_sentences(block)]


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
    bare = fold_chinese_script(CITATION_RE.sub(" ", sentence))
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
                flat = re.sub(r"\s*\n\s*", " ", without_markers(candidate))
                best = (rank, f"{flat} [{number}]")
    if best is None or best[0][1] == 0:
        return None
    return best[1]
