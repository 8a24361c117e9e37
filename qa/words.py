"""Words: tokens, stop words, and one notion of "the same word" (dictionary forms, by lemminflect).

One lemmatiser serves every part that compares words: the keyword index holds each chunk's
words as :func:`lemma` makes them (:func:`index_terms`, and a query is lemmatised the same
way), the answerer's features compare lemmas, and the citation checker and the best-sentence
finder use :func:`same_word` (a dictionary form in common). So "took" and "take", "won" and
"win", "children" and "child" are the same word to all of them. lemminflect ships its English
dictionary in its wheel; nothing is fetched.
"""

from __future__ import annotations

import re
import unicodedata
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

# Letters of any script ("Erdoğan" is one word), not digits or underscores.
_L = r"[^\W\d_]"
_TOKEN = re.compile(rf"{_L}(?:\.{_L})+\.?|{_L}(?:{_L}|['\u2019-])*{_L}|{_L}|\d+(?:[.,]\d+)*")
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


def fold(word: str) -> str:
    """A word lower-cased, without accents, with a typographic apostrophe made plain, so that
    spellings of one word compare equal.

    Example: ``fold("Erdoğan") == "erdogan" and fold("O’Brien") == "o'brien"``
    """
    plain = unicodedata.normalize("NFKD", word.replace("\u2019", "'"))
    return "".join(c for c in plain if not unicodedata.combining(c)).lower()


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
    (a verb's base form first, then a noun's; a noun in "-ing" goes on to its verb, so that
    "shootings", "shooting" and "shot" share a form).

    Example: ``lemma("Took") == "take" and lemma("children's") == "child" and lemma("US") == "us"``
    """
    from lemminflect import getAllLemmas, getAllLemmasOOV

    bare = _bare(word)
    low = bare.lower()
    if not low or low[0].isdigit() or (len(bare) > 1 and bare.isupper()):
        return low
    found = getAllLemmas(low) or getAllLemmasOOV(low, upos="NOUN")
    form = next((found[pos][0].lower() for pos in _POS_ORDER if pos in found), low)
    if form.endswith("ing"):  # "shootings": the noun "shooting", whose verb is "shoot"
        form = getAllLemmas(form).get("VERB", (form,))[0].lower()
    return form


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


def index_terms(text: str) -> list[str]:
    """A text's words as the keyword index holds them, in order: each word's :func:`lemma`,
    a hyphenated word in its parts, a number without thousands separators.

    Example: ``index_terms("Rebels took 1,200 well-armed towns") == ["rebel", "take", "1200", "well", "arm", "town"]``
    """
    return [form for token in tokens(text) for form in _index_forms(token)]


def query_terms(text: str) -> list[str]:
    """The distinct :func:`index_terms` of a query's content words (stop words left out).

    Example: ``query_terms("Who took the towns, and which town?") == ["take", "town"]``
    """
    forms = (form for t in tokens(text) if t.lower() not in STOPWORDS for form in _index_forms(t))
    return [form for form in dict.fromkeys(forms) if form not in STOPWORDS]


def _index_forms(token: str) -> list[str]:
    if token[0].isdigit():
        return [token.replace(",", "")]
    return [lemma(part) for part in token.split("-") if part]


def lemmatiser() -> str:
    """The name and version of the lemmatiser, which a stored keyword index records.

    Example: ``lemmatiser().startswith("lemminflect ")``
    """
    from importlib.metadata import version

    return f"lemminflect {version('lemminflect')}"
