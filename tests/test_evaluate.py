"""The evaluation metrics on small hand-made cases, values worked out by hand."""

from __future__ import annotations

import json

import pytest

from qa.errors import InputError
from qa.evaluate import (
    Item,
    Report,
    citation_scores,
    exact_match,
    gold_token_recall,
    grade,
    is_correct,
    load_items,
    normalise,
    percentile,
    risk_coverage,
    token_f1,
)
from qa.types import Answer, ArticleInfo, Chunk, Citation, Hit

HOMS = "The rebels took Homs on Saturday night."
JORDAN = "Jordan closed a border crossing with Syria."


@pytest.mark.parametrize(
    "answer, golds, expected",
    [
        ("Rebels took Homs [1].", ["homs"], True),
        ("The rebels took the city.", ["Homs"], False),
        ("The U.S.-backed SDF joined.", ["US-backed"], True),
        ("It fell in 2011.", ["201"], False),  # whole words only
        ("The BBC's reporter said so.", ["BBC"], True),  # a possessive still names the BBC
        ("Antarctica\u2019s glacier", ["Antarctica"], True),
        ("Anything", [], False),
    ],
)
def test_is_correct(answer, golds, expected) -> None:
    assert is_correct(answer, golds) is expected


def test_normalise() -> None:
    assert normalise("The  U.S.-backed SDF!") == "us backed sdf"
    assert normalise("the Jameses' house, it's") == "jameses house it"


def test_short_answer_exact_match_and_f1_by_hand() -> None:
    assert exact_match("the Atlanta Braves", ["Atlanta Braves"]) and not exact_match("Atlanta", ["Atlanta Braves"])
    # "Atlanta": precision 1/1, recall 1/2 -> F1 2/3; the better of two golds counts
    assert token_f1("Atlanta", ["Atlanta Braves"]) == pytest.approx(2 / 3)
    assert token_f1("Atlanta", ["Braves", "Atlanta"]) == 1.0
    assert token_f1("Boston", ["Atlanta Braves"]) == 0.0


def test_risk_coverage_by_hand() -> None:
    # confidences 0.9 (right), 0.7 (wrong), 0.7 (right), 0.2 (wrong)
    points = [(0.9, True), (0.7, False), (0.7, True), (0.2, False)]
    assert risk_coverage(points) == [(0.9, 0.25, 1.0), (0.7, 0.75, pytest.approx(2 / 3)), (0.2, 1.0, 0.5)]
    assert risk_coverage([]) == []


def test_gold_token_recall_by_hand() -> None:
    # gold content words: "closed", "border", "crossing" -> 2 of 3 present
    assert gold_token_recall("Jordan closed its border.", ["closed the border crossing"]) == pytest.approx(2 / 3)
    assert gold_token_recall("anything", []) == 0.0


def test_citation_scores_by_hand() -> None:
    # Sentence 1 cites [1] (supports) and [2] (irrelevant): recall 1, precision [True, False].
    # Sentence 2 cites nothing: recall 0.
    # Sentence 3 needs both [1] and [2] jointly: recall 1; each citation is needed: precision [True, True].
    text = "The rebels took Homs. [1][2] Assad fled to Moscow. Rebels took Homs and Jordan closed a crossing. [1][2]"
    recall, precision = citation_scores(text, {1: HOMS, 2: JORDAN})
    assert recall == [True, False, True]
    assert precision == [True, False, True, True]


def test_percentile_nearest_rank() -> None:
    assert percentile([1, 2, 3, 4], 0.5) == 2
    assert percentile([1, 2, 3, 4], 0.95) == 4
    assert percentile([], 0.5) is None


def _answer(text: str, answered: bool, citations=(), sources=("a.txt",), **extra) -> Answer:
    passages = tuple(Hit(Chunk(f"{s}-0", s, 0, 0, 1, HOMS, ()), ArticleInfo(s, s, "t", None, 1), 1.0) for s in sources)
    method = extra.pop("method", "extractive" if answered else "declined")
    return Answer("q", text, answered, method, citations, passages, {"total": 0.5}, **extra)


