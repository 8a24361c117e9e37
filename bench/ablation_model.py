"""What the language model adds, measured: with and without it, on the held-out (test) questions.

Two jobs were tried for the default model (Gemma 3 270M, a base model):

1. **Choose the answer sentence** among the ranker's best three: each candidate is read by
   the model after the question ("Question: ... Passage: ... Answer:") and scored by the
   probability it gives the sentence's possible answers against "unknown". Compared with
   the ranker's own first choice.
2. **Pick the short answer** within the chosen sentence: which of its spans of the kind
   asked for (names, numbers, dates) the model finds likeliest. Compared with two rules
   without a model: the first such span, and the span most repeated among the candidates.

Reported on the test split of RealTime QA 2023 and 2022 (``bench/datasets.py``), with the
model's time per call. Writes ``docs/ablation-model.md``.

Run: ``.venv/bin/python bench/ablation_model.py`` (about 10 minutes once the stores exist).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import datasets  # noqa: E402

from qa.answer import Answerer  # noqa: E402
from qa.evaluate import is_correct, overlaps_gold  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.question import Question  # noqa: E402
from qa.retrieve import Filters  # noqa: E402

SETS = ("rtqa23", "rtqa22")
TOP = 3


def measure(name: str) -> dict:
    from tqdm import tqdm

    settings = datasets.settings_for(name)
    out: dict[str, list] = {k: [] for k in ("ranker", "model", "short_model", "short_first", "short_repeated", "calls")}
    with Pipeline.from_settings(settings) as pipeline:
        answerer = Answerer(store=pipeline.store, embedder=pipeline.embedder, llm=pipeline.llm, settings=settings)
        for item in tqdm(datasets.load(name).split("test"), desc=name, file=sys.stderr):
            golds = item["answers"]
            if not golds:
                continue
            asked = Question.parse(item["question"])
            ranked, _ = answerer.rank(asked, filters=Filters())
            if not ranked:
                out["ranker"].append(False)
                out["model"].append(False)
                continue
            out["ranker"].append(is_correct(ranked[0].text, golds))
            shares = []
            for c in ranked[:TOP]:
                start = time.perf_counter()
                picked = answerer.short_answer(asked, c)
                out["calls"].append(time.perf_counter() - start)
                shares.append(picked[1] if picked else 0.0)
            out["model"].append(is_correct(ranked[int(np.argmax(shares))].text, golds))
            best = ranked[0]
            options = [s for s in best.spans if s.kind == asked.span_kind] if asked.span_kind else []
            if not options or not is_correct(best.text, golds):
                continue  # the short-answer comparison is over right sentences with spans to pick from
            repeated = Counter(s.key for c in ranked[:20] for s in c.spans if s.kind == asked.span_kind)
            picked = answerer.short_answer(asked, best)
            out["short_model"].append(overlaps_gold(picked[0] if picked else None, golds))
            out["short_first"].append(overlaps_gold(options[0].text, golds))
            out["short_repeated"].append(overlaps_gold(max(options, key=lambda s: repeated[s.key]).text, golds))
    return {k: (float(np.mean(v)) if v else None, len(v)) for k, v in out.items() if k != "calls"} | {
        "call_p50_s": float(np.percentile(out["calls"], 50)) if out["calls"] else None
    }


def main() -> int:
    if not datasets.available():
        print(f"skipped: no corpora at {datasets.CORPORA}")
        return 0
    commit = datasets.commit()
    results = {name: measure(name) for name in SETS}

    def cell(pair) -> str:
        value, n = pair
        return "n/a" if value is None else f"{value:.2f} (n={n})"

    lines = [
        "# What the language model adds (test split, default models)",
        "",
        f"Commit `{commit}`; `.venv/bin/python bench/ablation_model.py`. The model is Gemma 3 270M"
        " (base, Q4_K_M) in process.",
        "",
        "| set | answer sentence right: ranker alone | ranker's best 3 re-chosen by the model"
        " | short answer right: model | first span | most repeated span | model time per call (p50) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {cell(r['ranker'])} | {cell(r['model'])} | {cell(r['short_model'])}"
            f" | {cell(r['short_first'])} | {cell(r['short_repeated'])} | {r['call_p50_s']:.2f} s |"
        )
    lines += [
        "",
        "Sentence choice: share of answerable questions whose chosen sentence contains a gold answer.",
        "Short answer: over the questions whose best sentence is right and has a span of the kind asked for,",
        "the share where the picked span contains, or is contained in, a gold answer.",
    ]
    (ROOT / "docs" / "ablation-model.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
