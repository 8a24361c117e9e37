"""Summary quality against human references: ROUGE-1/2/L beside the lead-3 baseline, same run.

Corpora (read from ``../shared/corpora``, never copied; skipped with a message when absent):

- ``bbc``: BBC News Summary, articles paired with extractive reference summaries (the
  reference sentences are glued without spaces upstream; they are re-split here);
- ``cnndm``: the 250 CNN/DailyMail articles of FRANK, with the human highlights
  (``bart_reference``) as references.

For a fixed random sample (seeded), every article is ingested into a temporary store and
summarised by :class:`qa.summarize.Summarizer`; lead-3 takes the article's first three body
sentences. Both are scored with ``rouge-score`` (F1, stemmed) against the same reference.
Also reported: articles per minute for summarising (ingest excluded) and the share of
summary sentences that :func:`qa.cite.support` accepts against their citations.

Run: ``.venv/bin/python bench/eval_summaries.py [--corpus bbc|cnndm] [--n 100] [--seed 0]``
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.cite import support  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.summarize import Summarizer  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"


def bbc_pairs() -> list[tuple[str, Path, str]]:
    """(name, article file, reference text) for every BBC article."""
    base = CORPORA / "bbc-news-summary"
    pairs = []
    for article in sorted((base / "articles").rglob("*.txt")):
        rel = article.relative_to(base / "articles")
        reference = (base / "summaries" / rel).read_text(encoding="utf-8", errors="replace")
        # Upstream glued the sentences: "...$10.9bn.For the full-year..." -> split them again.
        reference = re.sub(r"([.!?][\"']?)(?=[A-Z\"])", r"\1\n", reference)
        pairs.append((str(rel), article, reference))
    return pairs


def cnndm_pairs(tmp: Path) -> list[tuple[str, Path, str]]:
    """(name, article file written to tmp, reference) for the FRANK CNN/DM articles."""
    pairs = []
    for path in sorted((CORPORA / "frank-cnndm-xsum" / "data" / "articles-wfactcc-json").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if "bart_reference" not in data:
            continue  # an XSum article: one-sentence references, not this test
        text = "\n\n".join(line.strip() for line in data["article_lines"] if line.strip())
        file = tmp / f"{path.stem}.txt"
        file.write_text(text, encoding="utf-8")
        reference = "\n".join(s.strip() for s in data["bart_reference"].split(" . ") if s.strip())
        pairs.append((path.stem, file, reference))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["bbc", "cnndm"], default="bbc")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    if not CORPORA.is_dir():
        print(f"skipped: no corpora at {CORPORA}")
        return 0
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pairs = bbc_pairs() if args.corpus == "bbc" else cnndm_pairs(tmp)
        sample = sorted(random.Random(args.seed).sample(pairs, min(args.n, len(pairs))))
        settings = Settings(data_dir=tmp / "data", cache_dir=tmp / "cache")
        with Pipeline.from_settings(settings) as pipeline:
            summarizer = Summarizer(store=pipeline.store, embedder=pipeline.embedder)
            ids = []
            for _, file, _ in sample:
                report = pipeline.ingest([file])
                key = pipeline.store.catalog.source_article(str(file.resolve()))
                ids.append(key if not report.failed else None)
            scores = {"qa": [], "lead3": []}
            sentences = supported = 0
            lengths = []
            start = time.perf_counter()
            for (_, _, reference), article_id in zip(sample, ids, strict=True):
                if article_id is None:
                    continue
                article = pipeline.article(article_id)
                summary = summarizer.summarize_article(article)
                lead = [" ".join(s.of(article.text).split()) for s in summarizer.body(article)[:3]]
                for s in summary.sentences:
                    sentences += 1
                    supported += support(s.text, " ".join(c.sentence for c in s.citations)).supported
                lengths.append(len(summary.sentences))
                for name, text in (("qa", "\n".join(s.text for s in summary.sentences)), ("lead3", "\n".join(lead))):
                    result = scorer.score(reference, text)
                    scores[name].append({k: v.fmeasure for k, v in result.items()})
            seconds = time.perf_counter() - start
    n = len(scores["qa"])
    table = {
        name: {metric: statistics.mean(r[metric] for r in rows) for metric in ("rouge1", "rouge2", "rougeLsum")}
        for name, rows in scores.items()
    }
    result = {
        "corpus": args.corpus,
        "articles": n,
        "seed": args.seed,
        "rouge_f1": table,
        "summary_sentences_mean": statistics.mean(lengths),
        "supported_share": supported / sentences,
        "articles_per_minute": n / seconds * 60,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"summaries-{args.corpus}.json").write_text(json.dumps(result, indent=2))
    print(f"{args.corpus}: {n} articles (seed {args.seed}); ROUGE F1, stemmed")
    print(f"{'':10}{'R-1':>8}{'R-2':>8}{'R-Lsum':>8}")
    for name in ("qa", "lead3"):
        row = table[name]
        print(f"{name:10}{row['rouge1']:8.4f}{row['rouge2']:8.4f}{row['rougeLsum']:8.4f}")
    print(f"summary sentences (mean) {result['summary_sentences_mean']:.2f}; supported {result['supported_share']:.1%};"
          f" {result['articles_per_minute']:.0f} articles/min")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
