"""Answer quality on real news questions nobody here wrote; regenerates docs/ and the README table.

For each set of ``bench/datasets.py`` (RealTime QA 2023 and 2022, QuAIL), ingest its
articles into a store (built once, reused), ask the questions of one split with the
default models, and write ``docs/eval-<set>-<split>.md`` with a plot beside it. The table
between the ``eval-table`` markers in README.md is rewritten from the same run, with the
commit it ran at. The ranker was fitted on the ``fit`` split; ``test`` is what the README
reports.

Run: ``.venv/bin/python bench/eval_real.py`` (all sets, test split; about 15 minutes once
the stores exist). ``--split fit`` measures the part the ranker was fitted on, for contrast.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import datasets  # noqa: E402

from qa import evaluate  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402

TITLES = {
    "rtqa23": "RealTime QA 2023 (six weekly quizzes, 1,070 articles)",
    "rtqa22": "RealTime QA 2022 (CNN quiz questions, 218 gold articles of 22 weeks)",
    "quail": "QuAIL dev, news (30 VOA texts; gold answers are written options)",
}


def run(name: str, split: str, out: Path, commit: str) -> dict:
    """Evaluate one set's split; write its report; return its metrics."""
    from tqdm import tqdm

    rows = datasets.load(name).split(split) if split != "all" else datasets.load(name).questions
    folder = datasets.store_dir(name)
    items = [evaluate.Item(r["question"], tuple(r["answers"]), tuple(r.get("articles", []))) for r in rows]
    settings = datasets.settings_for(name)
    with Pipeline.from_settings(settings) as pipeline, tqdm(total=len(items), desc=f"{name} {split}") as bar:
        threshold = pipeline.answerer().threshold
        report = evaluate.evaluate(pipeline.ask, items, k=settings.answer_chunks, on_item=lambda: bar.update(1))
    stem = f"eval-{name}-{split}"
    evaluate.plot(report, out / f"{stem}.png", threshold=threshold)
    title = f"{TITLES[name]}: {split} split, default models, commit {commit}"
    (out / f"{stem}.md").write_text(evaluate.to_markdown(report, title=title, plot_name=f"{stem}.png"))
    print(f"{name}: store {folder}", file=sys.stderr)
    return {**report.metrics(), "threshold": threshold, "report": f"docs/{stem}.md"}


def readme_table(results: dict[str, dict], split: str, commit: str) -> str:
    def cell(value) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    lines = [
        f"Measured at commit `{commit}` ({split} split, default models, answer threshold"
        f" {next(iter(results.values()))['threshold']:.2f}), by `.venv/bin/python bench/eval_real.py`:",
        "",
        "| set | questions (answerable + not) | accuracy | answered precision | false declines"
        " | declined (unanswerable) | best sentence has answer | answer in top 20 chunks | report |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, m in results.items():
        lines.append(
            f"| {name} | {m['answerable']} + {m['unanswerable']} | {cell(m['accuracy'])}"
            f" | {cell(m['answered_precision'])} | {cell(m['false_decline_rate'])}"
            f" | {cell(m['decline_rate_unanswerable'])} | {cell(m['best_sentence_has_answer'])}"
            f" | {cell(m['answer_in_top20_chunks'])} | `{m['report']}` |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(datasets.NAMES), help="comma-separated: rtqa23,rtqa22,quail")
    parser.add_argument("--split", default="test", choices=["test", "fit", "all"])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the README table")
    args = parser.parse_args()
    if not datasets.available():
        print(f"skipped: no corpora at {datasets.CORPORA}")
        return 0
    commit = datasets.commit()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {name: run(name, args.split, args.out, commit) for name in args.sets.split(",")}
    summary = ROOT / "bench" / "out" / f"eval-{args.split}.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps({"commit": commit, "split": args.split, "results": results}, indent=1))
    if not args.no_readme and args.split == "test" and set(results) == set(datasets.NAMES):
        readme = ROOT / "README.md"
        text = readme.read_text(encoding="utf-8")
        table = readme_table(results, args.split, commit)
        text = re.sub(r"(<!-- eval-table -->\n).*?(<!-- /eval-table -->)", lambda m: m[1] + table + "\n" + m[2],
                      text, flags=re.S)  # fmt: skip
        readme.write_text(text, encoding="utf-8")
    for name, m in results.items():
        print(name, json.dumps({k: v for k, v in m.items() if k != "latency_s"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
