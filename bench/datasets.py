"""The real question sets `qa` is fitted and measured on, read from ``../shared/corpora``.

Each set is converted at run time (never copied into the repository) into the ``qa eval``
format: articles as one JSON-lines file ``qa ingest`` reads, and questions as JSON lines
``{"question", "answers", "article", "id", "split", ...}``.

Every question carries a ``split``: ``fit`` (used to fit the answer scorer and to choose
its settings) or ``test`` (never used for fitting; the figures in the README come from it).
The splits are fixed and by time where the data has a time: a scorer fitted on earlier
weeks is measured on later weeks, as a user's collection would grow.

- ``rtqa23``: RealTime QA 2023, six weekly quizzes over the 1,070 articles their searches
  returned. fit = the weeks of 17 Feb, 24 Feb and 3 Mar 2023; test = 10, 17 and 24 Mar.
  Answerable questions are those whose gold occurs verbatim in the collection; the others
  (``questions_absent.jsonl``) are the refusal probe.
- ``rtqa22``: RealTime QA 2022, the 206 CNN questions with gold articles over the 218
  unique gold articles of 22 weeks. Answerable when the gold occurs in the collection
  (SQuAD-normalised, on word boundaries), else a refusal probe. fit = the first 11 weeks
  (17 Jun to 26 Aug 2022); test = the last 11.
- ``quail``: the 30 VOA news texts of the QuAIL dev set and their 540 questions; the correct
  option is the gold answer ("not enough information" = unanswerable). fit = texts whose
  number is even; test = odd. Its gold answers are annotator-written options, rarely the
  article's words, so containment accuracy is low for any extractive reader.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "corpora"
RTQA23 = CORPORA / "realtimeqa-2023-dev"
RTQA22 = CORPORA / "realtimeqa-2022-gold" / "past" / "2022"
QUAIL = CORPORA / "quail-dev" / "xml" / "randomized" / "quail_1.3_dev_randomized.xml"

RTQA23_FIT_WEEKS = ("20230217", "20230224", "20230303")
RTQA22_FIT_LAST_WEEK = "20220826"
NAMES = ("rtqa23", "rtqa22", "quail")


@dataclass(frozen=True)
class Dataset:
    """A converted set: the articles (dicts as ``qa ingest`` reads them) and the questions."""

    name: str
    articles: list[dict]
    questions: list[dict]

    def write(self, folder: Path) -> tuple[Path, Path]:
        """Write ``<name>-articles.jsonl`` and ``<name>-questions.jsonl`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        articles = folder / f"{self.name}-articles.jsonl"
        questions = folder / f"{self.name}-questions.jsonl"
        articles.write_text("".join(json.dumps(a) + "\n" for a in self.articles), encoding="utf-8")
        questions.write_text("".join(json.dumps(q) + "\n" for q in self.questions), encoding="utf-8")
        return articles, questions

    def split(self, part: str) -> list[dict]:
        return [q for q in self.questions if q["split"] == part]


def commit() -> str:
    """The short hash of the commit the repository is at, for stamping figures."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return done.stdout.strip()


def available() -> bool:
    return CORPORA.is_dir()


def load(name: str) -> Dataset:
    return {"rtqa23": rtqa23, "rtqa22": rtqa22, "quail": quail}[name]()


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _unquote(text: str) -> str:
    text = " ".join(text.split())
    return re.sub(r'^["\u201c\u201d\u2018\u2019\']+|["\u201c\u201d\u2018\u2019\']+$', "", text).strip()


def rtqa23() -> Dataset:
    articles = list(_jsonl(RTQA23 / "articles.jsonl"))
    oracle = {row["id"]: row for row in _jsonl(RTQA23 / "oracle.jsonl")}
    questions = []
    for path in ("questions.jsonl", "questions_absent.jsonl"):
        for q in _jsonl(RTQA23 / path):
            week = q["id"].split("_")[0]
            questions.append(
                {
                    "question": q["question"],
                    "answers": q["answers"],
                    "articles": oracle.get(q["id"], {}).get("urls", []) if q["answers"] else [],
                    "id": q["id"],
                    "date": f"{week[:4]}-{week[4:6]}-{week[6:]}",
                    "split": "fit" if week in RTQA23_FIT_WEEKS else "test",
                    "mc_dependent": q.get("mc_dependent", False),
                }
            )
    return Dataset("rtqa23", articles, questions)


def _normalise(text: str) -> str:
    from qa.evaluate import normalise

    return normalise(text)


def rtqa22() -> Dataset:
    articles: dict[str, dict] = {}
    raw = []
    for qa_file in sorted(RTQA22.glob("*_qa.jsonl")):
        gold_file = qa_file.with_name(qa_file.name.replace("_qa", "_gold"))
        gold = {r["question_id"]: r.get("search_result") or [] for r in _jsonl(gold_file)}
        for q in _jsonl(qa_file):
            docs = [d for d in gold.get(q["question_id"], []) if (d.get("text") or "").strip()]
            if q["question_source"] != "CNN" or not docs:
                continue
            for doc in docs:
                if doc["url"] not in articles:
                    slug = doc["url"].rstrip("/").split("/")
                    slug = slug[-2] if slug[-1] == "index.html" else slug[-1]
                    date = (doc.get("publish_date") or "").replace("/", "-") or None
                    title = re.sub(r"[-_]+", " ", slug).strip().capitalize()
                    articles[doc["url"]] = {"url": doc["url"], "title": title, "date": date, "text": doc["text"]}
            raw.append(q)
    texts = {url: f" {_normalise(a['text'])} " for url, a in articles.items()}
    questions = []
    for q in raw:
        answer = _unquote(q["choices"][int(q["answer"][0])])
        found = [url for url, text in texts.items() if f" {_normalise(answer)} " in text]
        week = q["question_id"].split("_")[0]
        questions.append(
            {
                "question": " ".join(q["question_sentence"].split()),
                "answers": [answer] if found else [],
                "articles": found or [],
                "gold": [answer],
                "id": q["question_id"],
                "date": q["question_date"].replace("/", "-"),
                "split": "fit" if week <= RTQA22_FIT_LAST_WEEK else "test",
            }
        )
    return Dataset("rtqa22", list(articles.values()), questions)


def quail() -> Dataset:
    articles, questions = [], []
    for text in ET.parse(QUAIL).getroot().iter("text"):
        if text.get("domain") != "news":
            continue
        name = text.get("id")
        url = (text.findtext("metadata/url") or "").strip() or f"quail:{name}"
        title = (text.findtext("metadata/title") or "").strip()
        body = (text.findtext("text_body") or "").strip()
        articles.append({"url": url, "title": title, "text": body})
        number = int(re.sub(r"\D", "", name) or 0)
        for q in text.iter("q"):
            correct = next(a for a in q.iter("a") if a.get("correct") == "True")
            gold = " ".join((correct.text or "").split())
            unanswerable = gold.lower().rstrip(".") == "not enough information"
            questions.append(
                {
                    "question": " ".join((q.text or "").split()),
                    "answers": [] if unanswerable else [gold],
                    "articles": [url],
                    "id": f"{name}_{q.get('id')}",
                    "type": q.get("type"),
                    "split": "fit" if number % 2 == 0 else "test",
                }
            )
    return Dataset("quail", articles, questions)


def store_dir(name: str, root: Path | None = None) -> Path:
    """A store holding the set's articles, ingested by the current code (built once, then
    reused while the articles and the ingest code are unchanged)."""
    from qa.pipeline import Pipeline
    from qa.settings import Settings

    root = root or ROOT / "bench" / "out" / "stores"
    folder = root / name
    dataset = load(name)
    digest = hashlib.sha256()
    for article in dataset.articles:
        digest.update(json.dumps(article, sort_keys=True).encode())
    for module in ("text.py", "ingest.py", "pipeline.py", "catalog.py", "store.py", "embed.py"):
        digest.update((ROOT / "qa" / module).read_bytes())
    stamp = folder / "built-from"
    if stamp.is_file() and stamp.read_text() == digest.hexdigest():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    articles, _ = dataset.write(folder / "input")
    settings = Settings(data_dir=folder / "data", cache_dir=root / "cache")
    from tqdm import tqdm

    with Pipeline.from_settings(settings) as pipeline:
        with tqdm(desc=f"ingest {name}", unit="article", file=sys.stderr) as bar:

            def show(progress) -> None:
                bar.total = progress.total
                bar.update(progress.done - bar.n)

            report = pipeline.ingest([articles], on_progress=show)
    if report.failed:
        print(f"{name}: {len(report.failed)} articles not ingested, e.g. {report.failed[0]}", file=sys.stderr)
    stamp.write_text(digest.hexdigest())
    return folder


def settings_for(name: str, **changes):
    """Settings that open the set's store (see :func:`store_dir`)."""
    from qa.settings import Settings

    folder = store_dir(name)
    return Settings(data_dir=folder / "data", cache_dir=folder.parent / "cache", **changes)
