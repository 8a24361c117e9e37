"""Fusion and query checks, worked out by hand."""

from __future__ import annotations

import pytest

from qa.catalog import keyword_query
from qa.errors import InputError
from qa.retrieve import Filters, best_sentence, check_query, dense_candidates, rrf
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
        ("Who freed Sednaya prison?", '"free" OR "sednaya" OR "prison"'),
        ("Which children's charities took the money?", '"child" OR "charity" OR "take" OR "money"'),
        ("How were the U.S. buildings well-armed?", '"us" OR "build" OR "well" OR "arm"'),
        ('He said "NEAR" AND (x OR y)*', '"near" OR "x"'),
        ("the of and was", None),
    ],
)
def test_keyword_query_is_safe_fts(text, expected) -> None:
    assert keyword_query(text) == expected


def test_check_query() -> None:
    assert check_query("  Who   fled? ", max_chars=50) == "Who fled?"
    assert check_query("Who f\u200dled \u2066Aleppo\u2069?\U000e0041", max_chars=50) == "Who fled Aleppo?"
    for bad, words in [("", "empty"), ("\x00", "control"), ("y" * 51, "limit is 50")]:
        with pytest.raises(InputError, match=words):
            check_query(bad, max_chars=50)


def test_filters_validate_dates() -> None:
    assert Filters.build(date_from="2024-12-08T10:00:00Z").date_from == "2024-12-08"
    assert Filters.build(date_to="2024-12-08 10:00").date_to == "2024-12-08"
    for bad in ("soon", "2024-12-08garbage", "2024-12-08 and later", "2024-02-30"):
        with pytest.raises(InputError, match="is not an ISO date"):
            Filters.build(date_to=bad)


class NearestFirst:
    """A store whose dense search returns fixed (chunk id, distance) pairs, as Chroma would."""

    def __init__(self, pairs: list[tuple[str, float]]):
        self.pairs = sorted(pairs, key=lambda p: p[1])
        self.queries = 0

    def dense_search(self, vector, *, limit, exclude_articles=(), **where):
        self.queries += 1
        return [p for p in self.pairs if p[0].rsplit("-", 1)[0] not in exclude_articles][:limit]


def test_one_article_takes_at_most_its_share_of_dense_candidates() -> None:
    crowd = [(f"spam-{i:04d}", 0.10 + i / 10_000) for i in range(500)]  # nearer than anything else
    others = [(f"a{i}-0000", 0.30 + i / 100) for i in range(10)]
    store = NearestFirst(crowd + others)
    found = dense_candidates(store, None, limit=12, per_article=3)
    assert found == ["spam-0000", "spam-0001", "spam-0002"] + [f"a{i}-0000" for i in range(9)]
    assert store.queries == 2
    assert dense_candidates(store, None, limit=12, per_article=0) == [f"spam-{i:04d}" for i in range(12)]


def test_places_no_other_article_can_fill_go_to_the_crowding_one() -> None:
    store = NearestFirst([(f"a-{i:04d}", i / 100) for i in range(6)] + [("b-0000", 0.035), ("b-0001", 0.9)])
    found = dense_candidates(store, None, limit=6, per_article=2)
    assert found == ["a-0000", "a-0001", "a-0002", "a-0003", "b-0000", "b-0001"]  # b-0001 in, before a-0004


def test_articles_within_their_share_cost_one_query() -> None:
    store = NearestFirst([(f"a{i % 4}-{i:04d}", i / 100) for i in range(40)])
    assert dense_candidates(store, None, limit=8, per_article=3) == [f"a{i % 4}-{i:04d}" for i in range(8)]
    assert store.queries == 1


def test_best_sentence_prefers_shared_words() -> None:
    text = "Rebels advanced. They freed the prison at Sednaya. Crowds cheered."
    chunk = Chunk("a-0000", "a", 0, 0, len(text), text, (Span(0, 16), Span(17, 50), Span(51, 66)))
    assert best_sentence("Sednaya prisons", chunk, text) == Span(17, 50)
    assert best_sentence("weather", chunk, text) == Span(0, 16)
