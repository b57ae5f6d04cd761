"""Settings of the answering steps: retrieval, the gate and the checks, the reader."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class RetrievalSettings(BaseModel):
    dense_k: int = Field(20, description="Candidates from the vector index.")
    keyword_k: int = Field(20, description="Candidates from the keyword index.")
    rrf_k: int = Field(60, description="Reciprocal-rank-fusion constant.")
    dense_weight_zh: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Weight of the dense ranking in the fusion for Chinese questions (the "
        "keyword ranking weighs 1). The packaged embedder is English-only and ranks Chinese "
        "text at random, so it is 0 by default; set 1 with a multilingual embedder "
        "(CHATBOT_EMBEDDER__MODEL).",
    )
    max_passages: int = Field(4, description="Most passages shown to the model.")
    passage_token_budget: int = Field(
        900, description="Most tokens of passages in one prompt (measured budget, see README)."
    )
    reranker_model: str | None = Field(
        None,
        description="Local folder of a sentence-transformers CrossEncoder (e.g. a copy of "
        "cross-encoder/ms-marco-MiniLM-L-6-v2) that rescores the fused candidates; "
        "never fetched from a hub. Unset or empty: no reranking.",
    )
    rerank_candidates: int = Field(
        20,
        ge=1,
        description="How many of the best fused candidates the reranker rescores; the "
        "rest keep their fused order after them.",
    )


class GateSettings(BaseModel):
    """Thresholds of the evidence gate; refusals below them never reach the LLM."""

    min_dense_score: float = Field(
        0.30, description="Refuse when the best passage's cosine similarity is below this."
    )
    min_dense_score_cjk: float = Field(
        -1.0,
        description="min_dense_score for Chinese questions (the packaged embedder is "
        "English-only, so by default only the keyword side judges them).",
    )
    min_term_coverage: float = Field(
        0.60,
        description="Refuse when the IDF-weighted share of the question's content "
        "words found in the retrieved passages is below this (0..1).",
    )
    min_term_coverage_cjk: float = Field(
        0.50,
        description="min_term_coverage for Chinese questions (characters covered by "
        "matching bigrams).",
    )
    min_support: float = Field(
        0.5,
        description="Verification: least share of an answer sentence's content words "
        "that must appear in the passages it cites.",
    )
    answerability: bool = Field(
        True,
        description="Also refuse (weak_evidence) when the calibrated answerability model "
        "says the passages probably do not hold the answer (no LLM call).",
    )
    judge: bool = Field(
        True,
        description="After verification, a second constrained LLM call (JSON schema) judges "
        "whether the cited passages state the answer and extracts the short answer; "
        "unsupported answers become refusals (unsupported).",
    )
    judge_mode: Literal["separate", "continue", "review"] = Field(
        "separate",
        description="How the support judge asks. 'separate': its own prompt holding only the "
        "cited passages (measured best). 'continue': as the next turn of the answer call's "
        "conversation (vLLM's prefix cache spares re-reading the passages, but the model then "
        "judges its own words). 'review': the answer call's prompt plus one turn showing the "
        "draft as a proposed answer (cached prefix, fresh eyes).",
    )
    calibration_file: Path | None = Field(
        None,
        description="Answerability calibration to use [default: <index path>/calibration.json "
        "if present, else the packaged chatbot/calibration/default.json].",
    )


class ReaderSettings(BaseModel):
    enabled: bool = Field(
        True,
        description="Read English questions against the shown passages with the trained "
        "answerability reader (chatbot/reader/) before any LLM call: a low P(answerable) "
        "refuses (not_in_passages), a high one skips the support judge.",
    )
    folder: Path | None = Field(
        None,
        description="Folder holding reader.safetensors and reader.json [default: the "
        "packaged chatbot/reader/].",
    )
    reject_below: float | None = Field(
        None,
        description="Refuse when P(answerable) is below this [default: the threshold "
        "recorded in reader.json, chosen on the SQuAD 2.0 calibration half].",
    )
    confident_above: float | None = Field(
        None,
        description="Skip the support judge when P(answerable) is at least this and the "
        "answer cites the passage holding the reader's span [default: from reader.json].",
    )
    precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="Arithmetic of the reader: 'auto' uses bf16 where the CPU has bf16 "
        "instructions (AMX, AVX-512 BF16) and float32 elsewhere.",
    )
    languages: tuple[str, ...] = Field(
        ("en",),
        description="Question languages the reader applies to (the base model is "
        "English-only; Chinese keeps the judge path).",
    )
