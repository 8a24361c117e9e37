"""Metrics over a question set: answer accuracy, refusals, retrieval, citations, length, latency.

A question set is JSON lines, one question each::

    {"question": "...", "answers": ["gold", "or this"], "article": "<article id or source>"}

``answers`` empty means the articles cannot answer it; ``article`` (optional) names the
article that holds the answer, for retrieval recall.

Citation recall and precision follow ALCE (Gao et al., 2023), with :func:`qa.cite.support`
as the judge: an answer sentence scores recall when it has citations and they jointly
support it; a citation scores precision when it supports its sentence alone, or when the
sentence is supported with it and not without it.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qa.cite import STOPWORDS, parse_cited, support, tokens
from qa.errors import InputError
from qa.types import Answer


@dataclass(frozen=True)
class Item:
    """One question of a set."""

    question: str
    answers: tuple[str, ...]
    article: str | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_items(path: str | Path) -> list[Item]:
    """Read a question set, refusing a bad line with its number."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            question = record["question"]
            answers = record.get("answers", [])
            if not isinstance(question, str) or not isinstance(answers, list):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError):
            raise InputError(f"{path}:{number}: expected {{'question': str, 'answers': [str, ...]}}") from None
        items.append(Item(question, tuple(str(a) for a in answers), record.get("article")))
    if not items:
        raise InputError(f"{path} holds no questions")
    return items


# --- metric functions (pure) -------------------------------------------------------------------


def normalise(text: str) -> str:
    """Lower-case, drop punctuation and articles, fold white space (SQuAD-style).

    Example: ``normalise("The  U.S.-backed SDF!") == "us backed sdf"``
    """
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^\w\s]", lambda m: "" if m.group() in ".'" else " ", text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def is_correct(answer: str, golds: Sequence[str]) -> bool:
    """A gold string occurs in the answer (both normalised).

    Example: ``is_correct("Rebels took Homs [1].", ["homs"]) is True``
    """
    text = f" {normalise(answer)} "
    return any(f" {normalise(g)} " in text for g in golds if normalise(g))


def gold_token_recall(answer: str, golds: Sequence[str]) -> float:
    """Best share of a gold answer's content words found in the answer (a softer accuracy).

    Example: ``gold_token_recall("She left the city early", ["left early"]) == 1.0``
    """
    found = {w.lower() for w in tokens(answer)}
    best = 0.0
    for gold in golds:
        words = [w.lower() for w in tokens(gold) if w.lower() not in STOPWORDS] or [w.lower() for w in tokens(gold)]
        if words:
            best = max(best, sum(w in found for w in words) / len(words))
    return best


def citation_scores(answer_text: str, cited: dict[int, str]) -> tuple[list[bool], list[bool]]:
    """ALCE citation recall (per sentence) and precision (per citation) of one answer.

    Args:
        answer_text: the answer with ``[n]`` markers.
        cited: passage number -> the text it cites.

    Example: ``citation_scores("Homs fell. [1]", {1: "Homs fell at night."}) == ([True], [True])``
    """
    recall, precision = [], []
    for sentence, numbers in parse_cited(answer_text):
        texts = [cited[n] for n in numbers if n in cited]
        joint = bool(texts) and support(sentence, " ".join(texts)).supported
        recall.append(joint)
        for i, text in enumerate(texts):
            alone = support(sentence, text).supported
            others = texts[:i] + texts[i + 1 :]
            needed = joint and not (others and support(sentence, " ".join(others)).supported)
            precision.append(alone or needed)
    return recall, precision


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile.

    Example: ``percentile([1, 2, 3, 4], 0.5) == 2``
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.fmean(values) if values else math.nan


# --- running a set -------------------------------------------------------------------------------


@dataclass
class Result:
    """One question's outcome."""

    item: Item
    answer: Answer
    correct: bool
    token_recall: float
    retrieved_gold: bool | None
    citation_recall: list[bool]
    citation_precision: list[bool]


@dataclass
class Report:
    """Every metric over a question set, and the per-question results."""

    results: list[Result] = field(default_factory=list)
    k: int = 6

    def metrics(self) -> dict:
        answerable = [r for r in self.results if r.item.answerable]
        unanswerable = [r for r in self.results if not r.item.answerable]
        with_article = [r for r in self.results if r.retrieved_gold is not None]
        answered = [r for r in self.results if r.answer.answered]
        sentences = [len(parse_cited(r.answer.text)) for r in answered]
        stages = sorted({k for r in self.results for k in r.answer.timings})
        return {
            "questions": len(self.results),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "accuracy": mean(r.correct for r in answerable),
            "gold_token_recall": mean(r.token_recall for r in answerable),
            "decline_rate_unanswerable": mean(not r.answer.answered for r in unanswerable),
            "false_decline_rate": mean(not r.answer.answered for r in answerable),
            f"retrieval_recall_at_{self.k}": mean(r.retrieved_gold for r in with_article),
            "citation_recall": mean(x for r in answered for x in r.citation_recall),
            "citation_precision": mean(x for r in answered for x in r.citation_precision),
            "answer_sentences_mean": mean(sentences),
            "answer_words_mean": mean(len(r.answer.text.split()) for r in answered),
            "latency_s": {
                stage: {
                    "p50": percentile(
                        [r.answer.timings[stage] for r in self.results if stage in r.answer.timings], 0.5
                    ),
                    "p95": percentile(
                        [r.answer.timings[stage] for r in self.results if stage in r.answer.timings], 0.95
                    ),
                }
                for stage in stages
            },
        }


