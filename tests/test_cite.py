"""The citation checker on hand-made supported and unsupported pairs."""

from __future__ import annotations

import pytest

from qa.cite import parse_cited, support
from qa.words import same_word as words_match
from qa.words import tokens

HOMS = (
    "A night before entering Damascus, the rebel forces had taken the central city of Homs,"
    " Syria\u2019s third largest, as government forces abandoned it."
)
FLIGHT = "Rami Abdurrahman of the Syrian Observatory for Human Rights said Assad took a flight from Damascus."
CITIES = "In a matter of just 24 hours, as many as four cities fell out of the Assad government\u2019s control."
STATEMENT = "There was no immediate official statement from the Syrian government."


@pytest.mark.parametrize(
    "sentence, source",
    [
        (HOMS, HOMS),  # verbatim
        ("The rebels took Homs, Syria's third largest city.", HOMS),  # took ~ taken, possessive
        ("Rebel forces had taken Homs before entering Damascus.", HOMS),
        ("Abdurrahman said Assad took a flight from Damascus.", FLIGHT),
        ("Four cities fell in 24 hours.", CITIES),
        ("4 cities fell out of government control within 24 hours.", CITIES),
        ("There was no official statement from the government.", STATEMENT),
        ("Assad left on a flight from Damascus.", FLIGHT + " Assad left early Sunday."),
    ],
)
def test_supported(sentence: str, source: str) -> None:
    verdict = support(sentence, source)
    assert verdict.supported, verdict.reasons


@pytest.mark.parametrize(
    "sentence, source, reason",
    [
        ("The rebels took Homs at 3 a.m.", HOMS, "numbers not in the source: 3"),
        ("Five cities fell in 24 hours.", CITIES, "numbers not in the source: 5"),
        (
            "Abu Mohammed al-Jolani said Assad took a flight to Moscow.",
            FLIGHT,
            "names not in the source: Abu, Mohammed",
        ),
        ("The rebels took Aleppo, Syria's third largest city.", HOMS, "names not in the source: Aleppo"),
        ("Assad did not take a flight from Damascus.", FLIGHT, "it says 'not'"),
        ("Hospitals reported many wounded civilians and shortages of medicine.", HOMS, "of its words"),
        ("The Syrian government issued an official statement.", STATEMENT + " Police left.", "the source says 'not'"),
    ],
)
def test_unsupported(sentence: str, source: str, reason: str) -> None:
    verdict = support(sentence, source)
    assert not verdict.supported
    assert any(reason in r for r in verdict.reasons), verdict.reasons


def test_polarity_must_agree_with_the_closest_source_sentence() -> None:
    # Same words, opposite meaning, in both directions.
    assert not support("There was an immediate official statement from the Syrian government.", STATEMENT).supported
    assert not support("The government gave no statement.", "The government gave a statement.").supported
    # A negation elsewhere in the source does not matter.
    assert support("Assad took a flight from Damascus.", FLIGHT + " " + STATEMENT).supported


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("Homs fell [1]. Jordan shut a crossing. [2, 3]", [("Homs fell.", (1,)), ("Jordan shut a crossing.", (2, 3))]),
        ("Homs fell.", [("Homs fell.", ())]),
        ("HTS led it [2][3].", [("HTS led it.", (2, 3))]),
        ("Rebels took Homs. [1] That was the end. [2]", [("Rebels took Homs.", (1,)), ("That was the end.", (2,))]),
        ("", []),
    ],
)
def test_parse_cited(answer, expected) -> None:
    assert parse_cited(answer) == expected


def test_words_match_and_tokens() -> None:
    assert words_match("Syria", "Syrian") and words_match("crossings", "crossing") and words_match("took", "taken")
    assert not words_match("new", "newspaper") and not words_match("state", "statement")
    assert tokens("Assad's 23-year rule cost $1,000.") == ["Assad's", "23", "year", "rule", "cost", "1,000"]
