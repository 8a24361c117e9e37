"""Fusion and query checks, worked out by hand."""

from __future__ import annotations

import pytest

from qa.catalog import keyword_query
from qa.errors import InputError
from qa.retrieve import Filters, best_sentence, check_query, rrf
from qa.types import Chunk, Span


def test_rrf_scores_by_hand() -> None:
    fused = dict(rrf([["a", "b", "c"], ["c", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert [d for d, _ in rrf([["a", "b", "c"], ["c", "a"]], k=60)] == ["a", "c", "b"]


def test_rrf_keeps_first_seen_order_on_ties() -> None:
    assert [d for d, _ in rrf([["x"], ["y"]], k=60)] == ["x", "y"]
    assert rrf([], k=60) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Who freed Sednaya prison?", '"freed" OR "sednaya" OR "prison"'),
        ('He said "NEAR" AND (x OR y)*', '"said" OR "near" OR "x" OR "y"'),
        ("the of and", None),
    ],
)
def test_keyword_query_is_safe_fts(text, expected) -> None:
    assert keyword_query(text) == expected


def test_check_query() -> None:
    assert check_query("  Who   fled? ", max_chars=50) == "Who fled?"
    for bad, words in [("", "empty"), ("\x00", "control"), ("y" * 51, "limit is 50")]:
        with pytest.raises(InputError, match=words):
            check_query(bad, max_chars=50)


def test_filters_validate_dates() -> None:
    assert Filters.build(date_from="2024-12-08T10:00:00Z").date_from == "2024-12-08"
    with pytest.raises(InputError):
        Filters.build(date_to="soon")


def test_best_sentence_prefers_shared_words() -> None:
    text = "Rebels advanced. They freed the prison at Sednaya. Crowds cheered."
    chunk = Chunk("a-0000", "a", 0, 0, len(text), text, (Span(0, 16), Span(17, 50), Span(51, 66)))
    assert best_sentence("Sednaya prisons", chunk, text) == Span(17, 50)
    assert best_sentence("weather", chunk, text) == Span(0, 16)
