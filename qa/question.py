"""What a question asks, and which spans of a sentence could be its answer.

Everything here is generic English: question words, number and date patterns, capitalised
name spans. Nothing names a story, a place or a profession.

Quiz-style questions often set the scene before they ask ("The Chiefs won the Super Bowl
this week. Who was named MVP?"); the *focus* is the clause that asks, and the scene still
counts for finding the passage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.words import STOPWORDS, is_dictionary_word, lemma, tokens

# The kind of fact a question asks for, from its focus clause (lower-cased).
_KINDS = (
    (
        "number",
        r"\bhow (?:many|much|old|long|far|big|large|tall|high|heavy|fast|strong|deep|often)\b"
        r"|\b(?:what|which) (?:\w+ )?(?:number|percentage|percent|share|proportion|amount|sum|figure|total|rate"
        r"|price|cost|age|magnitude)\b|_{2,}\s*%|\bby how\b",
    ),
    (
        "time",
        r"^when\b|\bwhen (?:did|do|does|was|were|is|will|are)\b|\b(?:what|which) (?:year|date|day|month|time"
        r"|decade|century|season)\b|\bhow soon\b|\bsince when\b|\buntil when\b",
    ),
    ("person", r"\b(?:who|whom|whose)\b"),
    (
        "place",
        r"\bwhere\b|\b(?:which|what|what other) (?:country|countries|city|cities|state|states|town|region|nation)\b",
    ),
    (
        "thing",
        r"\bwhich\b|\bwhat (?!(?:is|are|was|were|do|does|did|has|have|had|will|would|can|could|should|might"
        r"|happened|happens)\b)[a-z]|\bname\b|\bcalled\b|\btitled\b",
    ),
)
_KIND_PATTERNS = [(kind, re.compile(pattern)) for kind, pattern in _KINDS]
# "What happened at ...?" asks for an event: "happened" says what kind of answer, like "how long".
_EVENT = re.compile(r"\bwhat (?:has |had |will )?(?:happened|happens|happen)\b")
_ASKING = re.compile(r"\b(?:who|whom|whose|what|which|when|where|why|how)\b|\?|:\s*$|_{2,}|\btrue or false\b", re.I)
# "Besides Kenya, which country ...": what follows names what the answer is not.
_EXCLUSION = re.compile(r"\b(?:besides|other than|apart from|aside from|except(?: for)?)\s+([^,?;]+)", re.I)
_HEAD = re.compile(r"\b(?:which|what)\s+(?:of\s+(?:the|these|those)\s+)?([a-z][a-z-]+)")
_QUESTION_WORDS = frozenset(
    """who whom whose what which when where why how many much approximately about roughly exactly
    according true false following besides except apart aside""".split()
)

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
)
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_TIME = re.compile(
    rf"\b(?:{_MONTH}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}(?:\s+\d{{4}})?"
    rf"|(?:1[5-9]|20)\d\d(?:s\b)?|{_WEEKDAY}|today|yesterday|tomorrow|tonight"
    r"|(?:next|last|this|early|late|mid)[\s-](?:week|month|year|weekend|spring|summer|fall|autumn|winter)"
    r"|\d{1,2}(?::\d\d)?\s?(?:a\.m\.|p\.m\.|am\b|pm\b))"
)
_SCALE = r"(?:million|billion|trillion|thousand|hundred|bn|m|k)\b"
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|dozen"
    r"|dozens|hundreds|thousands|millions|billions|half"
)
_NUMBER = re.compile(
    rf"(?:[$\u00a3\u20ac\u00a5]\s?)?\d[\d,]*(?:\.\d+)?(?:\s?(?:%|percent\b|per cent\b))?(?:[\s-]{_SCALE})?"
    rf"|\b(?:{_NUMBER_WORDS})(?:[\s-](?:{_NUMBER_WORDS}|{_SCALE}))*\b",
    re.IGNORECASE,
)
# A run of capitalised words, joined by the lower-case particles names carry ("Bank of England").
_NAME = re.compile(
    r"(?:[A-Z][\w'\u2019&.-]*|\d+[A-Z][\w-]*)"
    r"(?:\s+(?:(?:of|the|de|da|del|der|la|le|du|von|van|bin|al|and|&)\s+)*(?:[A-Z][\w'\u2019&.-]*|\d+))*"
)


@dataclass(frozen=True)
class Question:
    """A parsed question.

    ``kind`` is what the answer should be: ``number``, ``time``, ``person`` ("who"),
    ``place`` ("where", "which country"), ``thing`` ("which X", "what X"), or ``None``
    ("why", "how", "what did ... do"). :attr:`span_kind` is the kind of sentence span that
    can be such an answer.
    ``terms`` are the content words of the whole question, ``focus_terms`` those of the
    clause that asks; ``head`` is the noun after "which"/"what" ("which *country*").
    """

    text: str
    focus: str
    kind: str | None
    head: str | None
    terms: tuple[str, ...]
    focus_terms: tuple[str, ...]
    excluded: frozenset[str] = frozenset()  # lemmas the answer is not ("besides Kenya")

    @classmethod
    def parse(cls, text: str) -> Question:
        """Example: ``Question.parse("The Chiefs won. Who was MVP?").focus == "Who was MVP?"``"""
        from qa.text import split_sentences

        text = " ".join(text.split())
        parts = [s.of(text) for s in split_sentences(text)] or [text]
        asking = [p for p in parts if _ASKING.search(p)]
        focus = asking[-1] if asking else parts[-1]
        lowered = focus.lower().replace("\u2019", "'")
        kind = next((k for k, pattern in _KIND_PATTERNS if pattern.search(lowered)), None)
        head = _HEAD.search(lowered)
        excluded = frozenset(lemma(t) for m in _EXCLUSION.finditer(text) for t in tokens(m.group(1)))
        return cls(
            text=text,
            focus=focus,
            kind=kind,
            head=head.group(1) if head and head.group(1) not in STOPWORDS else None,
            terms=tuple(t for t in content_terms(text) if lemma(t) not in excluded),
            focus_terms=tuple(t for t in content_terms(focus) if lemma(t) not in excluded),
            excluded=excluded,
        )

    @property
    def span_kind(self) -> str | None:
        """``number``, ``time`` or ``name``: what :func:`answer_spans` calls the answer's kind."""
        return "name" if self.kind in ("person", "place", "thing") else self.kind

    @property
    def asking_words(self) -> frozenset[str]:
        """The lower-cased words of the phrases that ask ("how *long*", "which *city*", "what
        *happened*"): they say what kind of answer is wanted, not what it is about.

        Example: ``Question.parse("How long did the strike last?").asking_words == {"how", "long"}``
        """
        lowered = self.focus.lower()
        found = [m.group() for _, pattern in _KIND_PATTERNS for m in pattern.finditer(lowered)]
        return frozenset(t for phrase in (*found, *_EVENT.findall(lowered)) for t in tokens(phrase))

    @property
    def topic_words(self) -> list[str]:
        """The content words that say what the question is about (not the phrase that asks)."""
        return [t for t in self.terms if t not in self.asking_words]

    @property
    def lemmas(self) -> frozenset[str]:
        return frozenset(lemma(t) for t in tokens(self.text))