def test_report_metrics_by_hand() -> None:
    cite = Citation(1, "a", "t", None, "a.txt", "a-0", HOMS, 0, len(HOMS))
    jordan = Citation(1, "b", "t", None, "b.txt", "b-0", JORDAN, 0, len(JORDAN))
    items_answers = [
        # right, with a short answer that matches exactly
        (
            Item("Which city?", ("Homs",), ("a.txt",)),
            _answer(f"{HOMS} [1]", True, (cite,), short_answer="Homs", confidence=0.9),
        ),
        # wrong; the gold article was not retrieved
        (Item("Which day?", ("Friday",), ("b.txt",)), _answer(f"{HOMS} [1]", True, (cite,), confidence=0.8)),
        # a false decline, though the closest sentence held the answer and the chunk too
        (Item("Who?", ("Homs",), ()), _answer("The articles don't say.", False, closest=cite, confidence=0.3)),
        # a right refusal
        (Item("Price of oil?", (), ()), _answer("The articles don't say.", False, closest=jordan, confidence=0.1)),
        # an answer to an unanswerable question: wrong; generated, so its citations are judged
        (Item("Why?", (), ()), _answer(f"{JORDAN} [1]", True, (jordan,), method="generated", confidence=0.5)),
    ]
    report = Report(results=[grade(i, a, k=6) for i, a in items_answers], k=6)
    m = report.metrics()
    assert m["accuracy"] == pytest.approx(1 / 3)
    assert m["answered_precision"] == pytest.approx(1 / 3)  # 1 right of 3 answered
    assert m["coverage"] == pytest.approx(3 / 5)
    assert m["decline_rate_unanswerable"] == 0.5
    assert m["false_decline_rate"] == pytest.approx(1 / 3)
    assert m["best_sentence_has_answer"] == pytest.approx(2 / 3)  # the answer, and the closest of the decline
    assert m["answer_in_top1_chunks"] == pytest.approx(2 / 3)  # every passage is the Homs chunk: not Friday
    assert m["retrieval_recall_at_6"] == 0.5
    assert m["short_answers_shown"] == pytest.approx(1 / 3)
    assert m["short_answer_exact_match"] == 1.0 and m["short_answer_f1"] == 1.0
    assert m["generated_answers"] == 1
    assert m["citation_recall_generated"] == 1.0 and m["citation_precision_generated"] == 1.0
    assert m["answer_sentences_mean"] == 1.0
    assert m["latency_s"]["total"] == {"p50": 0.5, "p95": 0.5}
    json.dumps(m, allow_nan=False)  # valid JSON: undefined figures are null, never NaN
    # the curve: by confidence 0.9 (right), 0.8 (wrong), 0.5 (wrong), 0.3 (right), 0.1 (wrong)
    assert report.curve()[0] == (0.9, 0.2, 1.0) and report.curve()[-1] == (0.1, 1.0, 0.4)


def test_undefined_metrics_are_null() -> None:
    report = Report(results=[grade(Item("Who?", (), ()), _answer("The articles don't say.", False))])
    m = report.metrics()
    assert m["accuracy"] is None and m["answered_precision"] is None and m["short_answer_f1"] is None
    assert json.loads(json.dumps(m, allow_nan=False))["accuracy"] is None


def test_load_items_reports_the_bad_line(tmp_path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "Who?", "answers": ["X"]}\n{"answers": []}\n')
    with pytest.raises(InputError, match=r"q.jsonl:2"):
        load_items(path)
    lines = ['{"question": "Who?", "answers": ["X"], "article": "a1"}', "", '{"question": "Q", "articles": ["u", "v"]}']
    path.write_text("\n".join(lines))
    assert load_items(path) == [Item("Who?", ("X",), ("a1",)), Item("Q", (), ("u", "v"))]
