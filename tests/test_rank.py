"""Candidate features and the fitted model, on hand-made chunks with values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qa.question import Question
from qa.rank import FEATURES, Model, Ranker, _coverage, candidates
from qa.text import split_sentences
from qa.types import ArticleInfo, Chunk, Hit

TEXT = (
    "Rebels took the city of Homs on Saturday. "
    "Residents celebrated in the streets. "
    "Who will rule now? "
    "People celebrate in the square.(AFP)"
)
OTHER = "Jordan closed a border crossing with Syria on Friday."


def _hits() -> tuple[list[Hit], dict[str, str]]:
    spans = tuple(split_sentences(TEXT))
    chunk = Chunk("a-0000", "a", 0, spans[0].start, spans[-1].end, TEXT, spans)
    other = Chunk("b-0003", "b", 3, 0, len(OTHER), OTHER, tuple(split_sentences(OTHER)))
    hits = [
        Hit(chunk, ArticleInfo("a", "a.txt", "Rebels take Homs", "2024-12-08", 1), 1 / 61 + 1 / 62, 1, 2),
        Hit(other, ArticleInfo("b", "b.txt", "Border news", "2024-12-01", 4), 1 / 62, 2, None),
    ]
    return hits, {"a": TEXT, "b": OTHER}


def _found(question: str):
    hits, texts = _hits()
    asked = Question.parse(question)

    def vectors(where):
        # the first sentence of each chunk points along the question; the rest are orthogonal
        return np.array([[1.0, 0.0] if i == 0 else [0.0, 1.0] for _, i, _ in where])

    return asked, candidates(
        asked, hits, texts, idf=lambda w: 2.0 if w == "homs" else 1.0,
        question_vectors=np.array([[1.0, 0.0], [0.6, 0.8]]), sentence_vectors=vectors,
    )  # fmt: skip


def test_every_sentence_is_a_candidate_with_every_feature() -> None:
    _, found = _found("Which city did the rebels take?")
    assert [c.text for c in found] == [
        "Rebels took the city of Homs on Saturday.",
        "Residents celebrated in the streets.",
        "Who will rule now?",
        "People celebrate in the square.(AFP)",
        OTHER,
    ]
    assert all(set(c.features) == set(FEATURES) for c in found)


def test_features_by_hand() -> None:
    asked, found = _found("Which city did the rebels take?")
    first, second, question, caption, other = found
    assert asked.terms == ("city", "rebels", "take")  # each of IDF 1
    assert first.features["lex"] == 1.0  # city, rebels (Rebels), take (took)
    assert second.features["lex"] == 0.0
    assert first.features["lex_near"] == 1.0 and second.features["lex_near"] == 1.0  # the neighbour counts
    assert first.features["matched_idf"] == pytest.approx(math.log1p(3.0))
    assert first.features["kind_new"] == 1.0 and second.features["kind_missing"] == 1.0  # "Homs" is a new name
    assert first.features["lead"] == 1.0 and other.features["lead"] == 0.0
    assert first.features["in_title"] == 1.0  # "Homs" is in "Rebels take Homs"
    assert question.features["is_question"] == 1.0 and first.features["is_question"] == 0.0
    assert caption.features["aside"] == 1.0 and first.features["aside"] == 0.0
    assert first.features["dense"] == 1.0 and second.features["dense"] == 0.0
    assert first.features["dense_focus"] == pytest.approx(0.6)
    assert first.features["dense_rank"] == pytest.approx(math.log1p(1))
    assert other.features["keyword_rank"] == pytest.approx(math.log1p(100))  # not found by BM25
    assert first.features["age"] == 0.0 and other.features["age"] == pytest.approx(math.log1p(7))
    assert first.features["article_hits"] == pytest.approx(math.log1p(1))


def test_a_time_question_wants_a_date() -> None:
    _, found = _found("When did the rebels take Homs?")
    first, *_, other = found
    assert first.features["kind_new"] == 1.0  # "Saturday"
    assert other.features["kind_new"] == 1.0  # "Friday"


def test_coverage_weighs_rare_words_more() -> None:
    assert _coverage(["rebels", "prison"], {"rebels": 1.0, "prison": 3.0}, ["prisons"]) == 0.75
    assert _coverage([], {}, ["x"]) == 0.0


def test_model_probability_by_hand() -> None:
    model = Model(("a", "b"), (1.0, 0.0), (2.0, 1.0), (1.0, -1.0), 0.5)
    # z = (3 - 1) / 2 * 1 + (2 - 0) / 1 * -1 + 0.5 = -0.5
    [p] = model.probability([{"a": 3.0, "b": 2.0}])
    assert p == pytest.approx(1 / (1 + math.exp(0.5)))
    assert Model.from_dict(model.to_dict()) == model
    assert len(model.probability([])) == 0


def test_ranker_sorts_by_score() -> None:
    _, found = _found("Which city did the rebels take?")
    model = Model(("lex",), (0.0,), (1.0,), (3.0,), -1.0)
    ranked = Ranker(model, 0.5, {}, {}).rank(found)
    assert ranked[0].text.startswith("Rebels took") and ranked[0].score == pytest.approx(1 / (1 + math.exp(-2)))
    assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)


def test_the_packaged_ranker_is_complete() -> None:
    ranker = Ranker.load()
    assert set(ranker.model.features) <= set(FEATURES)
    assert 0.0 < ranker.threshold < 1.0
    assert ranker.about["fitted_on"] and all(v.startswith("fit split") for v in ranker.about["fitted_on"].values())
    assert not ranker.short or 0.0 < ranker.short["threshold"] <= 1.0
