from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatbot.domain import Chunk, Passage
from eval.items import EvalItem, EvalSet, passage_key
from eval.loaders import (
    DRCD_PATH,
    SQUAD2_PATH,
    DatasetFormatError,
    DatasetNotFoundError,
    load_drcd,
    load_jsonl,
    load_rgb,
    load_squad2,
    sample,
)

DATA = Path(__file__).parent / "data"


def _write(path: Path, payload: Any) -> Path:
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return path


SQUAD_TINY = {
    "version": "v2.0",
    "data": [
        {
            "title": "Harbour_City",
            "paragraphs": [
                {
                    "context": "Harbour City opened its ferry pier in 1901.",
                    "qas": [
                        {
                            "id": "h1",
                            "question": "When did the ferry pier open?",
                            "answers": [
                                {"text": "1901", "answer_start": 38},
                                {"text": "1901", "answer_start": 38},
                                {"text": "in 1901", "answer_start": 35},
                            ],
                            "is_impossible": False,
                        },
                        {
                            "id": "h2",
                            "question": "When did the ferry pier close?",
                            "answers": [],
                            "plausible_answers": [{"text": "1901", "answer_start": 38}],
                            "is_impossible": True,
                        },
                    ],
                },
                {
                    "context": "The pier was rebuilt in stone.",
                    "qas": [
                        {
                            "id": "h3",
                            "question": "What was the pier rebuilt in?",
                            "answers": [{"text": "stone", "answer_start": 24}],
                            "is_impossible": False,
                        }
                    ],
                },
            ],
        }
    ],
}


def _drcd_article(article_id: str, title: str, n_questions: int) -> dict[str, Any]:
    return {
        "id": article_id,
        "title": title,
        "paragraphs": [
            {
                "id": f"{article_id}-1",
                "context": f"{title}位於青州。",
                "qas": [
                    {
                        "id": f"{article_id}-1-{q}",
                        "question": f"{title}位於哪裏？({q})",
                        "answers": [
                            {"id": "1", "text": "青州", "answer_start": len(title) + 2},
                            {"id": "2", "text": "青州", "answer_start": len(title) + 2},
                        ],
                    }
                    for q in range(1, n_questions + 1)
                ],
            }
        ],
    }


DRCD_TINY = {
    "version": "1.3",
    "data": [
        _drcd_article("1", "星海圖書館", 2),
        _drcd_article("2", "月灣公園", 1),
        _drcd_article("3", "雲山大橋", 3),
        _drcd_article("4", "青石書院", 2),
    ],
}


# --- SQuAD 2.0 ---------------------------------------------------------------------------


def test_squad2_tiny(tmp_path: Path) -> None:
    evalset = load_squad2(_write(tmp_path / "squad.json", SQUAD_TINY))
    assert [c.id for c in evalset.contexts] == [
        "squad2/Harbour_City/000",
        "squad2/Harbour_City/001",
    ]
    assert evalset.contexts[0].title == "Harbour City"
    first, impossible, third = evalset.items
    assert first.answers == ("1901", "in 1901")  # duplicates dropped, order kept
    assert first.answerable and first.category == "answerable" and first.language == "en"
    assert first.gold_sources == first.context_ids == ("squad2/Harbour_City/000",)
    assert not impossible.answerable and impossible.answers == ()
    assert impossible.category == "unanswerable"
    assert impossible.gold_sources == ()
    assert impossible.context_ids == ("squad2/Harbour_City/000",)
    assert third.gold_sources == ("squad2/Harbour_City/001",)


def test_squad2_sampling_is_seeded_and_keeps_all_contexts(tmp_path: Path) -> None:
    path = _write(tmp_path / "squad.json", SQUAD_TINY)
    a = load_squad2(path, n=2, seed=7)
    b = load_squad2(path, n=2, seed=7)
    assert [i.id for i in a.items] == [i.id for i in b.items]
    assert len(a.items) == 2 and len(a.contexts) == 2
    order = [i.id for i in load_squad2(path).items]
    assert [i.id for i in a.items] == [x for x in order if x in {i.id for i in a.items}]


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="not found"):
        load_squad2(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DatasetFormatError):
        load_squad2(tmp_path / "bad.json")
    with pytest.raises(DatasetFormatError, match="SQuAD format"):
        load_squad2(_write(tmp_path / "list.json", [1, 2]))


