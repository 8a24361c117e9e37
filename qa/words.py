"""Words: tokens, stop words, and one notion of "the same word" (dictionary forms, by lemminflect).

The answerer, the citation checker and the best-sentence finder compare words through
:func:`same_word`, so "took" and "take", "won" and "win", "children" and "child" are the
same word to all of them. lemminflect ships its English dictionary in its wheel; nothing is
fetched. (The keyword index is SQLite FTS5's own Porter stemmer; :func:`porter` only looks
words up in it.)
"""

from __future__ import annotations

import re
from functools import lru_cache

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself nor of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom whose why will with would you your yours yourself yourselves said says say according
    s t don now ll re ve d m o y""".split()
)

_TOKEN = re.compile(r"[A-Za-z](?:\.[A-Za-z])+\.?|[A-Za-z][A-Za-z'\u2019-]*[A-Za-z]|[A-Za-z]|\d+(?:[.,]\d+)*")
# The order in which a word's dictionary forms are preferred for its one canonical lemma.
_POS_ORDER = ("VERB", "NOUN", "PROPN", "ADJ", "ADV", "AUX")


def tokens(text: str) -> list[str]:
    """Words and numbers of a text, in order; a hyphen between a number and a word splits
    them, and a dotted acronym is one word without its dots ("U.S." is "US").

    Example: ``tokens("U.S. forces' 23-year rule, 1.5bn") == ["US", "forces", "23", "year", "rule", "1.5", "bn"]``
    """
    out = []
    for tok in _TOKEN.findall(text):
        if "." in tok and tok[0].isalpha():
            out.append(tok.replace(".", ""))
            continue
        out.extend(part for part in re.split(r"-(?=\d)|(?<=\d)-", tok) if part)
    return [t for t in out if t.strip("-'")]


def _bare(word: str) -> str:
    return re.sub(r"['\u2019]s$|['\u2019]$", "", word)


@lru_cache(maxsize=200_000)
def lemma_set(word: str) -> frozenset[str]:
    """Every dictionary form a word may be an inflection of, lower-cased, and the word itself.

    Example: ``lemma_set("left") == {"left", "leave"}``
    """
    from lemminflect import getAllLemmas, getAllLemmasOOV

    bare = _bare(word)
    low = bare.lower()
    if not low or low[0].isdigit() or (len(bare) > 1 and bare.isupper()):
        return frozenset({low})  # numbers and acronyms: "US" is not "us"
    found = getAllLemmas(low) or getAllLemmasOOV(low, upos="NOUN")
    return frozenset({low, *(form.lower() for forms in found.values() for form in forms)})


@lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    """A word's one canonical dictionary form, lower-cased, without a possessive ending
    (a verb's base form first, then a noun's).

    Example: ``lemma("Took") == "take" and lemma("children's") == "child" and lemma("US") == "us"``
    """
    from lemminflect import getAllLemmas, getAllLemmasOOV

    bare = _bare(word)
    low = bare.lower()
    if not low or low[0].isdigit() or (len(bare) > 1 and bare.isupper()):
        return low
    found = getAllLemmas(low) or getAllLemmasOOV(low, upos="NOUN")
    for pos in _POS_ORDER:
        if pos in found:
            return found[pos][0].lower()
    return low


@lru_cache(maxsize=50_000)
def is_dictionary_word(word: str) -> bool:
    """Whether the lower-cased word is in the English dictionary (a common word, not only a name).

    Example: ``is_dictionary_word("Voters") and not is_dictionary_word("Leeds")``
    """
    from lemminflect import getAllLemmas

    return bool(getAllLemmas(_bare(word).lower()))


def same_word(a: str, b: str) -> bool:
    """Whether two words count as one: a dictionary form in common ("won"/"win",
    "left"/"leave"), or one a short extension of the other ("Kenya"/"Kenyan").

    Example: ``same_word("freed", "free") and same_word("Kenya", "Kenyan")``
    """
    a, b = a.lower(), b.lower()
    if a == b or lemma_set(a) & lemma_set(b):
        return True
    short, long_ = sorted((_bare(a), _bare(b)), key=len)
    return len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= 3


def lemmas(text: str) -> set[str]:
    """The dictionary forms of a text's content words (stop words left out).

    Example: ``lemmas("The councils took the vote") >= {"council", "take", "vote"}``
    """
    return {form for t in tokens(text) if t.lower() not in STOPWORDS for form in lemma_set(t)}


def porter(word: str) -> str:
    """The original Porter stem of a lower-case word, as SQLite's FTS5 ``porter`` tokenizer
    makes it: only for looking words up in that index's vocabulary.

    Example: ``porter("crossings") == "cross"``
    """
    return _porter_stemmer().stem(word)


@lru_cache(maxsize=1)
def _porter_stemmer():
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer(mode=PorterStemmer.ORIGINAL_ALGORITHM)