def content_terms(text: str) -> tuple[str, ...]:
    """The content words of a question, lower-cased, one per dictionary form, in order of first use.

    Example: ``content_terms("Which teams won? The team won the Super Bowl.") == ("teams", "won", "super", "bowl")``
    """
    out, seen = [], set()
    for tok in tokens(text):
        low = tok.lower()
        if low in STOPWORDS or low in _QUESTION_WORDS or len(tok) < 2 and not tok.isdigit():
            continue
        if lemma(tok) not in seen:
            seen.add(lemma(tok))
            out.append(low)
    return tuple(out)


@dataclass(frozen=True)
class AnswerSpan:
    """A piece of a sentence that could answer a question: its text, offsets and kind."""

    text: str
    start: int
    end: int
    kind: str

    @property
    def key(self) -> str:
        """The span's comparable form, for counting the same answer across sentences."""
        return " ".join(lemma(t) for t in tokens(self.text))


def answer_spans(sentence: str, question: Question) -> list[AnswerSpan]:
    """Numbers, times and names in ``sentence`` that the question itself does not contain
    (nor rules out: "besides Kenya").

    Example: ``[s.text for s in answer_spans("Nikki Haley said on Tuesday she will run.",
    Question.parse("Who is running?"))] == ["Tuesday", "Nikki Haley"]``
    """
    asked = question.lemmas | question.excluded
    spans: list[AnswerSpan] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, kind: str) -> None:
        piece = sentence[start:end].strip(" ,.;:'\"\u2019\u201c\u201d")
        if not piece:
            return
        start = sentence.find(piece, start)
        end = start + len(piece)
        if any(s < end and start < e for s, e in taken):
            return
        words = [lemma(t) for t in tokens(piece)]
        if not words or all(w in asked or w in STOPWORDS for w in words):
            return
        taken.append((start, end))
        spans.append(AnswerSpan(piece, start, end, kind))

    for m in _TIME.finditer(sentence):
        add(m.start(), m.end(), "time")
    for m in _NUMBER.finditer(sentence):
        add(m.start(), m.end(), "number")
    opening = len(sentence) - len(sentence.lstrip(" \"'\u201c\u2018("))
    for m in _NAME.finditer(sentence):
        start, piece = m.start(), m.group()
        first = piece.split()[0]
        if first.lower() in STOPWORDS or first.lower() in _QUESTION_WORDS:
            rest = piece[len(first) :].lstrip()
            if not rest or not rest[0].isupper():
                continue
            start += len(piece) - len(rest)
            piece = rest
        elif start == opening and piece == first and is_dictionary_word(first):
            continue  # "Voters queued": capitalised only because it opens the sentence
        piece = re.sub(r"(?:'s|\u2019s)$", "", piece)
        add(start, start + len(piece), "name")
    return spans