def test_sample_edges() -> None:
    items = [EvalItem(str(i), "q?", (), False, "en", "x") for i in range(5)]
    assert sample(items, None, 0) == tuple(items)
    assert sample(items, 10, 0) == tuple(items)
    assert sample(items, 0, 0) == ()
    with pytest.raises(ValueError):
        sample(items, -1, 0)


# --- DRCD --------------------------------------------------------------------------------


def test_drcd_tiny_all_answerable(tmp_path: Path) -> None:
    evalset = load_drcd(_write(tmp_path / "drcd.json", DRCD_TINY))
    assert evalset.name == "drcd"
    assert len(evalset.items) == 8 and len(evalset.contexts) == 4
    item = evalset.items[0]
    assert item.id == "1-1-1" and item.language == "zh" and item.answerable
    assert item.answers == ("青州",)
    assert item.gold_sources == ("drcd/1-1",)


def test_drcd_out_of_corpus_mode(tmp_path: Path) -> None:
    path = _write(tmp_path / "drcd.json", DRCD_TINY)
    evalset = load_drcd(path, indexed_fraction=0.5, seed=3)
    indexed = {c.id for c in evalset.contexts}
    assert len(indexed) == 2
    for item in evalset.items:
        in_index = item.context_ids[0] in indexed
        assert item.answerable == in_index
        if in_index:
            assert item.category == "answerable" and item.answers == ("青州",)
        else:
            assert item.category == "out_of_corpus"
            assert item.answers == () and item.gold_sources == ()
    assert evalset == load_drcd(path, indexed_fraction=0.5, seed=3)  # seeded
    assert all(not i.answerable for i in load_drcd(path, indexed_fraction=0.0).items)
    with pytest.raises(ValueError):
        load_drcd(path, indexed_fraction=1.5)


# --- RGB ---------------------------------------------------------------------------------


def test_rgb_default_mode_indexes_positives_and_negatives() -> None:
    evalset = load_rgb(DATA / "rgb_tiny.jsonl")
    assert evalset.name == "rgb"
    # 4 positives + 5 negatives, one negative shared by two questions
    assert len(evalset.contexts) == 8
    first, second, third = evalset.items
    assert first.answers == ("Mira Chen", "M. Chen")  # nested alias list flattened
    assert first.answerable and first.gold_sources == ("rgb/0/pos/0", "rgb/0/pos/1")
    shared = "rgb/0/neg/1"
    assert shared in first.context_ids and shared in second.context_ids
    assert third.language == "zh" and third.answers == ("青州",)


def test_rgb_negative_rejection_indexes_only_negatives() -> None:
    evalset = load_rgb(DATA / "rgb_tiny.jsonl", negative_rejection=True)
    assert evalset.name == "rgb-negative"
    assert all("/neg/" in c.id for c in evalset.contexts)
    assert len(evalset.contexts) == 4
    assert not any("Mira Chen won" in c.text for c in evalset.contexts)
    for item in evalset.items:
        assert not item.answerable and item.answers == () and item.gold_sources == ()
        assert item.category == "negative_rejection"


def test_rgb_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "rgb.jsonl"
    path.write_text('{"id": 1, "query": "q?", "answer": ["a"]}\n', encoding="utf-8")
    with pytest.raises(DatasetFormatError, match="missing 'positive'"):
        load_rgb(path)


# --- plain JSONL -------------------------------------------------------------------------


def test_plain_jsonl_tiny() -> None:
    evalset = load_jsonl(DATA / "plain_tiny.jsonl")
    assert evalset.name == "plain_tiny" and evalset.contexts == ()
    q1, q2, q3 = evalset.items
    assert q1.answers == ("August 2024",) and q1.gold_pages == (1,)
    assert q1.category == "answerable" and q1.language == "en"
    assert q2.id == "plain_tiny-3"  # default id from the line number (line 2 is blank)
    assert not q2.answerable and q2.category == "off_topic"
    assert q3.language == "zh"  # detected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"answerable": true}', "'question'"),
        ('{"question": "q?"}', "'answerable'"),
        ('{"question": "q?", "answerable": "yes"}', "'answerable'"),
        ('{"question": "q?", "answerable": false, "answers": ["x"]}', "unanswerable"),
        ('{"question": "q?", "answerable": true, "answers": "x"}', "'answers'"),
        ('{"question": "q?", "answerable": true, "sources": ["a", "b"], "pages": [1]}', "pages"),
        ('{"question": "q?", "answerable": true, "sources": ["a"], "pages": [0]}', "pages"),
        ("[1, 2]", "JSON object"),
        ("{oops", "invalid JSON"),
    ],
)
def test_plain_jsonl_rejects_bad_lines(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=message):
        load_jsonl(path)


