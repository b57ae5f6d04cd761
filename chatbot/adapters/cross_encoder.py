"""Reranker adapter over a sentence-transformers CrossEncoder, fully offline.

A cross-encoder reads the question and one passage together and scores how
well the passage answers it: slower than the bi-encoder behind dense
retrieval, but sharper, so it only rescores the few best fused candidates.

No cross-encoder ships on PyPI, so the model is always a local folder the
operator provides (for example a copy of ``cross-encoder/ms-marco-MiniLM-L-6-v2``
or ``BAAI/bge-reranker-base``). Two layouts are accepted:

- a sentence-transformers save (``modules.json`` plus
  ``config_sentence_transformers.json`` with ``"model_type": "CrossEncoder"``);
- a plain Hugging Face folder whose ``config.json`` names a
  ``...ForSequenceClassification`` architecture with one label.

The folder is checked when the reranker is built, so a wrong path fails at
start-up; the model itself loads on first use, with the hub client offline and
local files only. A folder or model that cannot be loaded is a
``ConfigurationError`` (the setting is wrong); a model that loaded but fails
while scoring a question's passages is a ``RerankerError`` (a fault, reported
to the user like an embedder failure).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.domain import Passage
from chatbot.errors import ConfigurationError, RerankerError

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

log = logging.getLogger(__name__)

SETTING = "CHATBOT_RETRIEVAL__RERANKER_MODEL"
_FIX = (
    f"set {SETTING} to a folder holding a sentence-transformers CrossEncoder "
    "(e.g. a copy of cross-encoder/ms-marco-MiniLM-L-6-v2), or unset it to turn "
    "reranking off"
)


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}; {_FIX}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} is not a JSON object; {_FIX}")
    return data


def check_folder(model: str) -> Path:
    """The resolved folder for ``model`` if it holds a cross-encoder.

    Only reads small JSON files; raises ``ConfigurationError`` with the fix.
    """
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ConfigurationError(f"reranker model folder {folder} does not exist; {_FIX}")
    folder = folder.resolve()
    if not (folder / "config.json").is_file():
        raise ConfigurationError(f"{folder} is not a model folder (no config.json); {_FIX}")
    if (folder / "modules.json").is_file():
        # sentence-transformers' own rule: a save without a model_type is an embedder.
        st_config = folder / "config_sentence_transformers.json"
        kind = _read_json(st_config).get("model_type") if st_config.is_file() else None
        kind = kind or "SentenceTransformer"
        if kind != "CrossEncoder":
            raise ConfigurationError(
                f"{folder} holds a {kind} model (an embedder), not a cross-encoder; {_FIX}"
            )
        return folder
    architectures = _read_json(folder / "config.json").get("architectures") or []
    if not (
        isinstance(architectures, list)
        and any(str(a).endswith("ForSequenceClassification") for a in architectures)
    ):
        raise ConfigurationError(
            f"{folder} is not a cross-encoder (config.json architectures: {architectures}, "
            f"expected a ...ForSequenceClassification model); {_FIX}"
        )
    return folder


class CrossEncoderReranker:
    """``Reranker`` backed by a local sentence-transformers CrossEncoder."""

    def __init__(self, model: str, batch_size: int = 32, device: str = "cpu") -> None:
        self._folder = check_folder(model)
        self._batch_size = batch_size
        self._device = device
        self._model: CrossEncoder | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"local:{self._folder}"

    @property
    def folder(self) -> Path:
        return self._folder

    def rerank(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        if not passages:
            return []
        model = self._loaded()
        pairs = [(question, p.chunk.text) for p in passages]
        try:
            raw = model.predict(
                pairs,
                batch_size=self._batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        except (RuntimeError, ValueError) as exc:
            raise RerankerError(
                f"reranker {self._folder} failed on device '{self._device}' while scoring "
                f"{len(pairs)} passages: {exc}. Try again; if it keeps failing, unset "
                f"{SETTING} to answer without reranking"
            ) from exc
        scores = [float(s) for s in raw]
        order = sorted(range(len(passages)), key=lambda i: -scores[i])  # stable on ties
        return [replace(passages[i], rerank_score=scores[i]) for i in order]

    def _loaded(self) -> CrossEncoder:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> CrossEncoder:
        # The hub client reads this once, at import: set it before importing.
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            from sentence_transformers import CrossEncoder
            from transformers.utils import logging as transformers_logging
        except ImportError as exc:
            raise ConfigurationError(
                f"sentence-transformers is not installed ({exc}): run `pip install -e .` "
                "in the project folder"
            ) from exc
        transformers_logging.disable_progress_bar()
        try:
            model = CrossEncoder(str(self._folder), device=self._device, local_files_only=True)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ConfigurationError(
                f"cannot load the reranker from {self._folder} on device '{self._device}': "
                f"{exc}. Check the folder is a complete copy of the model; {_FIX}"
            ) from exc
        if model.num_labels != 1:
            raise ConfigurationError(
                f"{self._folder} is a classifier with {model.num_labels} labels, not a "
                f"reranker with one relevance score; {_FIX}"
            )
        log.info("loaded reranker %s on %s", self._folder, self._device)
        return model
