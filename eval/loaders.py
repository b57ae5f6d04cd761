"""Dataset adapters: SQuAD 2.0, DRCD, RGB and plain JSONL into ``EvalSet``.

Each loader reads one file, validates it, and returns questions plus the
contexts to index. Public data is read in place (``/work/shared/data`` next
to the repository by default) and never copied into the project; a missing
file raises ``DatasetNotFoundError``, which callers can turn into a skip.

Sampling is seeded and keeps file order, so the same ``n`` and ``seed`` give
the same questions on every machine.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from chatbot.errors import BoundaryError
from chatbot.text import detect_language
from eval.items import (
    ANSWERABLE,
    NEGATIVE_REJECTION,
    OUT_OF_CORPUS,
    UNANSWERABLE,
    Context,
    EvalItem,
    EvalSet,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SQUAD2_PATH = SHARED_DATA / "squad2" / "squad2-dev-split.json"
DRCD_PATH = SHARED_DATA / "drcd" / "DRCD_dev.json"
# The HKMA annual-report chapters 2015-2024 (one folder per year) and the
# project's own period-aware question set about them.
HKMA_CORPUS = SHARED_DATA / "hkma_annual_report_wmt25"
OWN_SET_PATH = Path(__file__).resolve().parent / "datasets" / "own.jsonl"
HKMA_SET_PATH = Path(__file__).resolve().parent / "datasets" / "hkma.jsonl"


class DatasetError(BoundaryError):
    """An evaluation dataset is missing or malformed."""


class DatasetNotFoundError(DatasetError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"dataset file not found: {path} (check the path, or skip this set)")


class DatasetFormatError(DatasetError):
    pass


def sample(items: Sequence[EvalItem], n: int | None, seed: int) -> tuple[EvalItem, ...]:
    """``n`` items chosen with ``random.Random(seed)``, in their original order;
    all items when ``n`` is None or not smaller than the set."""
    if n is None or n >= len(items):
        return tuple(items)
    if n < 0:
        raise ValueError(f"sample size must be >= 0, got {n}")
    chosen = sorted(random.Random(seed).sample(range(len(items)), n))
    return tuple(items[i] for i in chosen)


# Held-out calibration: articles, never single questions, are split, so that no
# article a threshold or classifier was fitted on is ever reported on. The split
# has its own fixed seed, independent of the sampling seed.
SPLITS = ("all", "calibration", "test")
SPLIT_SEED = 20261280  # puts the four articles used for early prompt probes in calibration


def article_split(titles: Sequence[str], split: str) -> set[str]:
    """The article titles that belong to ``split``: half the distinct titles
    (rounded down) for calibration, the rest for test, chosen reproducibly."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    distinct = sorted(set(titles))
    if split == "all":
        return set(distinct)
    random.Random(SPLIT_SEED).shuffle(distinct)
    half = len(distinct) // 2
    return set(distinct[:half] if split == "calibration" else distinct[half:])


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DatasetNotFoundError(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetFormatError(f"{path}: not valid UTF-8 JSON ({exc})") from exc


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise DatasetNotFoundError(path)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetFormatError(f"{path}:{number}: invalid JSON ({exc})") from exc
            if not isinstance(record, dict):
                raise DatasetFormatError(f"{path}:{number}: expected a JSON object")
            yield number, record


def _distinct(texts: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t for t in texts if t.strip()))


def _squad_articles(data: Any, path: Path) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DatasetFormatError(f"{path}: expected {{'data': [articles]}} (SQuAD format)")
    return list(data["data"])


# --- SQuAD 2.0 -------------------------------------------------------------------------


