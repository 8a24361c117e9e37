"""Question -> a grounded, cited answer, or a plain "the articles don't say".

The model is not trusted to stay grounded; the pipeline is built so that it cannot do harm:

1. **Retrieve** the best chunks (hybrid search) and split them into candidate sentences.
2. **Gate**: a candidate may answer only if every name in the question appears in its
   article, it carries the kind of fact asked for (a number for "how many", a time for
   "when", a name for "who", ...), and it covers enough of the question's content words
   (weighted by rarity). If no candidate passes, the answer is an honest refusal.
3. **Read**: the model sees the best candidates as numbered passages.
   - *extractive* (the default for a base model): a grammar built from the passages lets the
     model emit only a span copied from one passage, or "unknown". The cited passage's
     sentence is the answer; the span is its short answer.
   - *generative* (for a model with a chat template): the model writes one or two sentences,
     each ending with ``[n]``.
4. **Check** every answer sentence against its cited passages with :func:`qa.cite.support`.
   An unsupported sentence is dropped; if nothing survives, the best gated sentence is the
   answer instead, copied verbatim, or the answer is a refusal.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from qa import prompts
from qa.cite import STOPWORDS, parse_cited, support, tokens, words_match
from qa.llm import LLM, chat_prompt
from qa.retrieve import Filters, hybrid_search
from qa.store import Store
from qa.types import Answer, Citation, Hit, Span

# Share of the question's (rarity-weighted) content words a sentence must cover to answer it.
MIN_COVERAGE = 0.5
# Share a sentence must cover by itself, whatever the sentence before it adds.
MIN_OWN_COVERAGE = 0.3
# Most candidate passages shown to the model.
READ_PASSAGES = 3
# Tokens the model may spend copying a short answer.
EXTRACT_TOKENS = 48
# Tokens kept free beyond the prompt and the answer (BOS, template tokens).
CONTEXT_MARGIN = 8
# A passage cut shorter than this is dropped rather than kept as a fragment.
MIN_PASSAGE_TOKENS = 12
# Share of the context window a question may take before it is shortened.
QUESTION_SHARE = 0.25

_QUESTION_WORDS = frozenset(
    """who whom whose what which when where why how happen happened happens happening name named
    called kind sort type exactly specifically many much long look like mean means besides other except
    apart aside""".split()
)
_EXPECTED = [
    (re.compile(r"\bhow (many|much)\b|\bwhat (number|percentage|proportion|share|amount)\b"), "number"),
    (re.compile(r"\bhow (long|old)\b"), "duration"),
    (
        re.compile(
            r"^(since )?when\b|\b(what|which) (time|year|date|day|month|hour)\b|"
            r"\b(in|by|on|since|until) (what|which) (year|date|day|month)\b"
        ),
        "time",
    ),
    (re.compile(r"^(who|whom|whose)\b|\bby whom\b|^(to|from|with|for|under) whom\b"), "agent"),
    (re.compile(r"^where\b|\b(which|what) (city|country|town|village|place|region|province|state)\b"), "place"),
]
_MONTHS = "january february march april may june july august september october november december"
_TIME_WORDS = set(
    (
        _MONTHS + " monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow tonight"
        " morning afternoon evening night week weekend month year decade century ago earlier later dawn"
        " midnight noon hour hours"
    ).split()
)
_DURATION_WORDS = set(
    "second seconds minute minutes hour hours day days week weeks month months year years decade decades".split()
)
_AGENT_WORDS = set(
    """monitor official officials spokesman spokeswoman spokesperson minister president leader leaders
    group groups forces rebels fighters residents witnesses police army government journalist
    journalists analysts observatory agency ministry media committee council court prosecutors""".split()
)
_PLACE_WORDS = set(
    "location city capital country border outskirts square airport prison province region town village".split()
)
# Capitalised only because they open a sentence: not names.
_COMMON_OPENERS = STOPWORDS | set(
    """early late later earlier nearby meanwhile however but although though while despite after before
    during since until then now today yesterday residents witnesses police officials analysts rebels
    opposition government forces troops people many some most several few one two three four five
    as in on at by for from with without under over into calls reports sources""".split()
)
_ANAPHORA = re.compile(r"^(These|This|That|Those|They|It|He|She|His|Her|Their|Its|The two|Both)\b")
_NUMBER = re.compile(r"\d")
_EXCLUSION = re.compile(r"\b(?:besides|other than|apart from|aside from|except|except for)\s+([^,?]+)", re.I)
NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred thousand million"
).split()


@dataclass(frozen=True)
class Question:
    """What a question asks: the kind of fact, its names, and its content words."""

    text: str
    expected: str | None
    names: tuple[str, ...]
    terms: tuple[str, ...]
    head: str | None  # the noun after "which"/"what": counted only when a sentence has it
    excluded: tuple[str, ...] = ()  # "besides Lebanon": names the answer is not

    @classmethod
    def parse(cls, text: str) -> Question:
        lowered = text.lower().strip()
        expected = next((kind for pattern, kind in _EXPECTED if pattern.search(lowered)), None)
        excluded = tuple(tokens(m.group(1)) for m in _EXCLUSION.finditer(text))
        excluded_words = tuple(w for group in excluded for w in group)
        toks = [t for t in tokens(text) if t not in excluded_words]
        names = tuple(t for i, t in enumerate(toks) if i > 0 and t[0].isupper() and t.lower() not in _QUESTION_WORDS)
        head_match = re.search(r"\b(?:which|what)\s+(?:other\s+)?([a-z]+)", lowered)
        head = head_match.group(1) if head_match and head_match.group(1) not in STOPWORDS else None
        terms = tuple(
            dict.fromkeys(
                t
                for t in toks
                if t.lower() not in STOPWORDS and t.lower() not in _QUESTION_WORDS and t.lower() != "other"
            )
        )
        return cls(text, expected, names, terms, head, excluded_words)


@dataclass
class Candidate:
    """A sentence that might answer, with what the gate found."""

    hit: Hit
    span: Span
    text: str
    rank: int  # rank of its chunk in retrieval
    coverage: float = 0.0
    own_coverage: float = 0.0
    type_ok: bool = True
    names_ok: bool = True
    missing: list[str] = field(default_factory=list)

    @property
    def passes(self) -> bool:
        return (
            self.names_ok and self.type_ok and self.coverage >= MIN_COVERAGE and self.own_coverage >= MIN_OWN_COVERAGE
        )

    focus: float = 0.0  # share of the sentence's own words that the question also uses
    excluded: bool = False  # names something the question rules out ("besides Lebanon")

    @property
    def score(self) -> float:
        return self.coverage + 0.15 * self.type_ok + 0.2 * self.focus + 0.05 / self.rank - 0.3 * self.excluded


_FOLLOW_UP = frozenset("it its they them their he him his she her this that these those there then".split())


def with_context(question: str, history: Sequence[str]) -> str:
    """Make a follow-up question stand alone by adding the previous question's content words.

    Only a question that leans on an earlier one (it says "they", "it", "there"... and names
    nothing itself) is changed; the articles still answer it, never the conversation.

    Example: ``with_context("Why did they take it?", ["Which prison did the rebels take over?"])``
    gives ``"Why did they take it? (prison rebels)"``
    """
    if not history:
        return question
    words = tokens(question)
    if not any(w.lower() in _FOLLOW_UP for w in words) or Question.parse(question).names:
        return question
    previous = Question.parse(history[-1])
    extra = [t for t in previous.terms if not _present(t, words)]
    return f"{question} ({' '.join(extra)})" if extra else question


def _coverage(
    asked: Question, weights: dict[str, float], words: list[str], context: list[str]
) -> tuple[float, float, list[str]]:
    """Rarity-weighted share of the question's terms a sentence covers: (by itself, with
    half credit for terms found only in ``context``), and the terms it misses."""
    own = got = total = 0.0
    missing = []
    for term in asked.terms:
        weight = weights[term]
        if _present(term, words):
            own += weight
            got += weight
        elif asked.head and term.lower() == asked.head:
            continue  # "which *city*": the sentence need not say "city"
        elif _present(term, context):
            got += 0.5 * weight
        else:
            missing.append(term)
        total += weight
    if not total:
        return 0.0, 0.0, missing
    return own / total, got / total, missing


def _has_kind(kind: str | None, sentence: str, question: Question) -> bool:
    """Whether a sentence holds the kind of fact the question asks for."""
    if kind is None:
        return True
    words = tokens(sentence)
    lowered = {w.lower() for w in words}
    asked = {w.lower() for w in tokens(question.text)}
    new_numbers = any(_NUMBER.search(w) and w.lower() not in asked for w in words) or any(
        w in lowered - asked for w in NUMBER_WORDS
    )
    if kind == "number":
        return new_numbers or bool(lowered & {"dozens", "hundreds", "thousands", "millions", "several"})
    if kind == "duration":
        hyphenated = re.search(r"\d+-(year|month|day|week)", sentence)
        return (new_numbers and bool(lowered & _DURATION_WORDS)) or bool(hyphenated)
    if kind == "time":
        return bool(re.search(r"\b(1[89]|20)\d\d\b", sentence)) or bool((lowered - asked) & _TIME_WORDS)
    new_names = [
        w
        for i, w in enumerate(words)
        if w[0].isupper() and w.lower() not in asked and (i > 0 or w.lower() not in _COMMON_OPENERS)
    ]
    if kind == "agent":
        return bool(new_names) or bool((lowered - asked) & _AGENT_WORDS)
    if kind == "place":
        return bool(new_names) or bool((lowered - asked) & _PLACE_WORDS)
    return True


class Answerer:
    """Answers questions from a store with a language model, checking every sentence."""

    def __init__(self, *, store: Store, embedder, llm: LLM | None, settings):
        self.store = store
        self.embedder = embedder
        self.llm = llm
        self.settings = settings
        mode = settings.answer_mode
        if mode == "auto":
            mode = "generative" if llm is not None and llm.chat_template else "extractive"
        self.mode = mode

    # --- public ----------------------------------------------------------------------------

    def answer(self, question: str, *, filters: Filters | None = None, history: Sequence[str] = ()) -> Answer:
        """The checked answer, computed in one go."""
        result = None
        for event in self.stream(question, filters=filters, history=history):
            if isinstance(event, Answer):
                result = event
        assert result is not None
        return result

    def stream(
        self, question: str, *, filters: Filters | None = None, history: Sequence[str] = ()
    ) -> Iterator[str | Answer]:
        """Yield the model's partial output as it comes, then the checked :class:`Answer`.

        What the model streams is provisional; only the final :class:`Answer` is checked.
        ``history`` holds the conversation's earlier questions, used only to make a
        follow-up question stand alone (:func:`with_context`).
        """
        filters = filters or Filters()
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
        hits = hybrid_search(
            question,
            store=self.store,
            embedder=self.embedder,
            k=self.settings.answer_chunks,
            candidates=self.settings.candidates,
            rrf_k=self.settings.rrf_k,
            filters=filters,
        )
        asked = Question.parse(question)
        candidates = self._candidates(asked, hits)
        timings["retrieval"] = time.perf_counter() - start

        passing = [c for c in candidates if c.passes]
        if not passing:
            timings["total"] = time.perf_counter() - start
            yield self._decline(question, hits, candidates, asked, timings, note)
            return

        chosen: list[Candidate] = passing[: READ_PASSAGES if self.mode == "generative" else 1]
        text, cited, short = None, [], None
        if self.llm is not None:
            reader = self._generate if self.mode == "generative" else self._extract
            for event in reader(question, chosen, timings):
                if isinstance(event, str):
                    yield event
                else:
                    text, cited, short = event
        check_start = time.perf_counter()
        answer = self._assemble(question, text, cited, chosen, short, hits, timings, note)
        timings["checking"] = time.perf_counter() - check_start
        timings["total"] = time.perf_counter() - start
        yield answer

    # --- candidates and the gate -------------------------------------------------------------

    def _candidates(self, asked: Question, hits: list[Hit]) -> list[Candidate]:
        texts = self.store.catalog.texts({h.article.id for h in hits})
        weights = {t: self._idf(t) for t in asked.terms}
        seen: set[tuple[str, int]] = set()
        out: list[Candidate] = []
        for rank, hit in enumerate(hits, start=1):
            text = texts[hit.article.id]
            article_words = _word_list(text)
            names_missing = [n for n in asked.names if not _present(n, article_words)]
            previous = None
            for span in hit.chunk.sentences:
                sentence = " ".join(span.of(text).split())
                # A sentence opening with "These", "It", ... leans on the one before it,
                # which then comes with it into the answer and may supply half-credit words.
                context = tokens(previous) if previous and _ANAPHORA.match(sentence) else []
                previous = sentence
                if (hit.article.id, span.start) in seen:
                    continue
                seen.add((hit.article.id, span.start))
                words = tokens(sentence)
                own, total, missing = _coverage(asked, weights, words, context)
                content = [w for w in words if w.lower() not in STOPWORDS]
                out.append(
                    Candidate(
                        hit=hit,
                        span=span,
                        text=sentence,
                        rank=rank,
                        coverage=total,
                        own_coverage=own,
                        type_ok=_has_kind(asked.expected, sentence, asked),
                        names_ok=not names_missing,
                        missing=names_missing or missing,
                        focus=sum(_present(w, list(asked.terms)) for w in content) / max(1, len(content)),
                        excluded=any(_present(x, words) for x in asked.excluded),
                    )
                )
        out.sort(key=lambda c: -c.score)
        return out

    def _idf(self, term: str) -> float:
        n, df = self.store.catalog.term_frequency(term)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    # --- readers -------------------------------------------------------------------------------

    def _extract(self, question: str, chosen: list[Candidate], timings: dict) -> Iterator:
        def build(texts: list[str]) -> str:
            return prompts.EXTRACT_PREFIX + prompts.EXTRACT_QUESTION.format(
                passages=prompts.number_passages(texts), question=" ".join(question.split())
            )

        texts, prompt = self._fit([prompts.fence(c.text) for c in chosen], build, EXTRACT_TOKENS)
        if prompt is None:  # not even one passage fits the context window: answer without the model
            yield None, [], None
            return
        output = yield from self._run(prompt, span_grammar(texts), timings, max_tokens=EXTRACT_TOKENS)
        span = output.strip()
        match = re.match(r"(.*?)\s*\[(\d+)\]$", span)
        if not match:  # "unknown": the gate's sentence stands; a base model's "unknown" is not trusted
            yield None, [], None
            return
        words, number = match.group(1).strip(), int(match.group(2))
        yield None, [number], words

    def _generate(self, question: str, chosen: list[Candidate], timings: dict) -> Iterator:
        assert self.llm is not None
        template = self.llm.chat_template

        def build(texts: list[str]) -> str:
            user = prompts.ANSWER_USER.format(passages=prompts.number_passages(texts), question=question)
            messages = [{"role": "system", "content": prompts.ANSWER_SYSTEM}, {"role": "user", "content": user}]
            return chat_prompt(template, messages) if template else f"{prompts.ANSWER_SYSTEM}\n\n{user}\nAnswer:"

        limit = self.settings.max_answer_tokens
        texts, prompt = self._fit([prompts.fence(c.text) for c in chosen], build, limit)
        if prompt is None:
            yield None, [], None
            return
        output = yield from self._run(prompt, answer_grammar(len(texts)), timings, max_tokens=limit)
        yield output.strip(), [], None

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

    # --- the checked answer --------------------------------------------------------------------

    def _assemble(
        self,
        question: str,
        text: str | None,
        cited: list[int],
        chosen: list[Candidate],
        short: str | None,
        hits: list[Hit],
        timings: dict,
        note: str | None,
    ) -> Answer:
        passages = tuple(hits)
        if text is not None and text.strip() != prompts.NOT_IN_ARTICLES:
            kept = []
            for sentence, numbers in parse_cited(text):
                valid = [n for n in numbers if 1 <= n <= len(chosen)]
                if valid and support(sentence, " ".join(chosen[n - 1].text for n in valid)).supported:
                    kept.append((sentence, valid))
            if kept:
                return self._generated_answer(question, kept, chosen, passages, timings, note)
        if text is not None and text.strip() == prompts.NOT_IN_ARTICLES:
            return self._decline(question, hits, chosen, Question.parse(question), timings, note, by_model=True)
        # Extractive: the model's chosen passage, else the best gated sentence.
        index = cited[0] - 1 if cited and 1 <= cited[0] <= len(chosen) else 0
        if short is not None and not _contains(chosen[index].text, short):
            short = None
        best = chosen[index]
        text = self.store.catalog.texts([best.hit.article.id])[best.hit.article.id]
        spans = _with_neighbour(best, text, Question.parse(question).head)
        citations = tuple(
            Citation.at(i, best.hit.article, span, text=text, chunk_id=best.hit.chunk.id)
            for i, span in enumerate(spans, start=1)
        )
        body = " ".join(f"{c.sentence} [{c.number}]" for c in citations)
        verdicts = [support(c.sentence, c.sentence) for c in citations]
        assert all(v.supported for v in verdicts)  # a copied sentence supports itself
        return Answer(question, body, True, "extractive", citations, passages, timings, short, note)

    def _generated_answer(self, question, kept, chosen, passages, timings, note) -> Answer:
        texts = self.store.catalog.texts({c.hit.article.id for c in chosen})
        numbering: dict[int, int] = {}
        citations: list[Citation] = []
        parts = []
        for sentence, numbers in kept:
            marks = []
            for n in numbers:
                if n not in numbering:
                    numbering[n] = len(numbering) + 1
                    c = chosen[n - 1]
                    text = texts[c.hit.article.id]
                    citations.append(
                        Citation.at(numbering[n], c.hit.article, c.span, text=text, chunk_id=c.hit.chunk.id)
                    )
                marks.append(f"[{numbering[n]}]")
            parts.append(f"{sentence} {''.join(marks)}")
        return Answer(question, " ".join(parts), True, "generated", tuple(citations), passages, timings, None, note)

    def _decline(self, question, hits, candidates, asked, timings, note, *, by_model: bool = False) -> Answer:
        reason = _decline_reason(asked, candidates, by_model)
        text = f"{prompts.DECLINE} {reason}".strip()
        return Answer(question, text, False, "declined", (), tuple(hits), timings, None, note)


def _decline_reason(asked: Question, candidates: list[Candidate], by_model: bool) -> str:
    if by_model:
        return "The model found no answer in the retrieved passages."
    if not candidates:
        return "Nothing relevant was found."
    absent = [n for n in asked.names if all(n in c.missing for c in candidates)]
    if absent:
        return f"No retrieved passage mentions {', '.join(dict.fromkeys(absent))}."
    kind = {"number": "how many", "duration": "how long", "time": "when", "agent": "who", "place": "where"}
    best = candidates[0]
    if asked.expected and not any(c.type_ok for c in candidates if c.coverage >= MIN_COVERAGE):
        return f"The passages that match the question do not say {kind[asked.expected]}."
    if best.missing:
        return f"No passage covers: {', '.join(best.missing[:4])}."
    return "No passage answers the question closely enough."


def _with_neighbour(best: Candidate, text: str, head: str | None) -> list[Span]:
    """Add the neighbour a sentence needs: the one before a sentence opening with "These",
    "It", "They"...; the one after that names what "which cities" asks for ("These cities were ...")."""
    sentences = best.hit.chunk.sentences
    i = sentences.index(best.span)
    if i > 0 and _ANAPHORA.match(best.text):
        return [sentences[i - 1], best.span]
    if head and i + 1 < len(sentences):
        following = sentences[i + 1].of(text)
        if re.match(rf"(These|Those|The|Both)\s+(\w+\s+)?{re.escape(head)}", following, re.IGNORECASE):
            return [best.span, sentences[i + 1]]
    return [best.span]


def _contains(text: str, piece: str) -> bool:
    return " ".join(piece.split()).lower() in " ".join(text.split()).lower()


def _present(word: str, words: list[str]) -> bool:
    return any(words_match(word, w) for w in words)


@lru_cache(maxsize=256)
def _word_list(text: str) -> list[str]:
    return list(dict.fromkeys(tokens(text)))


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


# --- grammars ------------------------------------------------------------------------------------


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def span_grammar(passages: list[str]) -> str:
    """A GBNF grammar whose sentences are: a run of whole words copied from passage *n*
    followed by ``[n]``, or the word ``unknown``.

    Example: ``span_grammar(["Homs fell."])`` accepts `` Homs [1]`` and `` unknown`` only
    (plus the other runs of words of "Homs fell.").
    """
    rules, starts = [], []
    for n, passage in enumerate(passages, start=1):
        words = passage.split()
        for k, word in enumerate(words):
            tail = f' (" " p{n}w{k + 1})?' if k + 1 < len(words) else ""
            rules.append(f"p{n}w{k} ::= {_literal(word)}{tail}")
        if words:
            rules.append(f"p{n} ::= (" + " | ".join(f"p{n}w{k}" for k in range(len(words))) + f') " [{n}]"')
            starts.append(f"p{n}")
    starts.append(_literal(prompts.UNKNOWN))
    return 'root ::= " " (' + " | ".join(starts) + ")\n" + "\n".join(rules) + "\n"


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
