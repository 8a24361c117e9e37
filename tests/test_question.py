"""Question parsing, answer spans and word matching, on hand-made cases."""

from __future__ import annotations

import pytest

from qa.question import Question, answer_spans, content_terms
from qa.words import lemma, lemmas, same_word, tokens


@pytest.mark.parametrize(
    "question, kind, head",
    [
        ("How many prisoners were freed?", "number", None),
        ("Approximately how much money did the campaign spend?", "number", None),
        ("What percentage of adults disapprove?", "number", "percentage"),
        ("When did the civil war break out?", "time", None),
        ("What year did the ship sink?", "time", "year"),
        ("Who was named the game's MVP?", "person", None),
        ("Where is the glacier located?", "place", None),
        ("Which country declared a state of emergency?", "place", "country"),
        ("Which chemical are residents worried about?", "thing", "chemical"),
        ("He wrote a book titled:", "thing", None),
        ("What is the current debt limit?", None, None),
        ("Why did some cities cancel their fireworks?", None, None),
        ("True or false: the treaty was signed.", None, None),
    ],
)
def test_the_kind_of_answer_asked_for(question, kind, head) -> None:
    parsed = Question.parse(question)
    assert (parsed.kind, parsed.head) == (kind, head)


def test_a_quiz_question_asks_in_its_last_clause() -> None:
    parsed = Question.parse("The Chiefs beat the Eagles in the Super Bowl this week. Who was named MVP?")
    assert parsed.focus == "Who was named MVP?"
    assert parsed.kind == "person"
    assert "eagles" in parsed.terms and "eagles" not in parsed.focus_terms
    assert parsed.focus_terms == ("named", "mvp")


def test_content_terms_are_one_per_word_without_question_words() -> None:
    assert content_terms("Which teams won? The team won the Super Bowl.") == ("teams", "won", "super", "bowl")
    assert content_terms("What did the U.S. say?") == ("us",)  # the acronym, not the pronoun


@pytest.mark.parametrize(
    "sentence, kind, expected",
    [
        ("Patrick Mahomes was named the best player on Sunday.", "name", ["Patrick Mahomes"]),
        ("The Bank of England raised rates.", "name", ["Bank of England"]),
        ("An average of 113 million viewers watched, up 70%.", "number", ["113 million", "70%"]),
        ("The debt limit is $31.4 trillion.", "number", ["$31.4 trillion"]),
        ("She resigned after eight years.", "number", ["eight"]),
        ("The series began on Feb. 12, 2023 and ended in 1992.", "time", ["Feb. 12, 2023", "1992"]),
        ("Its payments restart next month.", "time", ["next month"]),
    ],
)
def test_answer_spans_by_kind(sentence, kind, expected) -> None:
    asked = Question.parse("Which one?")
    assert [s.text for s in answer_spans(sentence, asked) if s.kind == kind] == expected
    for span in answer_spans(sentence, asked):
        assert sentence[span.start : span.end] == span.text


def test_spans_the_question_already_names_are_not_answers() -> None:
    asked = Question.parse("Which team did Patrick Mahomes beat on Sunday?")
    spans = [s.text for s in answer_spans("Patrick Mahomes beat the Philadelphia Eagles on Sunday.", asked)]
    assert spans == ["Philadelphia Eagles"]


def test_a_sentence_opening_word_is_not_a_name() -> None:
    spans = answer_spans("The rebels entered the city.", Question.parse("Who entered?"))
    assert spans == []


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("took", "take", True),
        ("children", "child", True),
        ("Syria", "Syrian", True),
        ("elected", "election", False),
        ("new", "newspaper", False),
        ("state", "statement", False),
        ("US", "us", True),
    ],
)
def test_same_word(a, b, same) -> None:
    assert same_word(a, b) is same


def test_lemmas_and_tokens() -> None:
    assert tokens("The U.S. said Assad's 23-year rule, 1.5bn") == [
        "The", "US", "said", "Assad's", "23", "year", "rule", "1.5", "bn"
    ]  # fmt: skip
    assert tokens("in the U.S, J.K. Rowling said") == ["in", "the", "US", "JK", "Rowling", "said"]  # no final dot
    assert lemmas("The rebels took the city") >= {"rebel", "take", "city"}
    assert lemma("children's") == "child" and lemma("US") == "us" and lemma("won") == "win"
