"""Hybrid retrieval: dense (Chroma) and keyword (BM25) rankings fused by reciprocal rank."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from qa.embed import Embedder
from qa.errors import InputError
from qa.ingest import normalise_date
from qa.store import Store
from qa.text import clean
from qa.types import Chunk, Hit, Span
from qa.words import lemmas

# Dense queries one search may make when articles crowd the candidates (see dense_candidates).
MAX_DENSE_QUERIES = 4


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to some articles and/or a date range (inclusive, ``YYYY-MM-DD``)."""

    article_ids: tuple[str, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None

    @classmethod
    def build(
        cls,
        *,
        article_ids: Sequence[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> Filters:
        """Validate user-given filters; a bad date is an :class:`InputError`."""
        start = _filter_date(date_from) if date_from else None
        end = _filter_date(date_to) if date_to else None
        if start and end and start > end:
            raise InputError(f"the date range is empty: {start} is after {end}")
        return cls(tuple(article_ids) if article_ids else None, start, end)


def _filter_date(value: str) -> str:
    """A whole ISO date or date-time, nothing after it, as ``YYYY-MM-DD``; else :class:`InputError`.

    Example: ``_filter_date("2024-12-08T10:00:00Z") == "2024-12-08"``
    """
    try:
        datetime.fromisoformat(value.strip().replace("Z", "+00:00"))  # Python 3.10 does not read "Z"
    except ValueError:
        raise InputError(
            f"date {value!r} is not an ISO date (YYYY-MM-DD, or a date-time such as 2024-12-08T10:00)"
        ) from None
    return normalise_date(value)


def check_query(text: str, *, max_chars: int) -> str:
    """Return the query trimmed and without format characters (zero-width, bidi: they are
    never in the stored text either), or raise :class:`InputError` for one that cannot be asked.

    Example: ``check_query("  Who\u200b? ", max_chars=100) == "Who?"``
    """
    if not isinstance(text, str):
        raise InputError("the question must be text")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text):
        raise InputError("the question contains control characters (such as NUL); remove them")
    text = " ".join(clean(text).split())  # format characters gone, as from the stored text
    if not text:
        raise InputError("the question is empty")
    if len(text) > max_chars:
        raise InputError(f"the question is {len(text):,} characters long; the limit is {max_chars:,}")
    return text


def rrf(rankings: Sequence[Sequence[str]], *, k: int) -> list[tuple[str, float]]:
    """Fuse ranked lists by reciprocal rank: score(d) = sum over lists of 1 / (k + rank).

    Ties keep the order in which items were first seen.

    Example: ``[d for d, _ in rrf([["a", "b"], ["b", "c"]], k=60)] == ["b", "a", "c"]``
    """
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def best_sentence(query: str, chunk: Chunk, text: str) -> Span:
    """The sentence of ``chunk`` that shares the most content words with ``query``.

    Ties go to the earlier sentence; with no shared word, the chunk's first sentence.

    Example: ``best_sentence("bridge", chunk, text)`` is the chunk's sentence naming a bridge.
    """
    wanted = lemmas(query)
    best, best_score = chunk.sentences[0], 0
    for span in chunk.sentences:
        words = lemmas(span.of(text))
        score = len(wanted & words)
        if score > best_score:
            best, best_score = span, score
    return best


def dense_candidates(store: Store, vector: np.ndarray, *, limit: int, per_article: int, **where) -> list[str]:
    """The ``limit`` chunk ids nearest to ``vector``, at most ``per_article`` from one article
    while other articles have candidates to give (0: no limit).

    When one article fills more than its share, Chroma is asked again without it (its best
    chunks are already in hand), until no article is over its share. The places go to each
    article's share first, nearest first, and to further chunks only when no other article
    has one to give; the chosen are ranked by distance. An article of many similar chunks
    thus costs the others one more query, not their places, and a store of few articles
    keeps its candidates and their order.
    """
    found: dict[str, float] = {}
    excluded: list[str] = []
    for _ in range(MAX_DENSE_QUERIES):
        nearest = store.dense_search(vector, limit=limit, exclude_articles=excluded, **where)
        found.update(nearest)
        counts = Counter(article_of(chunk_id) for chunk_id, _ in nearest)
        crowding = [a for a, n in counts.items() if per_article and n > per_article]
        if not crowding:
            break
        excluded += crowding
    nearest_first = sorted(found, key=found.__getitem__)
    taken: Counter[str] = Counter()
    share, beyond = [], []
    for chunk_id in nearest_first:
        article = article_of(chunk_id)
        taken[article] += 1
        (share if not per_article or taken[article] <= per_article else beyond).append(chunk_id)
    chosen = set((share + beyond)[:limit])
    return [chunk_id for chunk_id in nearest_first if chunk_id in chosen]


def article_of(chunk_id: str) -> str:
    """The article id in a chunk id (``<article id>-<chunk number>``).

    Example: ``article_of("b86f2fd307c470ee-0003") == "b86f2fd307c470ee"``
    """
    return chunk_id.rsplit("-", 1)[0]


def hybrid_search(
    query: str,
    *,
    store: Store,
    embedder: Embedder,
    k: int,
    candidates: int,
    rrf_k: int,
    filters: Filters | None = None,
    vector: np.ndarray | None = None,
    per_article: int = 0,
) -> list[Hit]:
    """The ``k`` best chunks for ``query`` from both retrievers, fused; best first.

    ``vector`` is the query's embedding when the caller has it already; ``per_article`` is
    the most dense candidates one article may take (0: no limit; no limit either when the
    filters name the articles to search).
    """
    filters = filters or Filters()
    where = {"article_ids": filters.article_ids, "date_from": filters.date_from, "date_to": filters.date_to}
    vector = embedder.embed([query])[0] if vector is None else vector
    per_article = 0 if filters.article_ids else per_article
    dense = dense_candidates(store, vector, limit=candidates, per_article=per_article, **where)
    keyword = store.catalog.keyword_search(query, limit=candidates, **where)
    fused = rrf([dense, keyword], k=rrf_k)
    chunks = store.catalog.chunks([chunk_id for chunk_id, _ in fused])
    infos = store.catalog.info(c.article_id for c in chunks.values())
    dense_rank = {cid: i for i, cid in enumerate(dense, start=1)}
    keyword_rank = {cid: i for i, cid in enumerate(keyword, start=1)}
    kept = []
    for chunk_id, score in fused:
        chunk = chunks.get(chunk_id)
        if chunk is None or chunk.article_id not in infos:
            continue  # a vector whose article is being written or deleted
        kept.append((chunk, score))
        if len(kept) == k:
            break
    texts = store.catalog.texts({chunk.article_id for chunk, _ in kept})
    hits = []
    for chunk, score in kept:
        text = texts[chunk.article_id]
        sentence = best_sentence(query, chunk, text)
        hits.append(
            Hit(
                chunk,
                infos[chunk.article_id],
                score,
                dense_rank.get(chunk.id),
                keyword_rank.get(chunk.id),
                sentence,
                sentence.of(text),
            )
        )
    return hits