def load_squad2(
    path: Path = SQUAD2_PATH, n: int | None = None, seed: int = 0, split: str = "all"
) -> EvalSet:
    """SQuAD 2.0 JSON: answerable and adversarially unanswerable questions.

    Every paragraph becomes a context ``squad2/<title>/<index>``; unanswerable
    questions keep the paragraph they were written against in ``context_ids``
    but have no gold source. ``split`` keeps only the questions of the
    calibration or test half of the articles; every article is still indexed.
    """
    contexts: list[Context] = []
    items: list[EvalItem] = []
    articles = _squad_articles(_read_json(path), path)
    asked = article_split([str(a.get("title", "untitled")) for a in articles], split)
    for article in articles:
        title = str(article.get("title", "untitled"))
        for index, paragraph in enumerate(article.get("paragraphs", [])):
            context = Context(
                id=f"squad2/{title}/{index:03d}",
                title=title.replace("_", " "),
                text=str(paragraph["context"]),
            )
            contexts.append(context)
            if title not in asked:
                continue
            for qa in paragraph.get("qas", []):
                impossible = bool(qa.get("is_impossible", False))
                answers = () if impossible else _distinct([a["text"] for a in qa["answers"]])
                items.append(
                    EvalItem(
                        id=str(qa["id"]),
                        question=str(qa["question"]),
                        answers=answers,
                        answerable=not impossible,
                        language="en",
                        category=UNANSWERABLE if impossible else ANSWERABLE,
                        gold_sources=() if impossible else (context.id,),
                        context_ids=(context.id,),
                    )
                )
    name = "squad2" if split == "all" else f"squad2-{split}"
    return EvalSet(name, sample(items, n, seed), tuple(contexts))


# --- DRCD ------------------------------------------------------------------------------


def load_drcd(
    path: Path = DRCD_PATH,
    n: int | None = None,
    seed: int = 0,
    indexed_fraction: float = 1.0,
    split: str = "all",
) -> EvalSet:
    """DRCD JSON (Traditional Chinese, all answerable).

    With ``indexed_fraction`` < 1, only that seeded share of articles is
    indexed; questions about the other articles become unanswerable
    (category ``out_of_corpus``, no gold answers). This tests refusal on
    questions that are plausible but outside the index; it assumes DRCD
    articles do not answer each other's questions, which holds for nearly all.
    ``split`` keeps the questions of the calibration or test half of the
    articles (split independently of which articles are indexed).
    """
    if not 0.0 <= indexed_fraction <= 1.0:
        raise ValueError(f"indexed_fraction must be in [0, 1], got {indexed_fraction}")
    articles = _squad_articles(_read_json(path), path)
    keep = round(indexed_fraction * len(articles))
    indexed = set(random.Random(seed).sample(range(len(articles)), keep))
    keys = [str(a.get("id", i)) for i, a in enumerate(articles)]
    asked = article_split(keys, split)
    contexts: list[Context] = []
    items: list[EvalItem] = []
    for article_index, article in enumerate(articles):
        in_index = article_index in indexed
        title = str(article.get("title", ""))
        for p_index, paragraph in enumerate(article.get("paragraphs", [])):
            paragraph_id = str(paragraph.get("id", f"{article.get('id', article_index)}-{p_index}"))
            context = Context(
                id=f"drcd/{paragraph_id}", title=title, text=str(paragraph["context"])
            )
            if in_index:
                contexts.append(context)
            if keys[article_index] not in asked:
                continue
            for qa in paragraph.get("qas", []):
                items.append(
                    EvalItem(
                        id=str(qa["id"]),
                        question=str(qa["question"]),
                        answers=_distinct([a["text"] for a in qa["answers"]]) if in_index else (),
                        answerable=in_index,
                        language="zh",
                        category=ANSWERABLE if in_index else OUT_OF_CORPUS,
                        gold_sources=(context.id,) if in_index else (),
                        context_ids=(context.id,),
                    )
                )
    name = "drcd" if indexed_fraction == 1.0 else f"drcd-ooc{indexed_fraction:g}"
    name = name if split == "all" else f"{name}-{split}"
    return EvalSet(name, sample(items, n, seed), tuple(contexts))


# --- RGB -------------------------------------------------------------------------------


