"""The evaluation metrics on small hand-made cases, values worked out by hand."""

from __future__ import annotations

import math

import pytest

from qa.errors import InputError
from qa.evaluate import (
    Item,
    Report,
    citation_scores,
    gold_token_recall,
    grade,
    is_correct,
    load_items,
    normalise,
    percentile,
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
        ("Anything", [], False),
    ],
)
def test_is_correct(answer, golds, expected) -> None:
    assert is_correct(answer, golds) is expected


def test_normalise() -> None:
    assert normalise("The  U.S.-backed SDF!") == "us backed sdf"


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
    assert math.isnan(percentile([], 0.5))


def _answer(text: str, answered: bool, citations=(), sources=("a.txt",)) -> Answer:
    passages = tuple(Hit(Chunk(f"{s}-0", s, 0, 0, 1, "x", ()), ArticleInfo(s, s, "t", None, 1), 1.0) for s in sources)
    return Answer("q", text, answered, "extractive" if answered else "declined", citations, passages, {"total": 0.5})


def test_report_metrics_by_hand() -> None:
    cite = Citation(1, "a", "t", None, "a.txt", "a-0", HOMS, 0, len(HOMS))
    items_answers = [
        (Item("Which city?", ("Homs",), "a.txt"), _answer(f"{HOMS} [1]", True, (cite,))),  # right
        (Item("Which day?", ("Friday",), "b.txt"), _answer(f"{HOMS} [1]", True, (cite,))),  # wrong; gold not retrieved
        (Item("Who?", ("Assad",), None), _answer("The articles don't say.", False)),  # false decline
        (Item("Price of oil?", (), None), _answer("The articles don't say.", False)),  # right refusal
    ]
    report = Report(results=[grade(i, a) for i, a in items_answers], k=6)
    m = report.metrics()
    assert m["accuracy"] == pytest.approx(1 / 3)
    assert m["decline_rate_unanswerable"] == 1.0
    assert m["false_decline_rate"] == pytest.approx(1 / 3)
    assert m["retrieval_recall_at_6"] == 0.5
    assert m["citation_recall"] == 1.0 and m["citation_precision"] == 1.0
    assert m["answer_sentences_mean"] == 1.0
    assert m["latency_s"]["total"] == {"p50": 0.5, "p95": 0.5}


def test_load_items_reports_the_bad_line(tmp_path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "Who?", "answers": ["X"]}\n{"answers": []}\n')
    with pytest.raises(InputError, match=r"q.jsonl:2"):
        load_items(path)
    path.write_text('{"question": "Who?", "answers": ["X"], "article": "a1"}\n\n')
    assert load_items(path) == [Item("Who?", ("X",), "a1")]
