"""Every setting is documented: its CHATBOT_ variable appears in the README's
configuration table and in .env.example, so an operator never has to read the
code to find a knob."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel

from chatbot.settings import Settings
from tests.conftest import REPO_ROOT


def variables(model: type[BaseModel], prefix: str = "CHATBOT_") -> Iterator[str]:
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from variables(kind, f"{prefix}{name.upper()}__")
        else:
            yield f"{prefix}{name.upper()}"


def mentioned(variable: str, text: str) -> bool:
    # The README may group siblings: `CHATBOT_UI__HOST` / `CHATBOT_UI__PORT`,
    # or `CHATBOT_INDEX__CHROMA_HOST` / `_PORT` / `_SSL`.
    if variable in text:
        return True
    section, _, leaf = variable.rpartition("__")
    return f"`_{leaf.split('_')[-1]}`" in text and section in text


def test_every_setting_is_in_the_readme_and_the_env_example() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    example = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    names = list(variables(Settings))
    assert "CHATBOT_EMBEDDED__CPU_CLASS" in names
    missing_readme = [n for n in names if not mentioned(n, readme)]
    missing_example = [n for n in names if n not in example]
    assert not missing_readme, f"not in README.md: {missing_readme}"
    assert not missing_example, f"not in .env.example: {missing_example}"
