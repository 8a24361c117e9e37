"""Answer quality on real news QA data nobody here wrote: QuAIL (news) and RealTime QA (CNN).

The data stays in ``../shared/corpora``; this script converts it into a temporary folder
(article files and a question set in the ``qa eval`` format), ingests it into a fresh store,
runs the evaluation with the default models, and writes the report to ``docs/``.

- ``quail``: the 30 news texts of the QuAIL dev set (``domain="news"``) and their 540
  questions; the correct option is the gold answer, and questions whose correct option is
  "not enough information" are unanswerable.
- ``realtimeqa``: the CNN questions that have their gold article, ingested together with the
  2,225 BBC articles as distractors; the correct choice is the gold answer, and the gold
  article's URL is what retrieval recall looks for.

Run: ``.venv/bin/python bench/eval_real.py quail`` or ``... realtimeqa [--distractors N]``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import evaluate  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.settings import Settings  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"
QUAIL = CORPORA / "quail-dev" / "xml" / "randomized" / "quail_1.3_dev_randomized.xml"
REALTIMEQA = CORPORA / "realtimeqa-2022-gold" / "past" / "2022"
BBC = CORPORA / "bbc-news-summary" / "articles"


def convert_quail(out: Path) -> tuple[list[Path], Path]:
    """Write the news texts as .txt files and their questions as JSON lines."""
    folder = out / "quail"
    folder.mkdir(parents=True)
    lines = []
    for text in ET.parse(QUAIL).getroot().iter("text"):
        if text.get("domain") != "news":
            continue
        name = f"{text.get('id')}.txt"
        title = (text.findtext("metadata/title") or "").strip()
        body = (text.findtext("text_body") or "").strip()
        (folder / name).write_text(f"{title}\n\n{body}\n", encoding="utf-8")
        for q in text.iter("q"):
            correct = next(a for a in q.iter("a") if a.get("correct") == "True")
            gold = " ".join((correct.text or "").split())
            answers = [] if gold.lower().rstrip(".") == "not enough information" else [gold]
            question = " ".join((q.text or "").split())
            lines.append({"question": question, "answers": answers, "article": name, "type": q.get("type")})
    questions = out / "quail.jsonl"
    questions.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return [folder], questions


def convert_realtimeqa(out: Path, distractors: int) -> tuple[list[Path], Path]:
    """Write the CNN gold articles as one JSON-lines file, the questions, and pick BBC distractors."""
    articles, lines, seen = [], [], set()
    for qa_file in sorted(REALTIMEQA.glob("*_qa.jsonl")):
        gold_file = qa_file.with_name(qa_file.name.replace("_qa", "_gold"))
        gold = {}
        for line in gold_file.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            docs = [d for d in record.get("search_result") or [] if (d.get("text") or "").strip()]
            if docs:
                gold[record["question_id"]] = docs
        for line in qa_file.read_text(encoding="utf-8").splitlines():
            q = json.loads(line)
            if q["question_source"] != "CNN" or q["question_id"] not in gold:
                continue
            doc = gold[q["question_id"]][0]
            if doc["url"] not in seen:
                seen.add(doc["url"])
                slug = re.sub(
                    r"[-_]+", " ", doc["url"].rstrip("/").split("/")[-2 if doc["url"].endswith("index.html") else -1]
                )
                date = (doc.get("publish_date") or "").replace("/", "-") or None
                articles.append(
                    {"url": doc["url"], "title": slug.strip().capitalize(), "date": date, "text": doc["text"]}
                )
            answer = q["choices"][int(q["answer"][0])]
            lines.append({"question": q["question_sentence"], "answers": [answer], "article": doc["url"]})
    bulk = out / "cnn-gold.jsonl"
    bulk.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    questions = out / "realtimeqa.jsonl"
    questions.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    bbc = sorted(BBC.rglob("*.txt"))[:distractors]
    return [bulk, *bbc], questions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["quail", "realtimeqa"])
    parser.add_argument("--distractors", type=int, default=2225, help="BBC articles added to realtimeqa")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    if not CORPORA.is_dir():
        print(f"skipped: no corpora at {CORPORA}")
        return 0
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.dataset == "quail":
            paths, questions = convert_quail(tmp)
        else:
            paths, questions = convert_realtimeqa(tmp, args.distractors)
        items = evaluate.load_items(questions)[: args.limit]
        settings = Settings(data_dir=tmp / "store", cache_dir=tmp / "cache")
        with Pipeline.from_settings(settings) as pipeline:
            report_ingest = pipeline.ingest(paths)
            print(f"ingested: {report_ingest.summary()}", file=sys.stderr)
            from tqdm import tqdm

            with tqdm(total=len(items), desc=args.dataset, file=sys.stderr) as bar:
                report = evaluate.evaluate(pipeline.ask, items, k=settings.answer_chunks, on_item=lambda: bar.update(1))
    args.out.mkdir(parents=True, exist_ok=True)
    picture = args.out / f"eval-{args.dataset}.png"
    evaluate.plot(report, picture)
    title = (
        f"{args.dataset}: default models (Gemma 3 270M, all-MiniLM-L6-v2), commit {commit.stdout.strip()};"
        f" ingest {report_ingest.summary()}"
    )
    (args.out / f"eval-{args.dataset}.md").write_text(evaluate.to_markdown(report, title=title, plot_name=picture.name))
    print(json.dumps(report.metrics(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
