"""Answers: the seed dev set as a regression test with the real default models, and the
pipeline's logic with fake models that misbehave on purpose.

The quality bar on the held-out splits of the real sets is in ``test_heldout.py``. The seed
set was never used to fit the ranker; its floors sit under what the fitted ranker measured
on it (24 of 32 answered with the gold fact, 8 of 10 declined at 19fbccc; README, "The seed dev set"). The
first version of ``qa`` reached 31 of 32 with rules written for these very questions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from qa.answer import choose_span, decline_reason, with_context
from qa.cite import parse_cited, support
from qa.pipeline import Pipeline
from qa.question import AnswerSpan, Question
from qa.types import Answer
from tests.conftest import SEEDS

DEV = Path(__file__).parent / "data" / "seed_questions.jsonl"


def dev_questions() -> list[dict]:
    return [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def assert_checked(answer: Answer, pipeline: Pipeline) -> None:
    """Every sentence cites something, and what it cites supports it and slices exactly."""
    by_number = {c.number: c for c in answer.citations}
    for citation in (*answer.citations, *([answer.closest] if answer.closest else [])):
        text = pipeline.article(citation.article_id).text
        assert text[citation.start : citation.end] == citation.sentence
    for sentence, numbers in parse_cited(answer.text if answer.answered else ""):
        assert numbers, f"uncited sentence: {sentence!r}"
        cited = " ".join(by_number[n].sentence for n in numbers)
        verdict = support(sentence, cited)
        assert verdict.supported, (sentence, verdict.reasons)


# --- the seed dev set, with the real default models ----------------------------------------------


@pytest.fixture(scope="module")
def dev_run(tmp_path_factory, embedder, llm):
    """Ask every dev question once; the tests below grade the same answers."""
    from qa.settings import Settings

    root = tmp_path_factory.mktemp("dev")
    settings = Settings(data_dir=root / "data", cache_dir=root / "cache")
    with Pipeline.from_settings(settings, embedder=embedder, llm=llm) as pipeline:
        pipeline.ingest([SEEDS])
        yield pipeline, [(q, pipeline.ask(q["question"])) for q in dev_questions()]


def gold_hit(answer: Answer, gold: list[str]) -> bool:
    return answer.answered and any(g.lower() in answer.text.lower() for g in gold)


@pytest.mark.slow
def test_answerable_seed_questions_get_the_gold_fact(dev_run) -> None:
    _, results = dev_run
    graded = [(q["question"], gold_hit(a, q["answers"]), a.text) for q, a in results if q["answers"]]
    assert len(graded) >= 25
    misses = [(q, text) for q, ok, text in graded if not ok]
    assert len(misses) <= 0.3 * len(graded), misses


@pytest.mark.slow
def test_unanswerable_seed_questions_are_declined(dev_run) -> None:
    _, results = dev_run
    graded = [(q["question"], a) for q, a in results if not q["answers"]]
    assert len(graded) >= 8
    wrong = [(q, a.text) for q, a in graded if a.answered]
    assert len(wrong) <= 0.2 * len(graded), wrong
    for _, answer in graded:
        if not answer.answered:
            assert answer.text.startswith("The articles don't say.") and answer.citations == ()


@pytest.mark.slow
def test_every_answer_and_closest_passage_slices_its_article(dev_run) -> None:
    pipeline, results = dev_run
    for _, answer in results:
        if answer.answered:
            assert answer.citations and len(parse_cited(answer.text)) <= 2, answer.text
        assert_checked(answer, pipeline)
        assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0


@pytest.mark.slow
def test_a_short_answer_is_words_of_the_cited_sentence(dev_run) -> None:
    _, results = dev_run
    for _, answer in results:
        if answer.short_answer:
            assert answer.answered
            assert answer.short_answer in " ".join(c.sentence for c in answer.citations)


@pytest.mark.slow
def test_answers_are_deterministic(dev_run) -> None:
    pipeline, results = dev_run
    for question, first in results[:6]:
        again = pipeline.ask(question["question"])
        assert (again.text, again.short_answer, again.citations) == (first.text, first.short_answer, first.citations)


@pytest.mark.slow
def test_an_extractive_stream_yields_only_the_checked_answer(dev_run) -> None:
    pipeline, _ = dev_run
    events = list(pipeline.ask_stream("Which radio station reported that the airport had been evacuated?"))
    assert len(events) == 1  # nothing provisional that would then be replaced
    [final] = events
    assert isinstance(final, Answer) and final.answered and "Sham FM" in final.text
    assert set(final.timings) >= {"retrieval", "total"}


@pytest.mark.slow
def test_an_overlong_question_is_cut_with_a_note(tmp_path, embedder, llm) -> None:
    from qa.settings import Settings

    settings = Settings(data_dir=tmp_path / "d", cache_dir=tmp_path / "c", n_ctx=256)
    with Pipeline.from_settings(settings, embedder=embedder, llm=llm) as pipeline:
        pipeline.ingest([SEEDS])
        question = "Which prison did the rebel forces take over? " + "Please be precise and complete. " * 50
        answer = pipeline.ask(question[:1990])
        assert answer.note and "shortened" in answer.note


@pytest.mark.slow
def test_the_threshold_is_a_setting(tmp_path, embedder) -> None:
    from qa.settings import Settings

    question = "Which prison did the rebel forces take over?"
    answers = {}
    for threshold in (0.0, 1.0):
        settings = Settings(data_dir=tmp_path / "d", cache_dir=tmp_path / "c", answer_threshold=threshold)
        with Pipeline.from_settings(settings, embedder=embedder, llm=FlatModel()) as pipeline:
            if not pipeline.articles():
                pipeline.ingest([SEEDS])
            answers[threshold] = pipeline.ask(question)
    assert answers[0.0].answered and "Sednaya" in answers[0.0].text
    assert not answers[1.0].answered and answers[1.0].closest is not None
    assert answers[1.0].confidence == pytest.approx(answers[0.0].confidence)


# --- the logic, with fake models --------------------------------------------------------------


class FlatModel:
    """A base model with no preference among short answers, that must never be asked to write."""

    name = "flat"
    n_ctx = 2048
    chat_template = None

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(self, prompt, *, max_tokens, stop=(), grammar=None):
        raise AssertionError("a base model is never asked to write an answer")

    def option_logprobs(self, prompt, options, *, cached=""):
        return [-1.0] * len(options)


class ScriptedLLM:
    """A chat model that replies with a fixed text and records its prompts."""

    name = "scripted"
    n_ctx = 2048
    chat_template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}<assistant>"

    def __init__(self, reply: str):
        self.reply = reply
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(self, prompt, *, max_tokens, stop=(), grammar=None):
        self.prompts.append(prompt)
        yield from re.findall(r"\s*\S+", self.reply)

    def option_logprobs(self, prompt, options, *, cached=""):
        self.prompts.append(prompt)
        return [-1.0] * len(options)


@pytest.fixture
def ask_with(settings, embedder):
    def ask(reply: str, question: str, **changes) -> tuple[Answer, ScriptedLLM, Pipeline]:
        llm = ScriptedLLM(reply)
        changed = settings.replace(**{"answer_threshold": 0.0, **changes})
        pipeline = Pipeline.from_settings(changed, embedder=embedder, llm=llm)
        if not pipeline.articles():
            pipeline.ingest([SEEDS])
        return pipeline.ask(question), llm, pipeline

    return ask


PRISON = "Which prison did the rebel forces take over?"


@pytest.mark.slow
def test_a_supported_generated_answer_is_kept(ask_with) -> None:
    answer, llm, pipeline = ask_with("The rebels took over the Sednaya prison. [1]", PRISON)
    assert answer.method == "generated" and answer.text == "The rebels took over the Sednaya prison. [1]"
    assert "Sednaya" in answer.citations[0].sentence
    assert_checked(answer, pipeline)
    assert "<passages>" in llm.prompts[0] and llm.prompts[0].startswith("<system>")


@pytest.mark.slow
def test_an_invented_sentence_never_reaches_the_user(ask_with) -> None:
    reply = "The rebels took over the Sednaya prison. [1] Abu Mohammed al-Jolani freed 3,000 prisoners at noon. [1]"
    answer, _, pipeline = ask_with(reply, PRISON)
    assert answer.method == "generated"
    assert "Jolani" not in answer.text and "3,000" not in answer.text
    assert_checked(answer, pipeline)


@pytest.mark.slow
def test_a_wholly_unsupported_answer_falls_back_to_the_best_sentence(ask_with) -> None:
    answer, _, pipeline = ask_with("Russian jets bombed Aleppo at dawn. [2]", PRISON)
    assert answer.method == "extractive" and "Sednaya prison" in answer.text
    assert_checked(answer, pipeline)


@pytest.mark.slow
def test_citing_a_passage_that_does_not_exist_is_dropped(ask_with) -> None:
    answer, _, _ = ask_with("The rebels took over the Sednaya prison. [9]", PRISON)
    assert answer.method == "extractive" and answer.citations[0].number == 1


@pytest.mark.slow
def test_the_model_may_decline(ask_with) -> None:
    answer, _, _ = ask_with("NOT IN ARTICLES", PRISON)
    assert not answer.answered and answer.method == "declined" and answer.citations == ()


@pytest.mark.slow
def test_nothing_reaches_the_model_below_the_threshold(ask_with) -> None:
    answer, llm, _ = ask_with("The rebels took over the Sednaya prison. [1]", PRISON, answer_threshold=1.0)
    assert not answer.answered and llm.prompts == []
    assert answer.text.startswith("The articles don't say.") and answer.closest is not None


def test_choose_span_counts_unknown_among_the_choices() -> None:
    a, b = AnswerSpan("Homs", 0, 4, "name"), AnswerSpan("Hama", 9, 13, "name")
    chosen, share = choose_span([a, b], [-1.0, -3.0, -2.0])
    assert chosen == a
    expected = np.exp(-1.0) / (np.exp(-1.0) + np.exp(-3.0) + np.exp(-2.0))
    assert share == pytest.approx(expected)
    assert choose_span([], [-1.0]) == (None, 0.0)


class _Best:
    def __init__(self, text: str, spans: tuple[str, ...] = (), score: float = 0.1):
        self.text, self.score = text, score
        self.spans = [AnswerSpan("x", 0, 1, kind) for kind in spans]


@pytest.mark.parametrize(
    "question, ranked, unknown, expected",
    [
        ("How many people died?", [], (), "Nothing relevant was found."),
        ("Who leads the bank?", [_Best("Rain fell.")], ("bank",), "No article mentions: bank."),
        # a kind of fact is said to be missing only when no passage found has one
        ("How many people died?", [_Best("People died."), _Best("Rain fell.")], (), "gives a number"),
        ("How many people died?", [_Best("People died."), _Best("Ten fell.", ("number",))], (), "scored 0.10"),
        # a word is said to be missing only when no passage found has it, the best or another
        ("Who leads the central bank?", [_Best("Rain fell.", ("name",))], (), "mentions: leads, central, bank."),
        ("Who leads the central bank?", [_Best("Rain fell.", ("name",)), _Best("He leads the central banks.")], (),
         "scored 0.10"),
        # the words of the phrase that asks ("how long") are not what the question is about
        ("How long did the strike last?", [_Best("The strike lasted days.", ("number",))], (), "scored 0.10"),
    ],
)  # fmt: skip
def test_decline_reasons_hold_for_every_passage_found(question, ranked, unknown, expected) -> None:
    assert expected in decline_reason(Question.parse(question), ranked, 0.3, unknown=unknown)


def test_asking_words_are_the_phrase_that_asks() -> None:
    assert Question.parse("How long did the strike last?").asking_words == {"how", "long"}
    assert {"which", "city"} <= Question.parse("Which city did the rebels take?").asking_words
    assert "happened" in Question.parse("What happened at the prison?").asking_words
    assert "prison" not in Question.parse("What happened at the prison?").asking_words


@pytest.mark.parametrize(
    "question, history, expected",
    [
        (
            "Why did they take it?",
            ["Which prison did the rebel forces take over?"],
            "Why did they take it? (prison rebel forces)",
        ),
        ("What happened in Homs?", ["Which prison did the rebel forces take over?"], "What happened in Homs?"),
        ("Why did they take it?", [], "Why did they take it?"),
        (
            "Who freed them?",
            ["What was found at the checkpoint?", "Which prison was taken?"],
            "Who freed them? (prison taken)",
        ),
    ],
)
def test_follow_ups_borrow_the_previous_question_words(question, history, expected) -> None:
    assert with_context(question, history) == expected


class Budgeted:
    """The real model behind a smaller context window, checking every prompt fits it."""

    def __init__(self, llm, n_ctx: int):
        self.llm, self.n_ctx = llm, n_ctx
        self.name, self.chat_template = llm.name, "{% for m in messages %}{{ m.content }}\n{% endfor %}"
        self.sizes: list[int] = []

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)

    def complete(self, prompt, *, max_tokens, stop=(), grammar=None):
        size = self.llm.count_tokens(prompt) + max_tokens
        assert size <= self.n_ctx, f"prompt of {size} tokens in a window of {self.n_ctx}"
        self.sizes.append(size)
        yield from self.llm.complete(prompt, max_tokens=max_tokens, stop=stop, grammar=grammar)

    def option_logprobs(self, prompt, options, *, cached=""):
        return self.llm.option_logprobs(prompt, options, cached=cached)


@pytest.mark.slow
@pytest.mark.parametrize("n_ctx", [330, 360, 2048])
def test_every_generative_prompt_fits_the_context_window(tmp_path, embedder, llm, n_ctx) -> None:
    from qa.settings import Settings

    small = Budgeted(llm, n_ctx)
    settings = Settings(data_dir=tmp_path / "d", cache_dir=tmp_path / "c", n_ctx=n_ctx, answer_threshold=0.0)
    with Pipeline.from_settings(settings, embedder=embedder, llm=small) as pipeline:
        pipeline.ingest([SEEDS])
        long_question = "Which prison did the rebel forces take over on the outskirts of the capital city? " * 3
        for question in ("Which cities fell in 24 hours?", long_question.strip()):
            answer = pipeline.ask(question)
            assert answer.answered
            assert_checked(answer, pipeline)
    assert small.sizes  # the model was called within its budget


@pytest.mark.slow
def test_option_logprobs_reuse_the_prefix_and_prefer_the_answer(llm) -> None:
    from qa import prompts

    prompt = prompts.SHORT_PREFIX + prompts.SHORT_QUESTION.format(
        question="Which prison did the rebels take over?",
        passage="The rebels took over the Sednaya prison near Damascus on Sunday.",
    )
    options = ["Sednaya", "Damascus", "Sunday", "unknown"]
    first = llm.option_logprobs(prompt, options, cached=prompts.SHORT_PREFIX)
    llm.option_logprobs(prompts.SHORT_PREFIX + "Question: Who?\nPassage: Lee won.\nAnswer:", ["Lee"])
    "".join(llm.complete("Something else entirely:", max_tokens=2))  # another use of the cache between
    again = llm.option_logprobs(prompt, options, cached=prompts.SHORT_PREFIX)
    assert first == again  # the same numbers, whatever was evaluated in between
    assert all(v <= 0.0 for v in first)
    assert first[0] == max(first[:3])


def test_a_decline_never_says_a_stored_word_is_missing(pipeline, tmp_path) -> None:
    """Acronyms, apostrophes, accents and decimals are looked up as the index holds them, and
    a passage spelling a word another way still counts as mentioning it."""
    article = tmp_path / "council.txt"
    article.write_text(
        "Council vote delayed\n\nThe council didn't vote on Monday. The NHS trust and HTS both wrote. "
        "President Erdoğan sent a letter. Siobhan O\u2019Brien said prices rose 1.5 percent.\n",
        encoding="utf-8",
    )
    assert not pipeline.ingest([article]).failed
    answerer = pipeline.answerer()
    answerer.threshold = 1.0  # every question is declined, so every reason is shown
    questions = [
        "Why didn't the council vote?",
        "What did HTS write?",
        "What did the NHS trust write?",
        "What letter did Erdogan send?",
        "What did Siobhan O'Brien say?",
        "Which prices rose 1.5 percent?",
    ]
    for question in questions:
        reason = answerer.answer(question).text
        assert "No article mentions" not in reason and "mentions:" not in reason, (question, reason)
    assert "No article mentions: zanzibar." in answerer.answer("What did Zanzibar write?").text