def grade(item: Item, answer: Answer) -> Result:
    """Score one answer against its item."""
    cited = {c.number: c.sentence for c in answer.citations}
    recall, precision = citation_scores(answer.text, cited) if answer.answered else ([], [])
    retrieved = None
    if item.article:
        retrieved = any(item.article in (h.article.id, h.article.source) or h.article.source.endswith(item.article)
                        for h in answer.passages)  # fmt: skip
    return Result(
        item=item,
        answer=answer,
        correct=answer.answered and is_correct(answer.text, item.answers),
        token_recall=gold_token_recall(answer.text, item.answers) if answer.answered else 0.0,
        retrieved_gold=retrieved,
        citation_recall=recall,
        citation_precision=precision,
    )


def evaluate(
    ask: Callable[[str], Answer], items: Sequence[Item], *, k: int, on_item: Callable[[], None] | None = None
) -> Report:
    """Ask every question with ``ask`` and grade the answers."""
    report = Report(k=k)
    for item in items:
        try:
            answer = ask(item.question)
        except InputError as exc:  # a question the tool refuses to ask counts as declined
            answer = Answer(item.question, f"(refused: {exc})", False, "declined", (), (), {})
        report.results.append(grade(item, answer))
        if on_item:
            on_item()
    return report


def plot(report: Report, path: Path) -> None:
    """A PNG with two panels: the rates, and the latency per stage (p50 and p95)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = report.metrics()
    rates = {
        "accuracy": m["accuracy"],
        "gold words": m["gold_token_recall"],
        "declined\n(unanswerable)": m["decline_rate_unanswerable"],
        "false\ndeclines": m["false_decline_rate"],
        f"recall@{report.k}": m[f"retrieval_recall_at_{report.k}"],
        "citation\nrecall": m["citation_recall"],
        "citation\nprecision": m["citation_precision"],
    }
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    names = list(rates)
    values = [0.0 if math.isnan(v) else v for v in rates.values()]
    left.bar(names, values, color="#4c72b0")
    left.set_ylim(0, 1)
    left.set_title("quality (share)")
    for i, v in enumerate(rates.values()):
        left.text(i, (0 if math.isnan(v) else v) + 0.02, "n/a" if math.isnan(v) else f"{v:.2f}", ha="center")
    left.tick_params(axis="x", labelsize=8)
    stages = [s for s in ("retrieval", "prompt", "generation", "checking", "total") if s in m["latency_s"]]
    xs = range(len(stages))
    right.bar([x - 0.2 for x in xs], [m["latency_s"][s]["p50"] for s in stages], 0.4, label="p50")
    right.bar([x + 0.2 for x in xs], [m["latency_s"][s]["p95"] for s in stages], 0.4, label="p95")
    right.set_xticks(list(xs), stages)
    right.set_ylabel("seconds")
    right.set_title("latency per stage")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def to_markdown(report: Report, *, title: str, plot_name: str | None) -> str:
    """The report as Markdown: a metrics table, the plot, and the misses."""
    m = report.metrics()
    lines = [
        f"# {title}",
        "",
        f"{m['questions']} questions: {m['answerable']} answerable, {m['unanswerable']} not.",
        "",
    ]
    lines += ["| metric | value |", "| --- | --- |"]
    for key, value in m.items():
        if key in ("questions", "answerable", "unanswerable", "latency_s"):
            continue
        lines.append(f"| {key.replace('_', ' ')} | {'n/a' if math.isnan(value) else f'{value:.3f}'} |")
    lines += ["", "| stage | p50 s | p95 s |", "| --- | --- | --- |"]
    for stage, v in m["latency_s"].items():
        lines.append(f"| {stage} | {v['p50']:.3f} | {v['p95']:.3f} |")
    if plot_name:
        lines += ["", f"![accuracy and latency]({plot_name})"]
    misses = [
        r for r in report.results if r.item.answerable != r.answer.answered or (r.item.answerable and not r.correct)
    ]
    lines += ["", f"## Misses ({len(misses)})", ""]
    for r in misses[:50]:
        gold = " | ".join(r.item.answers) or "(unanswerable)"
        lines.append(f"- **{r.item.question}** gold: {gold}; got: {' '.join(r.answer.text.split())[:200]}")
    return "\n".join(lines) + "\n"