def test_plain_jsonl_rejects_duplicate_ids(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    line = '{"id": "x", "question": "q?", "answerable": false}\n'
    path.write_text(line * 2, encoding="utf-8")
    with pytest.raises(DatasetFormatError, match="duplicate id 'x'"):
        load_jsonl(path)


# --- gold keys ---------------------------------------------------------------------------


def test_gold_keys_and_passage_keys() -> None:
    item = EvalItem("x", "q?", ("a",), True, "en", "answerable", ("doc.pdf",), (2, 3))
    assert item.gold_keys("source") == ("doc.pdf",)
    assert item.gold_keys("page") == ("doc.pdf#p2", "doc.pdf#p3")
    multi = EvalItem("y", "q?", ("a",), True, "en", "answerable", ("a.pdf", "b.md"), ())
    assert multi.gold_keys("page") == ("a.pdf", "b.md")
    chunk = Chunk("c", "t", "doc.pdf", "Doc", 2, "", "en", "h", "f", 0)
    assert passage_key(Passage(chunk, 0.1), "page") == "doc.pdf#p2"
    assert passage_key(Passage(chunk, 0.1), "source") == "doc.pdf"


# --- the real shared files (skipped when absent) -----------------------------------------


@pytest.mark.skipif(not SQUAD2_PATH.is_file(), reason="shared SQuAD 2.0 split not present")
def test_real_squad2_split_counts() -> None:
    evalset = load_squad2()
    assert len(evalset.items) == 2805
    assert sum(1 for i in evalset.items if not i.answerable) == 1527
    assert len({c.title for c in evalset.contexts}) == 8
    assert len(evalset.contexts) == 294
    assert all(i.answers for i in evalset.items if i.answerable)
    sampled = load_squad2(n=100, seed=1)
    assert len(sampled.items) == 100 and len(sampled.contexts) == 294


@pytest.mark.skipif(not DRCD_PATH.is_file(), reason="shared DRCD dev set not present")
def test_real_drcd_counts_and_out_of_corpus() -> None:
    full = load_drcd()
    assert len(full.items) == 3524 and len(full.contexts) == 1000
    assert all(i.answerable and i.language == "zh" for i in full.items)
    assert len({c.id.split("-")[0] for c in full.contexts}) == 383
    half = load_drcd(indexed_fraction=0.5, seed=0)
    indexed = {c.id for c in half.contexts}
    assert 0 < len(indexed) < 1000
    unanswerable = [i for i in half.items if not i.answerable]
    assert 0 < len(unanswerable) < len(half.items)
    assert all(i.context_ids[0] not in indexed for i in unanswerable)
    assert all(i.gold_sources[0] in indexed for i in half.items if i.answerable)


@pytest.mark.skipif(not SQUAD2_PATH.is_file(), reason="shared SQuAD 2.0 split not present")
def test_real_squad2_calibration_and_test_halves_split_by_article() -> None:
    whole = load_squad2()
    halves = {split: load_squad2(split=split) for split in ("calibration", "test")}

    def articles(eval_set: EvalSet) -> set[str]:
        return {item.context_ids[0].split("/")[1] for item in eval_set.items}

    assert articles(halves["calibration"]).isdisjoint(articles(halves["test"]))
    assert len(halves["calibration"].items) + len(halves["test"].items) == len(whole.items)
    # every article stays indexed: the corpus is the same for both halves
    assert halves["test"].contexts == whole.contexts == halves["calibration"].contexts
    assert halves["test"].name == "squad2-test"


@pytest.mark.skipif(not DRCD_PATH.is_file(), reason="shared DRCD dev set not present")
def test_real_drcd_halves_keep_the_indexed_articles() -> None:
    calibration = load_drcd(indexed_fraction=0.5, split="calibration")
    test = load_drcd(indexed_fraction=0.5, split="test")
    assert calibration.contexts == test.contexts
    assert {i.id for i in calibration.items}.isdisjoint({i.id for i in test.items})
    assert any(i.answerable for i in test.items) and any(not i.answerable for i in test.items)
