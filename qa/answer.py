"""Question -> the article sentence that answers it, cited, or a plain "the articles don't say".

Grounding is a property of the pipeline, not of the model:

1. **Retrieve** the best chunks by hybrid search; every sentence in them is a candidate.
2. **Rank** the candidates with a score fitted on real news questions (:mod:`qa.rank`): the
   probability that the sentence holds the answer. Nothing in it names a story.
3. **Decline** when the best probability is below the threshold (``answer_threshold``, by
   default the one fitted for a stated answered-precision); the reason says what was
   missing, and the closest sentence is shown as such, not as an answer.
4. **Answer** with that sentence, copied and cited to its exact span (with the sentence
   before it when it opens by pointing back: "It", "They", "This"...).
5. **Short answer.** Where the answer is confident enough that a short answer is right
   often enough (precision 0.85 measured on held-out questions), the language model picks
   which of the sentence's possible answers (its names, numbers or dates of the kind asked
   for) the question wants, by its likelihood after the question, and it is shown in bold
   above the sentence. Below that confidence the model is not called.

With a chat model (``generative`` mode) the model writes one or two sentences from the
three best candidates, each ending in ``[n]``; every sentence is checked against what it
cites (:func:`qa.cite.support`), unsupported ones are dropped, and if none is left the best
candidate is the answer, copied.

A sentence that reads like an instruction to a machine (marked at ingest: ``Chunk.instructions``)
is evidence like any other: it can be the answer, copied and cited, and the citation says how
it reads. It is never put in a prompt: no short answer is asked of the model for it, and a
chat model is given the other candidates (or, when it is the best, none: it is quoted).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Sequence

import numpy as np

from qa import prompts
from qa.cite import parse_cited, support
from qa.embed import sentence_vectors
from qa.errors import ModelError
from qa.llm import LLM, chat_prompt
from qa.question import AnswerSpan, Question, answer_spans
from qa.rank import Candidate, Ranker, candidates
from qa.retrieve import Filters, hybrid_search
from qa.store import Store
from qa.types import Answer, Citation, Hit, Span
from qa.words import STOPWORDS, fold, same_word, tokens

# Candidate passages shown to a chat model.
READ_PASSAGES = 3
# Tokens kept free beyond the prompt and the answer (BOS, template tokens).
CONTEXT_MARGIN = 8
# A passage cut shorter than this is dropped rather than kept as a fragment.
MIN_PASSAGE_TOKENS = 12
# Share of the context window a question may take before it is shortened.
QUESTION_SHARE = 0.25
# A sentence opening like this leans on the one before it, which joins the answer.
_POINTS_BACK = re.compile(
    r"^[\"'\u201c]?(?:It|Its|They|Their|Them|He|His|She|Her|This|These|That|Those|The two|Both)\b"
)
_FOLLOW_UP = frozenset("it its they them their he him his she her this that these those there then".split())
_KIND_WORDS = {"number": "a number", "time": "a date or time", "name": "a name"}


def with_context(question: str, history: Sequence[str]) -> str:
    """Make a follow-up question stand alone by adding the previous question's content words.

    Only a question that leans on an earlier one (it says "they", "it", "there"... and names
    nothing itself) is changed; the articles still answer it, never the conversation.

    Example: ``with_context("Why did they close it?", ["Which bridge did the council shut?"])``
    gives ``"Why did they close it? (bridge council shut)"``
    """
    if not history:
        return question
    words = tokens(question)
    names = [w for w in words[1:] if w[0].isupper()]
    if not any(w.lower() in _FOLLOW_UP for w in words) or names:
        return question
    previous = [w for w in tokens(history[-1]) if w.lower() not in STOPWORDS and w.lower() not in _ASKING_WORDS]
    extra = list(dict.fromkeys(w for w in previous if not any(same_word(w, x) for x in words)))
    return f"{question} ({' '.join(extra)})" if extra else question


_ASKING_WORDS = frozenset("who whom whose what which when where why how many much".split())


class Answerer:
    """Answers questions from a store: ranks candidate sentences, declines below the threshold."""

    def __init__(self, *, store: Store, embedder, llm: LLM | None, settings, ranker: Ranker | None = None):
        self.store = store
        self.embedder = embedder
        self.llm = llm
        self.settings = settings
        self.ranker = ranker or Ranker.load()
        self.threshold = settings.answer_threshold if settings.answer_threshold is not None else self.ranker.threshold
        mode = settings.answer_mode
        if mode == "auto":
            mode = "generative" if llm is not None and llm.chat_template else "extractive"
        self.mode = mode

    # --- public ----------------------------------------------------------------------------

    def answer(self, question: str, *, filters: Filters | None = None, history: Sequence[str] = ()) -> Answer:
        """The checked answer, computed in one go."""
        *_, result = self.stream(question, filters=filters, history=history)
        assert isinstance(result, Answer)
        return result

    def stream(
        self, question: str, *, filters: Filters | None = None, history: Sequence[str] = ()
    ) -> Iterator[str | Answer]:
        """Yield a chat model's partial output as it comes (generative mode only), then the
        checked :class:`Answer`.

        ``history`` holds the conversation's earlier questions, used only to make a
        follow-up question stand alone (:func:`with_context`).
        """
        timings: dict[str, float] = {}
        start = time.perf_counter()
        note = None
        standalone = with_context(question, history)
        if standalone != question:
            note = f"Read as a follow-up: {standalone}"
            question = standalone
        budget = int(self.settings.n_ctx * QUESTION_SHARE)
        if self.llm is not None and self.llm.count_tokens(question) > budget:
            question = _trim_to_tokens(self.llm, question, budget)
            note = f"The question was too long and was shortened to its first {budget} tokens."
        asked = Question.parse(question)
        ranked, hits = self.rank(asked, filters=filters or Filters())
        timings["retrieval"] = time.perf_counter() - start
        best = ranked[0] if ranked else None
        if best is None or best.score < self.threshold:
            timings["total"] = time.perf_counter() - start
            yield self._decline(asked, hits, ranked, timings, note)
            return
        if self.mode == "generative" and not _instruction(best):  # such a best sentence is quoted, not prompted
            passages = [c for c in ranked if not _instruction(c)][:READ_PASSAGES]
            result = yield from self._generate(asked, passages, hits, timings, note)
            if result is not None:
                timings["total"] = time.perf_counter() - start
                yield result
                return
        short = self._short_answer(asked, best, timings)
        answer = self._extractive(asked, best, hits, timings, note, short)
        timings["total"] = time.perf_counter() - start
        yield answer

    def rank(self, asked: Question, *, filters: Filters) -> tuple[list[Candidate], list[Hit]]:
        """The candidate sentences for a question, best first, and the chunks they came from."""
        found, hits = self.candidates(asked, filters=filters)
        return self.ranker.rank(found), hits

    def candidates(self, asked: Question, *, filters: Filters) -> tuple[list[Candidate], list[Hit]]:
        """The candidate sentences for a question with their features, not yet scored."""
        vectors = self.embedder.embed([asked.text, asked.focus])
        with self.store.catalog.snapshot():  # an article removed meanwhile is gone from every read, or from none
            return self._candidates(asked, filters, vectors)

    def _candidates(self, asked: Question, filters: Filters, vectors: np.ndarray) -> tuple[list[Candidate], list[Hit]]:
        hits = hybrid_search(
            asked.text,
            store=self.store,
            embedder=self.embedder,
            k=self.settings.answer_chunks,
            candidates=self.settings.candidates,
            per_article=self.settings.candidates_per_article,
            rrf_k=self.settings.rrf_k,
            filters=filters,
            vector=vectors[0],
        )
        texts = self.store.catalog.texts({h.article.id for h in hits})
        total, frequency = self.store.catalog.term_frequencies({*asked.terms, *asked.focus_terms})
        found = candidates(
            asked,
            hits,
            texts,
            idf=lambda term: math.log(1 + (total - frequency[term] + 0.5) / (frequency[term] + 0.5)),
            question_vectors=vectors,
            sentence_vectors=lambda where: self._sentence_vectors(hits, texts, where),
        )
        return found, hits

    # --- features that need the store ----------------------------------------------------------

    def _sentence_vectors(
        self, hits: Sequence[Hit], texts: dict[str, str], sentences: Sequence[tuple[int, int, str]]
    ) -> np.ndarray:
        """Embeddings of ``(hit index, sentence index, text)``, as stored at ingest (or embedded
        now for an older store: :func:`qa.embed.sentence_vectors`)."""
        stored = sentence_vectors(self.embedder, self.store.catalog, [h.chunk for h in hits], texts)
        return np.array([stored[hits[h].chunk.id][s] for h, s, _ in sentences], dtype=np.float32).reshape(
            len(sentences), -1
        )

    # --- answers ---------------------------------------------------------------------------------

    def _extractive(self, asked, best: Candidate, hits, timings, note, short: str | None) -> Answer:
        spans = answer_sentences(best, asked, best.article_text)
        citations = tuple(
            Citation.at(i, best.hit.article, span, text=best.article_text, chunk=best.hit.chunk)
            for i, span in enumerate(spans, start=1)
        )
        body = " ".join(f"{c.sentence} [{c.number}]" for c in citations)
        return Answer(asked.text, body, True, "extractive", citations, tuple(hits), timings, short, note,
                      confidence=best.score)  # fmt: skip

    def _short_answer(self, asked: Question, best: Candidate, timings: dict) -> str | None:
        """The short answer to show, or None: below the fitted confidence the model is not called."""
        threshold = self.ranker.short.get("threshold")
        if threshold is None or best.score < threshold:
            return None
        start = time.perf_counter()
        picked = self.short_answer(asked, best)
        timings["prompt"] = time.perf_counter() - start
        if picked is None or best.score * picked[1] < threshold:
            return None
        return picked[0]

    def short_answer(self, asked: Question, best: Candidate) -> tuple[str, float] | None:
        """The span of ``best`` that the model finds likeliest to answer ``asked``, with its
        share of the model's probability (against the other spans and "unknown").

        None without a model, without a span of the kind asked for, for a sentence that reads
        like an instruction to a machine, or when the model's server gives no log-probabilities.
        """
        options = [s for s in best.spans if s.kind == asked.span_kind] if asked.span_kind else []
        if self.llm is None or not options or _instruction(best):
            return None
        prompt = prompts.SHORT_PREFIX + prompts.SHORT_QUESTION.format(
            question=" ".join(asked.focus.split()), passage=prompts.fence(best.text)
        )
        try:
            logprobs = self.llm.option_logprobs(
                prompt, [s.text for s in options] + [prompts.UNKNOWN], cached=prompts.SHORT_PREFIX
            )
        except ModelError:
            return None
        chosen, share = choose_span(options, logprobs)
        return (chosen.text, share) if chosen is not None else None

    def _decline(self, asked: Question, hits: list[Hit], ranked: list[Candidate], timings, note) -> Answer:
        typed = {t.lower(): t for t in tokens(asked.text)}  # as the user wrote it: "NATO", not "nato"
        unknown = [t for t in asked.topic_words if not self.store.catalog.mentions(typed.get(t, t))]
        reason = decline_reason(asked, ranked, self.threshold, unknown=unknown)
        best = ranked[0] if ranked else None
        closest = None
        if best is not None:
            closest = Citation.at(1, best.hit.article, best.span, text=best.article_text, chunk=best.hit.chunk)
        return Answer(asked.text, f"{prompts.DECLINE} {reason}".strip(), False, "declined", (), tuple(hits), timings,
                      None, note, confidence=best.score if best else None, closest=closest)  # fmt: skip

    # --- a chat model writes the answer ----------------------------------------------------------

    def _generate(self, asked: Question, chosen: list[Candidate], hits, timings, note) -> Iterator:
        """Stream a chat model's answer from the best candidates; return the checked
        :class:`Answer`, or None to fall back to the extractive answer."""
        assert self.llm is not None
        template = self.llm.chat_template

        def build(texts: list[str]) -> str:
            user = prompts.ANSWER_USER.format(passages=prompts.number_passages(texts), question=asked.text)
            messages = [{"role": "system", "content": prompts.ANSWER_SYSTEM}, {"role": "user", "content": user}]
            return chat_prompt(template, messages) if template else f"{prompts.ANSWER_SYSTEM}\n\n{user}\nAnswer:"

        limit = self.settings.max_answer_tokens
        texts, prompt = self._fit([prompts.fence(c.text) for c in chosen], build, limit)
        if prompt is None:
            return None
        output = yield from self._run(prompt, answer_grammar(len(texts)), timings, max_tokens=limit)
        output = output.strip()
        if output == prompts.NOT_IN_ARTICLES:
            text = f"{prompts.DECLINE} The model found no answer in the retrieved passages."
            return Answer(asked.text, text, False, "declined", (), tuple(hits), timings, None, note,
                          confidence=chosen[0].score)  # fmt: skip
        check = time.perf_counter()
        kept = []
        for sentence, numbers in parse_cited(output):
            valid = [n for n in numbers if 1 <= n <= len(texts)]
            if valid and support(sentence, " ".join(chosen[n - 1].text for n in valid)).supported:
                kept.append((sentence, valid))
        timings["checking"] = time.perf_counter() - check
        if not kept:
            return None
        return self._generated_answer(asked, kept, chosen, hits, timings, note)

    def _generated_answer(self, asked, kept, chosen, hits, timings, note) -> Answer:
        numbering: dict[int, int] = {}
        citations: list[Citation] = []
        parts = []
        for sentence, numbers in kept:
            marks = []
            for n in numbers:
                if n not in numbering:
                    numbering[n] = len(numbering) + 1
                    c = chosen[n - 1]
                    citations.append(
                        Citation.at(numbering[n], c.hit.article, c.span, text=c.article_text, chunk=c.hit.chunk)
                    )
                marks.append(f"[{numbering[n]}]")
            parts.append(f"{sentence} {''.join(marks)}")
        return Answer(asked.text, " ".join(parts), True, "generated", tuple(citations), tuple(hits), timings, None,
                      note, confidence=chosen[0].score)  # fmt: skip

    def _fit(self, texts: list[str], build, max_tokens: int) -> tuple[list[str], str | None]:
        """Fit the prompt into the context window: drop the weakest passages, then cut the
        last one by tokens (never by characters). ``(texts, None)`` if nothing fits."""
        assert self.llm is not None
        budget = self.llm.n_ctx - max_tokens - CONTEXT_MARGIN
        kept = list(texts)
        while kept:
            prompt = build(kept)
            over = self.llm.count_tokens(prompt) - budget
            if over <= 0:
                return kept, prompt
            room = self.llm.count_tokens(kept[-1]) - over
            if room >= MIN_PASSAGE_TOKENS:
                kept[-1] = _trim_to_tokens(self.llm, kept[-1], room)
            else:
                kept.pop()
        return [], None

    def _run(self, prompt: str, grammar: str, timings: dict, *, max_tokens: int) -> Iterator[str]:
        """Stream one model call, timing prompt evaluation (to the first token) and generation."""
        assert self.llm is not None
        start = time.perf_counter()
        first = None
        parts = []
        for part in self.llm.complete(prompt, max_tokens=max_tokens, stop=["\n"], grammar=grammar):
            if first is None:
                first = time.perf_counter()
            parts.append(part)
            yield "".join(parts)
        end = time.perf_counter()
        timings["prompt"] = (first or end) - start
        timings["generation"] = end - (first or end)
        return "".join(parts)


def _instruction(candidate: Candidate) -> bool:
    """Whether a candidate sentence reads like an instruction to a machine (marked at ingest):
    it may be quoted and cited as text, but no model is given it to read."""
    return candidate.span in candidate.hit.chunk.instructions


def choose_span(options: Sequence[AnswerSpan], logprobs: Sequence[float]) -> tuple[AnswerSpan | None, float]:
    """The option the model finds likeliest and its share of the probability, counting
    "unknown" (the last log-probability) among the choices.

    Example: ``choose_span([a, b], [-1.0, -3.0, -2.0])`` gives ``(a, 0.67)``
    """
    values = np.array(logprobs, dtype=np.float64)
    shares = np.exp(values - values.max())
    shares /= shares.sum()
    best = int(np.argmax(shares[:-1])) if len(options) else -1
    if best < 0:
        return None, 0.0
    return options[best], float(shares[best])


def decline_reason(
    asked: Question, ranked: Sequence[Candidate], threshold: float, *, unknown: Sequence[str] = ()
) -> str:
    """Why no sentence answers, in words a reader can check. Each reason holds for every
    passage found (not only the closest one), or for the whole collection.

    Args:
        ranked: the candidate sentences, best first.
        unknown: the question's words that no stored article contains.
    """
    if not ranked:
        return "Nothing relevant was found."
    if unknown:
        return f"No article mentions: {', '.join(unknown[:4])}."
    if asked.span_kind and not any(s.kind == asked.span_kind for c in ranked for s in c.spans):
        return f"None of the passages found gives {_KIND_WORDS[asked.span_kind]}."
    seen = {fold(w) for c in ranked for w in tokens(c.text)}
    missing = [t for t in asked.topic_words if not any(same_word(fold(t), w) for w in seen)]
    if missing:
        return f"None of the passages found mentions: {', '.join(missing[:4])}."
    best = ranked[0]
    return f"No passage answers it closely enough (the best scored {best.score:.2f}; answers need {threshold:.2f})."


def answer_sentences(best: Candidate, asked: Question, text: str) -> list[Span]:
    """The answer's spans: the best sentence; before it, the sentence it points back to when
    it opens with "It", "They", "This"...; after it, the next sentence when that one points
    back and holds the kind of fact asked for, which the best one lacks or only counts
    ("Which bridges closed?": "Two bridges closed on Friday." + "These bridges were ...").
    """
    sentences = best.hit.chunk.sentences
    i = sentences.index(best.span)
    spans = [best.span]
    if i > 0 and _POINTS_BACK.match(best.text):
        spans.insert(0, sentences[i - 1])
    if asked.span_kind and i + 1 < len(sentences):
        counted = asked.head and re.search(rf"\b\w+\s+{re.escape(asked.head)}\b", best.text, re.I) is not None
        counted = counted and any(s.kind == "number" for s in best.spans)
        if best.features.get("kind_missing") or counted:
            following = " ".join(sentences[i + 1].of(text).split())
            kinds = {s.kind for s in answer_spans(following, asked)}
            if _POINTS_BACK.match(following) and asked.span_kind in kinds:
                spans.append(sentences[i + 1])
    return spans


def _trim_to_tokens(llm: LLM, text: str, budget: int) -> str:
    """The longest word prefix of ``text`` that fits ``budget`` tokens (binary search)."""
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if llm.count_tokens(" ".join(words[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def answer_grammar(passages: int) -> str:
    """A GBNF grammar for generated answers: one to three sentences, each ending in ``[n]``
    with ``n`` a passage that exists, or exactly ``NOT IN ARTICLES``."""
    numbers = " | ".join(f'"{n}"' for n in range(1, passages + 1))
    return (
        f'root ::= " "? ({_literal(prompts.NOT_IN_ARTICLES)} | sentence (" " sentence)? (" " sentence)?)\n'
        "sentence ::= text cite+\n"
        "text ::= [^\\[\\]\\n]+\n"
        f'cite ::= " "? "[" ({numbers}) "]" "."?\n'
    )
