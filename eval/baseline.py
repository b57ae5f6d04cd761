"""A naive RAG baseline to compare the pipeline against.

This is the retrieve-and-stuff recipe found in countless tutorials: take the
four nearest passages by embedding, paste them into a prompt that asks the
model to say so when it does not know, and return whatever it writes. There
is no keyword retrieval, no evidence gate, no citation format and no
verification; the same embedder, index and generator as the pipeline are
used, so the comparison isolates what those steps add.

How its replies are classified: a reply counts as an answer unless its first
sentence plainly says the model does not know ("I don't know", "I do not
know", "不知道"); then it is a ``Refusal(MODEL_DECLINED)`` with
``llm_called=True``. Hedged replies that go on to answer anyway ("I don't
know the exact figure, but ...") are still answers when the hedge is not the
first sentence, and a tutorial app would show them to the user either way.
The baseline never cites, so grounding metrics are reported as n/a for it.
"""

from __future__ import annotations

import re
import time

from chatbot.access import PUBLIC
from chatbot.domain import Answer, Outcome, Passage, Refusal, RefusalReason, Timings
from chatbot.messages import refusal_message
from chatbot.protocols import ChatMessage, Embedder, Generator, VectorIndex
from chatbot.text import question_language

BASELINE_K = 4

BASELINE_PROMPT = """Use the following pieces of context to answer the question at the end. \
If you don't know the answer, just say that you don't know, don't try to make up an answer.

{context}

Question: {question}
Helpful Answer:"""

_DONT_KNOW_RE = re.compile(
    r"\b(?:i\s+)?(?:don['’]?t|do\s+not|dont)\s+know\b|不知道|無法回答|无法回答",
    re.IGNORECASE,
)
_FIRST_SENTENCE_RE = re.compile(r"^.*?(?:[.!?](?=\s|$)|[。！？]|\n|$)", re.DOTALL)


def says_dont_know(reply: str) -> bool:
    """True when the first sentence of ``reply`` says the model does not know
    (or the reply is empty)."""
    text = reply.strip()
    if not text:
        return True
    match = _FIRST_SENTENCE_RE.match(text)
    first = match.group(0) if match else text
    return bool(_DONT_KNOW_RE.search(first))


def baseline_messages(question: str, passages: list[Passage]) -> list[ChatMessage]:
    context = "\n\n".join(p.chunk.text for p in passages)
    prompt = BASELINE_PROMPT.format(context=context, question=question.strip())
    return [ChatMessage("user", prompt)]


class NaiveBaseline:
    """Implements the same ``answer(question) -> Answer | Refusal`` shape as
    ``chatbot.answer.pipeline.Pipeline``."""

    def __init__(
        self,
        embedder: Embedder,
        vectors: VectorIndex,
        generator: Generator,
        k: int = BASELINE_K,
    ) -> None:
        self.embedder = embedder
        self.vectors = vectors
        self.generator = generator
        self.k = k

    def answer(self, question: str) -> Outcome:
        started = time.perf_counter()
        vector = self.embedder.embed([question])[0]
        passages = [
            Passage(chunk=hit.chunk, fused_score=hit.score, dense_score=hit.score)
            for hit in self.vectors.query(vector, self.k, audience=PUBLIC)
        ]
        retrieve_s = time.perf_counter() - started

        started = time.perf_counter()
        reply = "".join(self.generator.stream(baseline_messages(question, passages)))
        timings = Timings(retrieve_s=retrieve_s, generate_s=time.perf_counter() - started)

        if says_dont_know(reply):
            reason = RefusalReason.MODEL_DECLINED
            return Refusal(
                reason=reason,
                message=refusal_message(reason, question_language(question)),
                passages=tuple(passages),
                detail=f"baseline reply: {reply.strip()[:300]!r}",
                timings=timings,
                llm_called=True,
            )
        return Answer(
            text=reply.strip(),
            citations=(),
            passages=tuple(passages),
            model=self.generator.model_name,
            timings=timings,
        )
