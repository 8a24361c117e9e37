"""Metrics over a question set: answers, refusals, retrieval, short answers, citations, latency.

A question set is JSON lines, one question each::

    {"question": "...", "answers": ["gold", "or this"], "article": "<article id, source or URL>"}

``answers`` empty means the articles cannot answer it; ``article`` (or ``articles``, a list)
names the article(s) holding the answer, for retrieval recall. Other fields are ignored.

Every figure is judged against the gold answers, never by the code that made the answer:

- **accuracy**: answerable questions answered with a text containing a gold answer
  (SQuAD-style normalisation, whole words); **answered precision**: of all answered
  questions, the share whose answer contains a gold answer (an answer to an unanswerable
  question counts as wrong); **coverage**: share of all questions answered.
- **risk-coverage**: every question's best sentence ranked by the answerer's confidence;
  for each threshold, the share answered and the precision of those answers.
- **answer in top-k**: the gold string in the best k retrieved chunks, and in the best
  candidate sentence whether or not it was given (what the threshold filters).
- **short answers**: exact match and token F1 (SQuAD) against the gold, where shown.
- **citations** (ALCE, Gao et al. 2023, with :func:`qa.cite.support` as judge) only for
  *generated* answers: an extractive answer is its cited sentence, supported by
  construction, so that figure could not fail and is not reported.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qa.cite import parse_cited, support
from qa.errors import InputError
from qa.types import Answer
from qa.words import STOPWORDS, tokens

TOP_K = (1, 5)


@dataclass(frozen=True)
class Item:
    """One question of a set."""

    question: str
    answers: tuple[str, ...]
    articles: tuple[str, ...] = ()

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
            articles = record.get("articles") or ([record["article"]] if record.get("article") else [])
            if not isinstance(question, str) or not isinstance(answers, list) or not isinstance(articles, list):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError):
            raise InputError(f"{path}:{number}: expected {{'question': str, 'answers': [str, ...]}}") from None
        items.append(Item(question, tuple(str(a) for a in answers), tuple(str(a) for a in articles)))
    if not items:
        raise InputError(f"{path} holds no questions")
    return items


# --- metric functions (pure) -------------------------------------------------------------------


def normalise(text: str) -> str:
    """Lower-case, drop possessive endings, punctuation and articles, fold white space (SQuAD-style).

    Example: ``normalise("The  U.S.-based BBC's!") == "us based bbc"``
    """
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"(?<=\w)'s\b|(?<=s)'(?!\w)", "", text)
    text = re.sub(r"[^\w\s]", lambda m: "" if m.group() in ".'" else " ", text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def is_correct(answer: str, golds: Sequence[str]) -> bool:
    """A gold string occurs in the answer (both normalised), on word boundaries.

    Example: ``is_correct("Storms hit Leeds [1].", ["leeds"]) is True``
    """
    text = f" {normalise(answer)} "
    return any(f" {normalise(g)} " in text for g in golds if normalise(g))


def overlaps_gold(short: str | None, golds: Sequence[str]) -> bool:
    """A short answer that contains a gold answer or is contained in one (both normalised).

    Example: ``overlaps_gold("Ford", ["Ford Motor"]) and not overlaps_gold("Tuesday", ["Ford"])``
    """
    return bool(short) and any(is_correct(short, [g]) or is_correct(g, [short]) for g in golds)


def exact_match(short: str, golds: Sequence[str]) -> bool:
    """SQuAD exact match: equal after normalisation.

    Example: ``exact_match("the Atlanta Braves", ["Atlanta Braves"]) is True``
    """
    return any(normalise(short) == normalise(g) for g in golds)


def token_f1(short: str, golds: Sequence[str]) -> float:
    """SQuAD token F1 against the best-matching gold answer.

    Example: ``token_f1("Atlanta", ["Atlanta Braves"]) == 2 / 3``
    """
    best = 0.0
    mine = normalise(short).split()
    for gold in golds:
        theirs = normalise(gold).split()
        same = sum((Counter(mine) & Counter(theirs)).values())
        if same:
            precision, recall = same / len(mine), same / len(theirs)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


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

    Example: ``citation_scores("Leeds flooded. [1]", {1: "Leeds flooded at night."}) == ([True], [True])``
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


def risk_coverage(points: Sequence[tuple[float, bool]]) -> list[tuple[float, float, float]]:
    """``(threshold, coverage, precision)`` for each distinct confidence, highest first:
    answering only the questions whose confidence is at least the threshold.

    Example: ``risk_coverage([(0.9, True), (0.5, False)]) == [(0.9, 0.5, 1.0), (0.5, 1.0, 0.5)]``
    """
    ordered = sorted(points, key=lambda p: -p[0])
    curve, right = [], 0
    for n, (confidence, ok) in enumerate(ordered, start=1):
        right += ok
        if n == len(ordered) or ordered[n][0] != confidence:
            curve.append((confidence, n / len(ordered), right / n))
    return curve


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values.

    Example: ``percentile([1, 2, 3, 4], 0.5) == 2``
    """
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def mean(values: Iterable[float]) -> float | None:
    """The mean, or None (not NaN: reports are JSON) for no values."""
    values = list(values)
    return statistics.fmean(values) if values else None


