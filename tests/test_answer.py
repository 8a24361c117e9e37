"""Answers: the quality bar on the seed dev set with the real default model, and the
pipeline's logic with fake models that misbehave on purpose."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qa.answer import Question, span_grammar
from qa.cite import parse_cited, support
from qa.pipeline import Pipeline
from qa.types import Answer
from tests.conftest import SEEDS

DEV = Path(__file__).parent / "data" / "seed_questions.jsonl"


def dev_questions() -> list[dict]:
    return [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def answer_sentences(answer: Answer) -> list[tuple[str, tuple[int, ...]]]:
    return parse_cited(answer.text)


def assert_checked(answer: Answer, pipeline: Pipeline) -> None:
    """Every sentence cites something, and what it cites supports it and slices exactly."""
    by_number = {c.number: c for c in answer.citations}
    for citation in answer.citations:
        text = pipeline.article(citation.article_id).text
        assert text[citation.start : citation.end] == citation.sentence
    for sentence, numbers in answer_sentences(answer):
        assert numbers, f"uncited sentence: {sentence!r}"
        cited = " ".join(by_number[n].sentence for n in numbers)
        verdict = support(sentence, cited)
        assert verdict.supported, (sentence, verdict.reasons)


# --- the quality bar, on the real default model ---------------------------------------------


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
def test_dev_set_has_enough_questions() -> None:
    rows = dev_questions()
    assert sum(1 for r in rows if r["answers"]) >= 25
    assert sum(1 for r in rows if not r["answers"]) >= 8


@pytest.mark.slow
def test_answerable_questions_get_the_gold_fact(dev_run) -> None:
    _, results = dev_run
    graded = [(q["question"], gold_hit(a, q["answers"]), a.text) for q, a in results if q["answers"]]
    misses = [(q, text) for q, ok, text in graded if not ok]
    assert len(misses) <= 0.1 * len(graded), misses


@pytest.mark.slow
def test_unanswerable_questions_are_declined(dev_run) -> None:
    _, results = dev_run
    graded = [(q["question"], a) for q, a in results if not q["answers"]]
    wrong = [(q, a.text) for q, a in graded if a.answered]
    assert len(wrong) <= 0.1 * len(graded), wrong
    for _, answer in graded:
        if not answer.answered:
            assert answer.text.startswith("The articles don't say.") and answer.citations == ()


@pytest.mark.slow
def test_every_answer_sentence_is_supported_by_its_citation(dev_run) -> None:
    pipeline, results = dev_run
    for _, answer in results:
        if answer.answered:
            assert answer.citations
            assert_checked(answer, pipeline)


@pytest.mark.slow
def test_answers_are_short(dev_run) -> None:
    _, results = dev_run
    for _, answer in results:
        assert len(answer_sentences(answer)) <= 2, answer.text


@pytest.mark.slow
def test_answers_are_deterministic(dev_run) -> None:
    pipeline, results = dev_run
    for question, first in results[:6]:
        again = pipeline.ask(question["question"])
        assert (again.text, again.short_answer, again.citations) == (first.text, first.short_answer, first.citations)


@pytest.mark.slow
def test_stream_yields_partials_then_the_checked_answer(dev_run) -> None:
    pipeline, _ = dev_run
    events = list(pipeline.ask_stream("Which radio station reported that the airport had been evacuated?"))
    *partials, final = events
    assert isinstance(final, Answer) and final.answered and "Sham FM" in final.text
    assert partials and all(isinstance(p, str) for p in partials)
    assert set(final.timings) >= {"retrieval", "prompt", "generation", "checking", "total"}


@pytest.mark.slow
def test_an_overlong_question_is_cut_with_a_note(tmp_path, embedder, llm) -> None:
    from qa.settings import Settings

    settings = Settings(data_dir=tmp_path / "d", cache_dir=tmp_path / "c", n_ctx=256)
    with Pipeline.from_settings(settings, embedder=embedder, llm=llm) as pipeline:
        pipeline.ingest([SEEDS])
        question = "Which prison did the rebel forces take over? " + "Please be precise and complete. " * 50
        answer = pipeline.ask(question[:1990])
        assert answer.note and "shortened" in answer.note


# --- the logic, with fake models --------------------------------------------------------------


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


@pytest.fixture
def ask_with(settings, embedder):
    def ask(reply: str, question: str) -> tuple[Answer, ScriptedLLM, Pipeline]:
        llm = ScriptedLLM(reply)
        pipeline = Pipeline.from_settings(settings, embedder=embedder, llm=llm)
        if not pipeline.articles():
            pipeline.ingest([SEEDS])
        return pipeline.ask(question), llm, pipeline

    return ask


@pytest.mark.slow
def test_a_supported_generated_answer_is_kept(ask_with) -> None:
    answer, llm, pipeline = ask_with(
        "The rebels took over the Sednaya prison. [1]", "Which prison did the rebels take over?"
    )
    assert answer.method == "generated" and answer.text == "The rebels took over the Sednaya prison. [1]"
    assert "Sednaya" in answer.citations[0].sentence
    assert_checked(answer, pipeline)
    assert "<passages>" in llm.prompts[0] and llm.prompts[0].startswith("<system>")


@pytest.mark.slow
def test_an_invented_sentence_never_reaches_the_user(ask_with) -> None:
    reply = "The rebels took over the Sednaya prison. [1] Abu Mohammed al-Jolani freed 3,000 prisoners at noon. [1]"
    answer, _, pipeline = ask_with(reply, "Which prison did the rebels take over?")
    assert answer.method == "generated"
    assert "Jolani" not in answer.text and "3,000" not in answer.text
    assert_checked(answer, pipeline)


@pytest.mark.slow
def test_a_wholly_unsupported_answer_falls_back_to_the_source_sentence(ask_with) -> None:
    answer, _, pipeline = ask_with("Russian jets bombed Aleppo at dawn. [2]", "Which prison did the rebels take over?")
    assert answer.method == "extractive" and "Sednaya prison" in answer.text
    assert_checked(answer, pipeline)


@pytest.mark.slow
def test_citing_a_passage_that_does_not_exist_is_dropped(ask_with) -> None:
    answer, _, _ = ask_with("The rebels took over the Sednaya prison. [9]", "Which prison did the rebels take over?")
    assert answer.method == "extractive" and answer.citations[0].number == 1


@pytest.mark.slow
def test_the_model_may_decline(ask_with) -> None:
    answer, _, _ = ask_with("NOT IN ARTICLES", "Which prison did the rebels take over?")
    assert not answer.answered and answer.method == "declined" and answer.citations == ()


@pytest.mark.slow
def test_nothing_reaches_the_model_when_the_articles_cannot_answer(ask_with) -> None:
    answer, llm, _ = ask_with("Putin praised Assad. [1]", "What did Vladimir Putin say about Assad's departure?")
    assert not answer.answered and "Vladimir" in answer.text and llm.prompts == []


@pytest.mark.parametrize(
    "question, expected, names, head",
    [
        ("How many prisoners were freed?", "number", (), None),
        ("When did the civil war break out?", "time", (), None),
        ("Who said Assad took a flight?", "agent", ("Assad",), None),
        ("Which city did the rebels take?", "place", (), "city"),
        ("How long was Bashar Assad's rule?", "duration", ("Bashar", "Assad's"), None),
        ("What did Lebanon say it was closing?", None, ("Lebanon",), None),
    ],
)
def test_question_parsing(question, expected, names, head) -> None:
    parsed = Question.parse(question)
    assert (parsed.expected, parsed.names) == (expected, names)
    assert parsed.head == head


def test_besides_names_are_excluded_not_required() -> None:
    parsed = Question.parse("Besides Lebanon, which country closed a border crossing with Syria?")
    assert parsed.excluded == ("Lebanon",) and "Lebanon" not in parsed.names and parsed.names == ("Syria",)


def test_span_grammar_compiles_and_constrains(llm) -> None:
    from llama_cpp import LlamaGrammar

    grammar = span_grammar(['He said "no" [sic]\\ to C:\\ paths.', "Homs fell."])
    LlamaGrammar.from_string(grammar, verbose=False)
    out = "".join(
        llm.complete("Question: Which city fell?\nAnswer:", max_tokens=12, grammar=span_grammar(["Homs fell."]))
    )
    assert out in (" Homs [1]", " Homs fell. [1]", " fell. [1]", " unknown")


class Budgeted:
    """The real model behind a smaller context window, checking every prompt fits it."""

    def __init__(self, llm, n_ctx: int):
        self.llm, self.n_ctx = llm, n_ctx
        self.name, self.chat_template = llm.name, llm.chat_template
        self.sizes: list[int] = []

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)

    def complete(self, prompt, *, max_tokens, stop=(), grammar=None):
        size = self.llm.count_tokens(prompt) + max_tokens
        assert size <= self.n_ctx, f"prompt of {size} tokens in a window of {self.n_ctx}"
        self.sizes.append(size)
        yield from self.llm.complete(prompt, max_tokens=max_tokens, stop=stop, grammar=grammar)


@pytest.mark.slow
@pytest.mark.parametrize("n_ctx", [330, 360, 2048])
def test_every_prompt_fits_the_context_window(tmp_path, embedder, llm, n_ctx) -> None:
    from qa.settings import Settings

    small = Budgeted(llm, n_ctx)
    settings = Settings(data_dir=tmp_path / "d", cache_dir=tmp_path / "c", n_ctx=n_ctx)
    with Pipeline.from_settings(settings, embedder=embedder, llm=small) as pipeline:
        pipeline.ingest([SEEDS])
        long_question = "Which prison did the rebel forces take over on the outskirts of the capital city? " * 3
        for question in ("Which cities fell in 24 hours?", long_question.strip()):
            answer = pipeline.ask(question)
            assert answer.answered
            assert_checked(answer, pipeline)
    assert small.sizes  # the model was called within its budget


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
    from qa.answer import with_context

    assert with_context(question, history) == expected
