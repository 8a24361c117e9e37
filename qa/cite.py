"""Citations: parse ``[n]`` markers and decide whether cited passages support a sentence.

The check is deliberately mechanical, so it can be trusted more than the model it checks.
A sentence is *supported* by the text of its cited passages when all of these hold:

1. **numbers**: every number in the sentence (``24``, ``1.5``, ``four``) appears in the
   cited text, as digits or as a number word;
2. **names**: every proper name (a capitalised word that does not open the sentence) appears
   in the cited text;
3. **content**: at least :data:`MIN_CONTENT` of the sentence's other content words appear in
   the cited text (the same lemma, or a short extension: :func:`qa.words.same_word`);
4. **negation**: the sentence and the cited sentence closest to it (most shared content
   words) agree on polarity: both say "not", "no", "never", ... or neither does.

A sentence with no citation is unsupported. Words are compared case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qa.words import STOPWORDS, same_word, tokens

MIN_CONTENT = 0.6

NEGATIONS = frozenset("not no never none nobody nothing neither nor without n't cannot".split())
NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
    "hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000",
}  # fmt: skip

_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def _number(token: str) -> str | None:
    if token[0].isdigit():
        return token.replace(",", "")
    return NUMBER_WORDS.get(token.lower())


@dataclass(frozen=True)
class Terms:
    """What a sentence asserts, split the way the support rules need it."""

    numbers: frozenset[str]
    names: tuple[str, ...]
    content: tuple[str, ...]
    negated: bool

    @classmethod
    def of(cls, text: str) -> Terms:
        toks = tokens(text)
        numbers, names, content = set(), [], []
        for i, tok in enumerate(toks):
            value = _number(tok)
            if value is not None:
                numbers.add(value)
            elif tok.lower() in STOPWORDS or tok.lower() in NEGATIONS:
                continue
            elif tok[0].isupper() and (i > 0 or _capitalised_next(toks, i) or (len(tok) > 1 and tok.isupper())):
                names.append(tok)
            elif len(tok) > 1:
                content.append(tok)
        negated = any(t.lower() in NEGATIONS or t.lower().endswith("n't") for t in toks)
        return cls(frozenset(numbers), tuple(names), tuple(content), negated)


def _capitalised_next(toks: list[str], i: int) -> bool:
    """A capitalised first word is a name when a capitalised word follows ("Grace Hopper")."""
    return i + 1 < len(toks) and toks[i + 1][0].isupper() and toks[i + 1].lower() not in STOPWORDS


@dataclass(frozen=True)
class Verdict:
    """Whether a sentence is supported, and if not, why."""

    supported: bool
    reasons: tuple[str, ...] = field(default=())
    content_share: float = 1.0


def _present(word: str, words: list[str]) -> bool:
    return any(same_word(word, w) for w in words)


def support(sentence: str, cited: str) -> Verdict:
    """Check one sentence against the text of its cited passages (see the module docstring).

    Example: ``support("Leeds flooded.", "Storms hit Leeds. The city flooded at night.").supported``
    """
    claim = Terms.of(sentence)
    source_tokens = tokens(cited)
    source_words = [t for t in source_tokens if not t[0].isdigit()]
    source_numbers = {n for n in (_number(t) for t in source_tokens) if n is not None}
    reasons = []
    missing_numbers = sorted(claim.numbers - source_numbers)
    if missing_numbers:
        reasons.append("numbers not in the source: " + ", ".join(missing_numbers))
    missing_names = [n for n in claim.names if not _present(n, source_words)]
    if missing_names:
        reasons.append("names not in the source: " + ", ".join(dict.fromkeys(missing_names)))
    share = 1.0
    if claim.content:
        share = sum(_present(w, source_words) for w in claim.content) / len(claim.content)
        if share < MIN_CONTENT:
            reasons.append(f"only {share:.0%} of its words are in the source")
    closest = _closest_sentence(claim, cited)
    if closest is not None and closest.negated != claim.negated:
        said, unsaid = ("it", "the source") if claim.negated else ("the source", "it")
        reasons.append(f"{said} says 'not' where {unsaid} does not")
    return Verdict(not reasons, tuple(reasons), share)


def _closest_sentence(claim: Terms, cited: str) -> Terms | None:
    from qa.text import split_sentences

    best, best_overlap = None, 0
    for span in split_sentences(cited):
        terms = Terms.of(span.of(cited))
        words = list(terms.content) + list(terms.names)
        overlap = sum(_present(w, words) for w in claim.content + claim.names)
        if overlap > best_overlap:
            best, best_overlap = terms, overlap
    return best


def parse_cited(answer: str) -> list[tuple[str, tuple[int, ...]]]:
    """Split an answer into sentences with the passage numbers each one cites.

    A citation belongs to the sentence it ends (before or after the full stop).

    Example: ``parse_cited("Leeds flooded [1]. The mayor shut a bridge. [2, 3]")``
    gives ``[("Leeds flooded.", (1,)), ("The mayor shut a bridge.", (2, 3))]``
    """
    from qa.text import split_sentences

    pieces: list[tuple[str, tuple[int, ...]]] = []
    for span in split_sentences(answer):
        raw = span.of(answer)
        # "[1] That was ..." : a marker opening a sentence closes the one before it.
        lead = re.match(r"(\s*\[\d+(?:\s*,\s*\d+)*\])+", raw)
        if lead and pieces:
            prev, cites = pieces[-1]
            pieces[-1] = (prev, cites + _numbers(lead.group()))
            raw = raw[lead.end() :]
        numbers = _numbers(raw)
        text = _CITATION.sub("", raw)
        text = re.sub(r"\s+([.!?,;:])", r"\1", " ".join(text.split())).strip()
        if re.search(r"\w", text):
            pieces.append((text, numbers))
    return pieces


def _numbers(raw: str) -> tuple[int, ...]:
    return tuple(int(n) for m in _CITATION.finditer(raw) for n in m.group(1).split(","))