# --- running a set -------------------------------------------------------------------------------


@dataclass
class Result:
    """One question's outcome."""

    item: Item
    answer: Answer
    correct: bool
    best_correct: bool  # the best candidate sentence (given, or the refusal's closest) holds a gold answer
    token_recall: float
    retrieved_gold: bool | None
    in_chunks: dict[int, bool]
    citation_recall: list[bool]
    citation_precision: list[bool]


@dataclass
class Report:
    """Every metric over a question set, and the per-question results."""

    results: list[Result] = field(default_factory=list)
    k: int = 20

    def metrics(self) -> dict:
        results = self.results
        answerable = [r for r in results if r.item.answerable]
        unanswerable = [r for r in results if not r.item.answerable]
        answered = [r for r in results if r.answer.answered]
        shorts = [r for r in answered if r.answer.short_answer and r.item.answerable]
        generated = [r for r in answered if r.answer.method == "generated"]
        with_article = [r for r in results if r.retrieved_gold is not None]
        stages = sorted({k for r in results for k in r.answer.timings})
        return {
            "questions": len(results),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "accuracy": mean(r.correct for r in answerable),
            "answered_precision": mean(r.correct for r in answered),
            "coverage": mean(r.answer.answered for r in results),
            "false_decline_rate": mean(not r.answer.answered for r in answerable),
            "decline_rate_unanswerable": mean(not r.answer.answered for r in unanswerable),
            "gold_token_recall": mean(r.token_recall for r in answerable),
            "best_sentence_has_answer": mean(r.best_correct for r in answerable),
            **{f"answer_in_top{k}_chunks": mean(r.in_chunks[k] for r in answerable) for k in (*TOP_K, self.k)},
            f"retrieval_recall_at_{self.k}": mean(r.retrieved_gold for r in with_article),
            "short_answers_shown": mean(bool(r.answer.short_answer) for r in answered),
            "short_answer_exact_match": mean(exact_match(r.answer.short_answer, r.item.answers) for r in shorts),
            "short_answer_f1": mean(token_f1(r.answer.short_answer, r.item.answers) for r in shorts),
            "generated_answers": len(generated),
            "citation_recall_generated": mean(x for r in generated for x in r.citation_recall),
            "citation_precision_generated": mean(x for r in generated for x in r.citation_precision),
            "answer_sentences_mean": mean(len(parse_cited(r.answer.text)) for r in answered),
            "answer_words_mean": mean(len(r.answer.text.split()) for r in answered),
            "latency_s": {
                stage: {
                    q: percentile([r.answer.timings[stage] for r in results if stage in r.answer.timings], value)
                    for q, value in (("p50", 0.5), ("p95", 0.95))
                }
                for stage in stages
            },
        }

    def curve(self) -> list[tuple[float, float, float]]:
        """The risk-coverage curve over every question with a best sentence (see :func:`risk_coverage`)."""
        return risk_coverage([(r.answer.confidence, r.best_correct) for r in self.results
                              if r.answer.confidence is not None])  # fmt: skip


