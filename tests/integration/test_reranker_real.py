"""The real cross-encoder adapter failing to load a folder that only looks like
a model: a configuration error naming the setting, not a scoring fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.adapters.cross_encoder import CrossEncoderReranker
from chatbot.errors import ConfigurationError, RerankerError
from tests.builders import classifier_config_folder, dps_passages

SETTING = "CHATBOT_RETRIEVAL__RERANKER_MODEL"


@pytest.mark.real
def test_a_model_that_cannot_be_loaded_stays_a_configuration_error(tmp_path: Path) -> None:
    # config.json names a classifier but the folder holds no weights or tokenizer.
    reranker = CrossEncoderReranker(str(classifier_config_folder(tmp_path)))
    with pytest.raises(ConfigurationError, match="cannot load the reranker") as info:
        reranker.rerank("q", dps_passages())
    assert not isinstance(info.value, RerankerError) and SETTING in str(info.value)
