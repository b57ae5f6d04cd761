from __future__ import annotations

import pytest

from eval.metrics import (
    Rate,
    answer_tokens,
    contains_gold,
    coverage,
    exact_match,
    hallucination_rate,
    hit_at_k,
    latency_summary,
    mean_defined,
    mean_reciprocal_rank,
    normalize_answer,
    normalize_zh,
    percentile,
    rate,
    recall_at_k,
    reciprocal_rank,
    refusal_scores,
    score_question,
    scorer_language,
    squad_summary,
    strip_citations,
    token_f1,
    wilson_interval,
)

# --- normalisation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Quick, brown fox!", "quick brown fox"),  # lower, punctuation, article
        ("An apple a day", "apple day"),  # all three articles
        ("theatre another anthem", "theatre another anthem"),  # whole words only
        ("  multiple\t spaces\n here ", "multiple spaces here"),
        ("U.S.A.", "usa"),
        ("Cyberport's", "cyberports"),  # apostrophe is punctuation, dropped without a space
        ("", ""),
    ],
)
def test_squad_normalisation(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_chinese_normalisation_drops_spaces_and_cjk_punctuation() -> None:
    assert normalize_zh("風險管理、反詐騙措施 及「客戶體驗」。") == "風險管理反詐騙措施及客戶體驗"
    assert normalize_zh("ＧｅｎＡＩ （沙盒）") == "genai沙盒"  # full-width folded by NFKC


def test_strip_citations() -> None:
    assert strip_citations("It launched in August 2024 [1]. It had 15 [2, 3].") == (
        "It launched in August 2024. It had 15."
    )


def test_scorer_follows_gold_language() -> None:
    assert scorer_language("2024年8月") == "zh"
    assert scorer_language("August 2024") == "en"
    assert answer_tokens("2024年8月", "zh") == ["2", "0", "2", "4", "年", "8", "月"]


# --- EM / F1 -----------------------------------------------------------------------------


def test_exact_match_uses_normalisation() -> None:
    assert exact_match("the Eiffel Tower.", "Eiffel tower") == 1.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0


def test_token_f1_hand_computed() -> None:
    # pred -> [cat, sat, on, mat], gold -> [cat, on, mat]: P = 3/4, R = 1, F1 = 6/7
    assert token_f1("the cat sat on the mat", "a cat on a mat") == pytest.approx(6 / 7)
    # overlap counts each token as often as both sides have it: common 1, P = 1/2, R = 1
    assert token_f1("dog dog", "dog") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert token_f1("", "") == 1.0
    assert token_f1("something", "") == 0.0
    assert token_f1("nothing shared", "at all") == 0.0


def test_chinese_character_f1_hand_computed() -> None:
    # 9 predicted characters, 7 gold, all 7 shared: P = 7/9, R = 1, F1 = 14/16
    assert token_f1("2024年8月推出", "2024年8月") == pytest.approx(0.875)
    assert exact_match("2024年8月推出", "2024年8月") == 0.0
    assert exact_match("風險管理 反詐騙", "風險管理、反詐騙") == 1.0


def test_score_question_takes_best_gold_and_handles_unanswerable() -> None:
    score = score_question("10 banks", ["ten", "10 banks"], answerable=True)
    assert (score.exact, score.f1) == (1.0, 1.0)
    assert score_question(None, ["10 banks"], answerable=True).f1 == 0.0
    assert score_question(None, [], answerable=False).exact == 1.0
    assert score_question("", [], answerable=False).f1 == 1.0
    assert score_question("Paris", [], answerable=False).exact == 0.0
    # an answerable item whose gold strings normalise to nothing is scored against ""
    assert score_question("", ["the"], answerable=True).exact == 1.0


def test_contains_gold_matches_whole_tokens() -> None:
    assert contains_gold("The Sandbox was launched in August 2024 [1].", ["August 2024"])
    assert not contains_gold("It had 100 use cases.", ["10"])
    assert contains_gold("沙盒於2024年8月推出。", ["2024年8月"])
    assert not contains_gold(None, ["x"])
    assert not contains_gold("anything", [""])


def test_squad_summary_splits_has_and_no_answer() -> None:
    summary = squad_summary(
        [
            ("France", ["France"], True),
            (None, ["Normandy"], True),
            (None, [], False),
            ("Paris", [], False),
        ]
    )
    assert summary.exact == 0.5
    assert summary.has_ans_exact == 0.5
    assert summary.no_ans_exact == 0.5
    assert (summary.total, summary.has_ans_total, summary.no_ans_total) == (4, 2, 2)
    empty = squad_summary([])
    assert empty.exact is None and empty.total == 0


# --- rates -------------------------------------------------------------------------------


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.7225, abs=1e-4)
    assert high == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_rate_value_and_text() -> None:
    r = rate([True, False, True, True])
    assert (r.successes, r.total, r.value) == (3, 4, 0.75)
    assert "75.0% (3/4" in str(r)
    assert Rate(0, 0).value is None
    assert str(Rate(0, 0)) == "n/a (0/0)"


def test_hallucination_and_coverage() -> None:
    answerable = [True, True, True, False, False]
    answered = [True, False, True, True, False]
    assert hallucination_rate(answerable, answered) == Rate(1, 2)
    assert coverage(answerable, answered) == Rate(2, 3)
    with pytest.raises(ValueError):
        coverage([True], [True, False])


def test_refusal_precision_recall_f1() -> None:
    scores = refusal_scores(
        should_refuse=[True, True, True, False, False],
        refused=[True, True, False, True, False],
    )
    assert (scores.true_pos, scores.false_pos, scores.false_neg, scores.true_neg) == (2, 1, 1, 1)
    assert scores.precision == Rate(2, 3)
    assert scores.recall == Rate(2, 3)
    assert scores.f1 == pytest.approx(2 / 3)


def test_refusal_f1_edge_cases() -> None:
    assert refusal_scores([], []).f1 is None
    never_refuses = refusal_scores([True, False], [False, False])
    assert never_refuses.precision.value is None
    assert never_refuses.f1 == 0.0


# --- latency -----------------------------------------------------------------------------


def test_percentiles_interpolate_linearly() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    summary = latency_summary([1.0, 2.0, 3.0, 4.0])
    assert (summary.count, summary.p50, summary.max) == (4, 2.5, 4.0)
    assert summary.mean == pytest.approx(2.5)


# --- retrieval ---------------------------------------------------------------------------


def test_retrieval_metrics() -> None:
    ranked = ["a", "b", "c", "a"]
    assert recall_at_k(ranked, {"c", "d"}, 2) == 0.0
    assert recall_at_k(ranked, {"c", "d"}, 3) == 0.5
    assert hit_at_k(ranked, {"c", "d"}, 3) == 1.0
    assert reciprocal_rank(ranked, {"c"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"z"}) == 0.0
    assert recall_at_k(ranked, set(), 3) is None
    assert mean_reciprocal_rank([(ranked, {"a"}), (ranked, {"b"}), (ranked, set())]) == (
        pytest.approx(0.75)
    )
    assert mean_defined([None, None]) is None