def _flatten(value: Any) -> list[str]:
    """RGB answers are strings, lists of aliases, or lists of such lists."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for part in value for text in _flatten(part)]
    if value is None:
        return []
    return [str(value)]


def load_rgb(
    path: Path, n: int | None = None, seed: int = 0, negative_rejection: bool = False
) -> EvalSet:
    """RGB JSON lines ``{"id","query","answer","positive","negative"}``.

    Default mode indexes every positive and negative passage of the file.
    ``negative_rejection`` indexes only the negative passages, so every
    question is unanswerable and a refusal is the correct output. Identical
    passage texts shared by several questions are indexed once.
    """
    by_text: dict[str, Context] = {}
    items: list[EvalItem] = []

    def add(text: str, context_id: str, title: str) -> str:
        if text not in by_text:
            by_text[text] = Context(context_id, title, text)
        return by_text[text].id

    for number, record in _jsonl_records(path):
        for key in ("id", "query", "answer", "positive", "negative"):
            if key not in record:
                raise DatasetFormatError(f"{path}:{number}: missing {key!r} (RGB format)")
        item_id = str(record["id"])
        question = str(record["query"])
        positives: list[str] = []
        if not negative_rejection:
            positives = [
                add(str(t), f"rgb/{item_id}/pos/{i}", question)
                for i, t in enumerate(record["positive"])
            ]
        negatives = [
            add(str(t), f"rgb/{item_id}/neg/{i}", question)
            for i, t in enumerate(record["negative"])
        ]
        language = detect_language(question)
        items.append(
            EvalItem(
                id=item_id,
                question=question,
                answers=() if negative_rejection else _distinct(_flatten(record["answer"])),
                answerable=not negative_rejection,
                language="zh" if language == "zh" else "en",
                category=NEGATIVE_REJECTION if negative_rejection else ANSWERABLE,
                gold_sources=tuple(dict.fromkeys(positives)),
                context_ids=tuple(dict.fromkeys(positives + negatives)),
            )
        )
    name = "rgb-negative" if negative_rejection else "rgb"
    return EvalSet(name, sample(items, n, seed), tuple(by_text.values()))


# --- plain JSONL -----------------------------------------------------------------------


def _str_list(value: Any, field: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatasetFormatError(f"{where}: {field!r} must be a list of strings")
    return tuple(value)


def _page_list(value: Any, where: str) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value
    ):
        raise DatasetFormatError(f"{where}: 'pages' must be a list of 1-based page numbers")
    return tuple(value)


def _other_period_answers(value: Any, where: str) -> tuple[str, ...]:
    """``{"2017": ["HK$1 billion"], ...}`` flattened to the spans."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise DatasetFormatError(f"{where}: 'other_year_answers' must map a year to spans")
    spans: list[str] = []
    for year, texts in value.items():
        spans.extend(_str_list(texts, f"other_year_answers[{year}]", where))
    return tuple(dict.fromkeys(spans))


def parse_item(record: dict[str, Any], default_id: str, where: str) -> EvalItem:
    """One plain-JSONL record as an ``EvalItem`` (see eval/datasets/README.md)."""
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DatasetFormatError(f"{where}: 'question' must be a non-empty string")
    answerable = record.get("answerable")
    if not isinstance(answerable, bool):
        raise DatasetFormatError(f"{where}: 'answerable' must be true or false")
    answers = _str_list(record.get("answers"), "answers", where)
    if answers and not answerable:
        raise DatasetFormatError(f"{where}: an unanswerable question cannot have 'answers'")
    sources = _str_list(record.get("sources"), "sources", where)
    pages = _page_list(record.get("pages"), where)
    if pages and len(sources) != 1 and len(sources) != len(pages):
        raise DatasetFormatError(
            f"{where}: 'pages' need exactly one source, or one source per page"
        )
    language = record.get("language") or detect_language(question)
    if language not in ("en", "zh"):
        language = "en"
    category = record.get("category") or (ANSWERABLE if answerable else UNANSWERABLE)
    period = record.get("period") or ""
    if not isinstance(period, str):
        raise DatasetFormatError(f"{where}: 'period' must be a string such as \"2024\"")
    return EvalItem(
        id=str(record.get("id") or default_id),
        question=question.strip(),
        answers=answers,
        answerable=answerable,
        language=str(language),
        category=str(category),
        gold_sources=sources,
        gold_pages=pages,
        period=period,
        other_period_answers=_other_period_answers(record.get("other_year_answers"), where),
    )


def load_jsonl(path: Path, n: int | None = None, seed: int = 0) -> EvalSet:
    """A user's own question set, one JSON object a line:
    ``{"id"?, "question", "answers"?, "answerable", "sources"?, "pages"?,
    "category"?, "language"?}``. It has no contexts: it is asked against the
    ingested corpus."""
    items: list[EvalItem] = []
    seen: set[str] = set()
    for number, record in _jsonl_records(path):
        item = parse_item(record, f"{path.stem}-{number}", f"{path}:{number}")
        if item.id in seen:
            raise DatasetFormatError(f"{path}:{number}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    return EvalSet(path.stem, sample(items, n, seed), ())


def load_own_set(n: int | None = None, seed: int = 0) -> EvalSet:
    """The project's own question set about the sample corpus."""
    return load_jsonl(OWN_SET_PATH, n, seed)
