"""A calibrated answerability model: P(the shown passages hold the answer).

The evidence gate's fixed thresholds (``GateSettings``) catch questions whose
words the corpus lacks. Many questions that must be refused share nearly all
their words with a real passage, so one threshold on one signal is not enough.
This module combines the gate's signals, and a few cheap facts about the
question, in a logistic model fitted on held-out public data by
``chatbot-eval calibrate`` (split by article: the articles it is fitted on are
never reported on). No LLM call is involved, so refusing costs milliseconds.

A calibration is a small JSON file, one model and threshold per language,
with what it was fitted on and how well it did there. It lives next to the
index it was made for (``<index path>/calibration.json``); without one, the
packaged default in ``chatbot/calibration/default.json`` is used.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatbot.answer.question import Question
from chatbot.domain import Evidence
from chatbot.errors import ConfigurationError

PACKAGED_CALIBRATION = Path(__file__).resolve().parent.parent / "calibration" / "default.json"
CALIBRATION_FILE = "calibration.json"
FORMAT_VERSION = 1

FEATURES = (
    "best_dense",
    "coverage",
    "sentence_coverage",
    "dense_gap",
    "heaviest_missing",
    "n_units",
    "negation",
    "asks_number",
    "number_in_sentence",
)

_NEGATION_RE = re.compile(
    r"\b(?:not|never|no|none|without|n't|cannot|neither|nor|didn't|doesn't|isn't|wasn't)\b"
    r"|n't\b|[不沒没無无未非否]",
    re.IGNORECASE,
)
_NUMBER_QUESTION_RE = re.compile(
    r"\bhow (?:many|much|long|old|far|often)\b|\bwhat (?:year|date|percentage|number)\b"
    r"|\bwhen\b|\bwhich year\b|[幾几]|多少|何時|何时|哪一?年|什麼時候|什么时候|多久|多長|多长",
    re.IGNORECASE,
)
_DIGIT_RE = re.compile(r"\d|[一二三四五六七八九十百千萬万億亿兩两]")


def features(question: Question, evidence: Evidence) -> dict[str, float]:
    """The model's inputs for one question, all from the gate's measurements."""
    asks_number = bool(_NUMBER_QUESTION_RE.search(question.text))
    units = len(evidence.matched) + len(evidence.missing)
    return {
        "best_dense": evidence.best_dense if evidence.best_dense is not None else 0.0,
        "coverage": evidence.coverage,
        "sentence_coverage": evidence.sentence_coverage,
        "dense_gap": evidence.dense_gap,
        "heaviest_missing": evidence.heaviest_missing,
        "n_units": math.log1p(units),
        "negation": 1.0 if _NEGATION_RE.search(question.text) else 0.0,
        "asks_number": 1.0 if asks_number else 0.0,
        "number_in_sentence": 1.0
        if asks_number and _DIGIT_RE.search(evidence.best_sentence)
        else 0.0,
    }


@dataclass(frozen=True, slots=True)
class LogisticModel:
    """Standardised logistic regression over ``FEATURES`` with a threshold."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float  # refuse when P(answerable) is below this

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.bias
        for name, mu, sd, w in zip(self.names, self.mean, self.scale, self.weights, strict=True):
            z += w * (values.get(name, 0.0) - mu) / sd
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


@dataclass(frozen=True, slots=True)
class Calibration:
    """Per-language answerability models and where they came from."""

    models: dict[str, LogisticModel]
    meta: dict[str, Any] = field(default_factory=dict)
    # Learned fixed-gate thresholds per language, replacing GateSettings'
    # min_term_coverage(_cjk) / min_dense_score(_cjk) for that language:
    # {"en": {"min_coverage": 0.31, "min_dense": 0.12}}. Empty: settings apply.
    floors: dict[str, dict[str, float]] = field(default_factory=dict)

    def model_for(self, language: str) -> LogisticModel | None:
        return self.models.get("zh" if language == "zh" else "en")

    def floors_for(self, language: str) -> dict[str, float]:
        return self.floors.get("zh" if language == "zh" else "en", {})

    def gate_overrides(self, language: str) -> dict[str, float]:
        """The learned floors for ``language`` as ``GateSettings`` field values
        (``min_term_coverage`` / ``min_dense_score``, their ``_cjk`` forms for
        Chinese); empty when none were learned."""
        floors = self.floors_for(language)
        suffix = "_cjk" if language == "zh" else ""
        names = {"min_coverage": "min_term_coverage", "min_dense": "min_dense_score"}
        return {names[key] + suffix: value for key, value in floors.items() if key in names}

    def score(self, question: Question, evidence: Evidence) -> tuple[float, float] | None:
        """(P(answerable), threshold), or None when no model covers the language."""
        model = self.model_for(evidence.language)
        if model is None:
            return None
        return model.probability(features(question, evidence)), model.threshold

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "features": list(FEATURES),
            "models": {lang: asdict(model) for lang, model in self.models.items()},
            "floors": self.floors,
            "meta": self.meta,
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")
        tmp.replace(path)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "calibration") -> Calibration:
        try:
            if data.get("format") != FORMAT_VERSION:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT_VERSION}")
            models = {}
            for lang, raw in dict(data["models"]).items():
                model = LogisticModel(
                    names=tuple(raw["names"]),
                    mean=tuple(float(v) for v in raw["mean"]),
                    scale=tuple(float(v) for v in raw["scale"]),
                    weights=tuple(float(v) for v in raw["weights"]),
                    bias=float(raw["bias"]),
                    threshold=float(raw["threshold"]),
                )
                sizes = {len(model.names), len(model.mean), len(model.scale), len(model.weights)}
                if len(sizes) != 1 or any(s <= 0 for s in model.scale):
                    raise ValueError(f"model {lang!r} has inconsistent sizes or scales")
                unknown = set(model.names) - set(FEATURES)
                if unknown:
                    raise ValueError(f"model {lang!r} uses unknown features {sorted(unknown)}")
                models[str(lang)] = model
            floors = {
                str(lang): {str(k): float(v) for k, v in dict(values).items()}
                for lang, values in dict(data.get("floors", {})).items()
            }
            for values in floors.values():
                if set(values) - {"min_coverage", "min_dense"}:
                    raise ValueError(f"unknown floor in {sorted(values)}")
            return cls(models, dict(data.get("meta", {})), floors)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"{where} is not a valid answerability calibration ({exc}); "
                "re-create it with `chatbot-eval calibrate`, or delete it to use the packaged one"
            ) from exc

    @classmethod
    def load(cls, path: Path) -> Calibration:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigurationError(
                f"cannot read the answerability calibration {path}: {exc}; "
                "re-create it with `chatbot-eval calibrate`"
            ) from exc
        return cls.from_json(data, str(path))


def find_calibration(index_path: Path | None, override: Path | None = None) -> Path | None:
    """Which calibration file applies: an explicit one, the index's own, or the
    packaged default (None if even that is missing)."""
    if override is not None:
        return override
    if index_path is not None and (index_path / CALIBRATION_FILE).is_file():
        return index_path / CALIBRATION_FILE
    return PACKAGED_CALIBRATION if PACKAGED_CALIBRATION.is_file() else None
