"""Candidate answer sentences, their features, and the fitted score that ranks them.

Every sentence of the retrieved chunks is a candidate. Each gets a few generic features
(:data:`FEATURES`): how close it is to the question in the embedding space, how many of the
question's rarer words it has, whether it holds the kind of fact asked for, how its chunk
ranked in retrieval, where it stands in its article, how recent its article is. A logistic
model fitted on real news questions (``bench/fit_answer.py`` writes ``qa/ranker.json``)
turns them into the probability that the sentence holds the answer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path

import numpy as np

from qa.question import AnswerSpan, Question, answer_spans
from qa.text import is_aside
from qa.types import Hit, Span
from qa.words import STOPWORDS, lemma, same_word, tokens

RANKER_FILE = Path(__file__).with_name("ranker.json")
# Rank given to a chunk one retriever did not return at all.
ABSENT_RANK = 100

FEATURES = {
    "dense": "cosine of the sentence's and the question's embeddings",
    "lex": "share of the question's content words in the sentence, weighted by rarity (IDF)",
    "lex_focus": "the same for the clause that asks (after any scene-setting sentences)",
    "lex_near": "the same for the sentence with its neighbours in the chunk",
    "matched_idf": "log(1 + summed rarity of the question words the sentence has)",
    "kind_new": "the sentence has a span of the kind asked for (number, date, name) not in the question",
    "kind_missing": "the question asks for a kind of fact the sentence has none of",
    "names": "log(1 + capitalised name spans not in the question)",
    "numbers": "log(1 + number spans not in the question)",
    "times": "log(1 + date and time spans not in the question)",
    "dense_rank": "log(1 + rank of its chunk in dense retrieval)",
    "keyword_rank": "log(1 + rank of its chunk in BM25 retrieval)",
    "lead": "the article's first indexed sentence (its headline or lead)",
    "quote": "the sentence has quotation marks",
    "article_hits": "log(1 + retrieved chunks from the same article)",
    "in_title": "a span of the kind asked for is also in the article's title",
    "age": "log(1 + days between its article and the newest retrieved article; 0 when undated)",
    "is_question": "the sentence is itself a question",
    "aside": "a photo caption or cross-link rather than the story's prose",
    "dense_focus": "cosine of the sentence's and the asking clause's embeddings",
    "lex_title": "share of the question's content words in the article's title, weighted by rarity",
    "bigrams": "share of the question's word pairs that the sentence has too",
    "near": "how close the nearest span of the kind asked for stands to a word of the asking clause",
    "rrf": "the fused retrieval score of its chunk, x 60",
    "rank": "log(1 + rank of its chunk after fusion)",
    "early": "its chunk is one of the article's first two",
    "words": "log(number of words in the sentence)",
}


@dataclass
class Candidate:
    """A sentence that might answer, with its features and score."""

    hit: Hit
    span: Span
    text: str
    spans: list[AnswerSpan]
    article_text: str = field(repr=False)  # the whole stored text of its article, for citing
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0  # probability that the sentence holds the answer

    @property
    def article_id(self) -> str:
        return self.hit.article.id


def candidates(
    question: Question,
    hits: Sequence[Hit],
    texts: dict[str, str],
    *,
    idf: Callable[[str], float],
    question_vectors: np.ndarray,
    sentence_vectors: Callable[[list[tuple[int, int, str]]], np.ndarray],
) -> list[Candidate]:
    """Every sentence of ``hits`` (each once) as a :class:`Candidate` with its features.

    Args:
        texts: article id -> stored text.
        idf: a word's rarity weight in the store.
        question_vectors: the embeddings of the whole question and of its focus clause.
        sentence_vectors: embeddings of ``(hit index, sentence index in its chunk, text)``.
    """
    weights = {t: idf(t) for t in (*question.terms, *question.focus_terms)}
    pairs = _bigrams([lemma(t) for t in tokens(question.text)])
    newest = max((_day(h.article.date) for h in hits if h.article.date), default=None)
    per_article: dict[str, int] = {}
    for hit in hits:
        per_article[hit.article.id] = per_article.get(hit.article.id, 0) + 1
    found: list[Candidate] = []
    where: list[tuple[int, int, str]] = []
    seen: set[tuple[str, int]] = set()
    for rank, hit in enumerate(hits):
        text = texts[hit.article.id]
        sentences = [" ".join(s.of(text).split()) for s in hit.chunk.sentences]
        words = [_word_list(s) for s in sentences]
        ordered = [[lemma(t) for t in tokens(s)] for s in sentences]
        title = [lemma(t) for t in tokens(hit.article.title)]
        title_words = _word_list(hit.article.title)
        # An undated article is not taken for an old one: its age counts as none.
        age = newest - _day(hit.article.date) if newest is not None and hit.article.date else 0
        for i, (span, sentence) in enumerate(zip(hit.chunk.sentences, sentences, strict=True)):
            if (hit.article.id, span.start) in seen:
                continue
            seen.add((hit.article.id, span.start))
            around = words[i] + (words[i - 1] if i else []) + (words[i + 1] if i + 1 < len(words) else [])
            spans = answer_spans(sentence, question)
            kinds = {s.kind for s in spans}
            asked = [s for s in spans if s.kind == question.span_kind]
            lead = hit.chunk.index == 0 and i == 0
            features = {
                "lex": _coverage(question.terms, weights, words[i]),
                "lex_focus": _coverage(question.focus_terms, weights, words[i]),
                "lex_near": _coverage(question.terms, weights, around),
                "matched_idf": math.log1p(sum(weights[t] for t in question.terms if _has(words[i], t))),
                "kind_new": float(bool(question.span_kind) and question.span_kind in kinds),
                "kind_missing": float(bool(question.span_kind) and question.span_kind not in kinds),
                "names": math.log1p(sum(s.kind == "name" for s in spans)),
                "numbers": math.log1p(sum(s.kind == "number" for s in spans)),
                "times": math.log1p(sum(s.kind == "time" for s in spans)),
                "dense_rank": math.log1p(hit.dense_rank or ABSENT_RANK),
                "keyword_rank": math.log1p(hit.keyword_rank or ABSENT_RANK),
                "lead": float(lead),
                "quote": float(any(q in sentence for q in '"\u201c\u201d')),
                "article_hits": math.log1p(per_article[hit.article.id]),
                "in_title": float(any(_within(s.key, title) for s in asked)),
                "age": math.log1p(max(0, age)),
                "is_question": float(sentence.rstrip("\"'\u201d\u2019 ").endswith("?")),
                "aside": float(is_aside(sentence, title=hit.article.title)),
                "lex_title": _coverage(question.terms, weights, title_words),
                "bigrams": len(pairs & _bigrams(ordered[i])) / len(pairs) if pairs else 0.0,
                "near": _nearness(ordered[i], asked, sentence, question.focus_terms),
                "rrf": hit.score * 60,
                "rank": math.log1p(rank + 1),
                "early": float(hit.chunk.index <= 1),
                "words": math.log(max(1, len(sentence.split()))),
            }
            found.append(Candidate(hit, span, sentence, spans, text, features))
            where.append((rank, i, sentence))
    if found:
        similarity = sentence_vectors(where) @ np.asarray(question_vectors, dtype=np.float32).T
        for c, (whole, focus) in zip(found, similarity, strict=True):
            c.features["dense"] = float(whole)
            c.features["dense_focus"] = float(focus)
    return found


def _bigrams(words: Sequence[str]) -> set[tuple[str, str]]:
    return {(a, b) for a, b in zip(words, words[1:], strict=False) if a not in STOPWORDS or b not in STOPWORDS}


def _nearness(words: Sequence[str], spans: Sequence[AnswerSpan], sentence: str, terms: Sequence[str]) -> float:
    """1 / (1 + the fewest words between a span of the kind asked for and a word of the
    asking clause), counting in ``words`` (the sentence's lemmas); 0 with no such span or word."""
    wanted = {lemma(t) for t in terms}
    at = [i for i, w in enumerate(words) if w in wanted]
    if not spans or not at:
        return 0.0
    best = 0.0
    for span in spans:
        position = len(tokens(sentence[: span.start]))
        best = max(best, 1.0 / (1.0 + min(abs(position - i) for i in at)))
    return best


def _day(date: str) -> int:
    return Date.fromisoformat(date).toordinal()


def _has(words: Sequence[str], term: str) -> bool:
    return term in words or any(same_word(term, w) for w in words)


def _coverage(terms: Sequence[str], weights: dict[str, float], words: Sequence[str]) -> float:
    """Rarity-weighted share of ``terms`` found among ``words`` (as the same word, :func:`same_word`).

    Example: ``_coverage(["council", "bridge"], {"council": 1.0, "bridge": 3.0}, ["bridges"]) == 0.75``
    """
    total = sum(weights[t] for t in terms)
    return sum(weights[t] for t in terms if _has(words, t)) / total if total else 0.0


def _within(key: str, words: Sequence[str]) -> bool:
    return bool(key) and all(part in words for part in key.split())


def _word_list(text: str) -> list[str]:
    return list(dict.fromkeys(t.lower() for t in tokens(text) if t.lower() not in STOPWORDS))


@dataclass(frozen=True)
class Model:
    """A fitted logistic model: standardise the features, then a weighted sum and a sigmoid."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def probability(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        """P(holds the answer) for each feature row.

        Example: ``Model(("x",), (0.0,), (1.0,), (2.0,), 0.0).probability([{"x": 0.0}])`` is ``[0.5]``
        """
        if not rows:
            return np.zeros(0)
        x = np.array([[row[f] for f in self.features] for row in rows], dtype=np.float64)
        z = ((x - np.array(self.mean)) / np.array(self.scale)) @ np.array(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict) -> Model:
        return cls(tuple(d["features"]), tuple(d["mean"]), tuple(d["scale"]), tuple(d["coef"]), float(d["intercept"]))


@dataclass(frozen=True)
class Ranker:
    """The fitted sentence model, the answer threshold, and when a short answer is shown.

    ``short`` is ``{"min_score": ..., "threshold": ...}``: the model is asked for a short
    answer only when the sentence's score reaches ``min_score``, and the short answer is
    shown when score x the model's share for it reaches ``threshold``; empty when short
    answers are off. ``about`` records how and on what it was fitted.
    """

    model: Model
    threshold: float
    short: dict
    about: dict

    @classmethod
    def load(cls, path: Path = RANKER_FILE) -> Ranker:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(Model.from_dict(data["model"]), float(data["threshold"]), data.get("short") or {},
                   data.get("about", {}))  # fmt: skip

    def rank(self, found: list[Candidate]) -> list[Candidate]:
        """Score the candidates in place and return them best first (ties: retrieval order)."""
        for c, p in zip(found, self.model.probability([c.features for c in found]), strict=True):
            c.score = float(p)
        return sorted(found, key=lambda c: -c.score)