def grade(item: Item, answer: Answer, *, k: int = 20) -> Result:
    """Score one answer against its item."""
    cited = {c.number: c.sentence for c in answer.citations}
    generated = answer.answered and answer.method == "generated"
    recall, precision = citation_scores(answer.text, cited) if generated else ([], [])
    retrieved = None
    if item.articles:
        retrieved = any(
            wanted in (h.article.id, h.article.source) or h.article.source.endswith(wanted)
            for h in answer.passages
            for wanted in item.articles
        )
    best = answer.text if answer.answered else (answer.closest.sentence if answer.closest else "")
    return Result(
        item=item,
        answer=answer,
        correct=answer.answered and is_correct(answer.text, item.answers),
        best_correct=is_correct(best, item.answers),
        token_recall=gold_token_recall(answer.text, item.answers) if answer.answered else 0.0,
        retrieved_gold=retrieved,
        in_chunks={n: any(is_correct(h.chunk.text, item.answers) for h in answer.passages[:n]) for n in (*TOP_K, k)},
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
        report.results.append(grade(item, answer, k=k))
        if on_item:
            on_item()
    return report


def plot(report: Report, path: Path, *, threshold: float | None = None) -> None:
    """A PNG with three panels: the rates, the risk-coverage curve, and latency per stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = report.metrics()
    rates = {
        "accuracy": m["accuracy"],
        "answered\nprecision": m["answered_precision"],
        "false\ndeclines": m["false_decline_rate"],
        "declined\n(unanswerable)": m["decline_rate_unanswerable"],
        "best sentence\nhas answer": m["best_sentence_has_answer"],
        f"answer in\ntop {report.k}": m[f"answer_in_top{report.k}_chunks"],
    }
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.4))
    names = list(rates)
    left.bar(names, [v or 0.0 for v in rates.values()], color="#4c72b0")
    left.set_ylim(0, 1.05)
    left.set_title("quality (share)")
    for i, v in enumerate(rates.values()):
        left.text(i, (v or 0) + 0.02, "n/a" if v is None else f"{v:.2f}", ha="center")
    left.tick_params(axis="x", labelsize=7)

    curve = report.curve()
    if curve:
        middle.plot([c for _, c, _ in curve], [p for _, _, p in curve], color="#dd8452")
        if threshold is not None:
            at = [(c, p) for t, c, p in curve if t >= threshold]
            if at:
                middle.scatter([at[-1][0]], [at[-1][1]], color="black", zorder=3, label=f"threshold {threshold:.2f}")
                middle.legend(loc="lower left")
    middle.set_xlim(0, 1.02)
    middle.set_ylim(0, 1.05)
    middle.set_xlabel("share of questions answered (coverage)")
    middle.set_ylabel("precision of the answers given")
    middle.set_title("risk-coverage: raising the threshold")

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


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def to_markdown(report: Report, *, title: str, plot_name: str | None) -> str:
    """The report as Markdown: a metrics table, the plot, the curve's table, and the misses."""
    m = report.metrics()
    counts = f"{m['questions']} questions: {m['answerable']} answerable, {m['unanswerable']} not."
    lines = [f"# {title}", "", counts, ""]
    lines += ["| metric | value |", "| --- | --- |"]
    for key, value in m.items():
        if key not in ("questions", "answerable", "unanswerable", "latency_s"):
            lines.append(f"| {key.replace('_', ' ')} | {_fmt(value)} |")
    lines += ["", "| stage | p50 s | p95 s |", "| --- | --- | --- |"]
    for stage, v in m["latency_s"].items():
        lines.append(f"| {stage} | {_fmt(v['p50'])} | {_fmt(v['p95'])} |")
    if plot_name:
        lines += ["", f"![quality, risk-coverage and latency]({plot_name})"]
    curve = report.curve()
    if curve:
        lines += ["", "Risk-coverage (answer only when the confidence is at least the threshold):", ""]
        lines += ["| threshold | coverage | precision |", "| --- | --- | --- |"]
        step = max(1, len(curve) // 12)
        for t, c, p in curve[::step]:
            lines.append(f"| {t:.3f} | {c:.2f} | {p:.2f} |")
    misses = [r for r in report.results if not r.correct and (r.item.answerable or r.answer.answered)]
    lines += ["", f"## Misses ({len(misses)})", ""]
    for r in misses[:60]:
        gold = " | ".join(r.item.answers) or "(unanswerable)"
        lines.append(f"- **{r.item.question}** gold: {gold}; got: {' '.join(r.answer.text.split())[:200]}")
    return "\n".join(lines) + "\n"
