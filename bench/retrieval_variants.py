"""How often retrieval puts a gold answer within reach, for the retrieval choices one could make.

The answer ranker can only pick a sentence that retrieval handed it, so the share of
answerable questions with a gold string in the candidate chunks is its ceiling. This
measures that share on the *fit* split of the RealTime QA sets (``bench/datasets.py``) for:

- each retriever alone (dense, BM25) and fused by reciprocal rank as ``qa`` does (one article
  taking at most ``candidates_per_article`` dense candidates) and without that share, with the
  fusion constant and the depth of each list varied;
- extra ranked lists from the question's asking clause (``Question.focus``);
- an "as of" date: only articles dated on or before the quiz's date (RealTime QA 2023);
- sentence-level dense retrieval: every stored sentence vector of the collection scored
  against the question, a chunk ranked by its best sentence, alone and fused with BM25;
- more candidates: the top 30 or 40 chunks, the neighbours of the top 20, all chunks of
  the best articles; with the number of candidate sentences each costs per question.

Run: ``.venv/bin/python bench/retrieval_variants.py`` (a few minutes once the stores exist).
Prints a Markdown table and writes ``bench/out/retrieval-variants.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import datasets  # noqa: E402
import numpy as np  # noqa: E402

from qa.evaluate import is_correct  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.question import Question  # noqa: E402
from qa.retrieve import dense_candidates, rrf  # noqa: E402
from qa.types import Chunk  # noqa: E402

DEPTHS = (10, 20, 40)
POOL = 100  # chunks asked of each retriever; the variants cut from these lists


class Sentences:
    """Every stored sentence vector of a store (unit length), with the chunk each is in."""

    def __init__(self, catalog) -> None:
        chunk_ids = [r[0] for r in catalog.db.execute("SELECT id FROM chunks WHERE vectors IS NOT NULL")]
        per_chunk = catalog.sentence_vectors(chunk_ids)
        self.owner = [c for c in chunk_ids for _ in range(len(per_chunk[c]))]
        matrix = np.vstack([per_chunk[c] for c in chunk_ids])
        self.matrix = matrix / (np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-9)

    def chunks(self, vector: np.ndarray, limit: int) -> list[str]:
        """Chunk ids by their best sentence's cosine with ``vector``, best first."""
        out: dict[str, None] = {}
        for i in np.argsort(-(self.matrix @ vector)):
            out.setdefault(self.owner[i])
            if len(out) == limit:
                break
        return list(out)


def probe(pipeline: Pipeline, row: dict, sentences: Sentences) -> dict[str, list[Chunk]]:
    """The candidate chunks each variant would hand the ranker for one question, best first."""
    store, catalog = pipeline.store, pipeline.store.catalog
    asked = Question.parse(row["question"])
    whole, focus = pipeline.embedder.embed([asked.text, asked.focus])
    by_sentence = sentences.chunks(whole, limit=POOL)
    dense, dense_focus = (ids(store.dense_search(v, limit=POOL)) for v in (whole, focus))
    keyword = catalog.keyword_search(asked.text, limit=POOL)
    capped = dense_candidates(store, whole, limit=40, per_article=pipeline.settings.candidates_per_article)
    keyword_focus = catalog.keyword_search(asked.focus, limit=POOL)
    rankings: dict[str, list[str]] = {
        "dense only": dense,
        "BM25 only": keyword,
        "fused, 40 each, k=60, no per-article share": fuse([dense[:40], keyword[:40]], 60),
        "fused, 40 each, k=60, per-article share (qa's default)": fuse([capped, keyword[:40]], 60),
        "fused, 100 each, k=60": fuse([dense, keyword], 60),
        "fused, 40 each, k=10": fuse([dense[:40], keyword[:40]], 10),
        "fused + asking-clause lists (4 lists)": fuse(
            [dense[:40], dense_focus[:40], keyword[:40], keyword_focus[:40]], 60
        ),
        "sentence-level dense (chunk by its best sentence)": by_sentence,
        "sentence-level dense fused with BM25, 40 each, k=60": fuse([by_sentence[:40], keyword[:40]], 60),
    }
    if row.get("date"):
        dated_dense = ids(store.dense_search(whole, limit=40, date_to=row["date"]))
        dated_keyword = catalog.keyword_search(asked.text, limit=40, date_to=row["date"])
        rankings["fused, as of the quiz date"] = fuse([dated_dense, dated_keyword], 60)
    chunks = catalog.chunks(list({c for ranking in rankings.values() for c in ranking}))
    out = {name: [chunks[c] for c in ranking if c in chunks] for name, ranking in rankings.items()}
    default = out["fused, 40 each, k=60, per-article share (qa's default)"]
    top = default[:20]
    articles = list(dict.fromkeys(c.article_id for c in top))
    every = {a: catalog.article_chunks(a) for a in articles}
    near = {c.id: c for h in top for c in every[h.article_id] if abs(c.index - h.index) <= 1}
    out["top 20 + their neighbours"] = list(near.values())
    for n in (1, 3, 5):
        grown = {c.id: c for c in top}
        grown.update({c.id: c for a in articles[:n] for c in every[a]})
        out[f"top 20 + all chunks of the best {n} articles"] = list(grown.values())
    return out


def ids(nearest: list[tuple[str, float]]) -> list[str]:
    return [chunk_id for chunk_id, _ in nearest]


def fuse(rankings: list[list[str]], k: int) -> list[str]:
    return [item for item, _ in rrf(rankings, k=k)]


def measure(name: str, split: str, on_row: Callable[[], None]) -> dict[str, dict]:
    """Per variant: share of answerable questions with a gold answer in its first k chunks
    (k in DEPTHS; "all" for the expansions), and candidate sentences per question."""
    rows = [r for r in datasets.load(name).split(split) if r["answers"]]
    found: dict[str, dict[str, int]] = {}
    sentences: dict[str, int] = {}
    with Pipeline.from_settings(datasets.settings_for(name)) as pipeline:
        collection = Sentences(pipeline.store.catalog)
        for row in rows:
            for variant, chunks in probe(pipeline, row, collection).items():
                cuts = {"all": chunks} if variant.startswith("top 20 +") else {k: chunks[:k] for k in DEPTHS}
                for k, kept in cuts.items():
                    hit = any(is_correct(c.text, row["answers"]) for c in kept)
                    found.setdefault(variant, {}).setdefault(str(k), 0)
                    found[variant][str(k)] += hit
                kept = cuts.get("all", cuts.get(20))
                sentences[variant] = sentences.get(variant, 0) + sum(len(c.sentences) for c in kept)
            on_row()
    n = len(rows)
    return {
        variant: {"questions": n, "gold_in": {k: v / n for k, v in by_k.items()}, "sentences": sentences[variant] / n}
        for variant, by_k in found.items()
    }


def table(results: dict[str, dict[str, dict]]) -> str:
    lines = []
    for name, variants in results.items():
        n = next(iter(variants.values()))["questions"]
        lines += [f"\n{name}, fit split, {n} answerable questions: share with a gold answer in the candidates\n",
                  "| variant | top 10 | top 20 | top 40 | all | sentences per question (top 20 or all) |",
                  "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for variant, m in variants.items():
            cells = [f"{m['gold_in'][k]:.2f}" if k in m["gold_in"] else "" for k in ("10", "20", "40", "all")]
            lines.append(f"| {variant} | {' | '.join(cells)} | {m['sentences']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="rtqa23,rtqa22", help="comma-separated: rtqa23,rtqa22")
    parser.add_argument("--split", default="fit", choices=["fit", "test"])
    args = parser.parse_args()
    if not datasets.available():
        print(f"skipped: no corpora at {datasets.CORPORA}")
        return 0
    from tqdm import tqdm

    results = {}
    for name in args.sets.split(","):
        with tqdm(desc=f"{name} {args.split}", file=sys.stderr) as bar:
            results[name] = measure(name, args.split, lambda: bar.update(1))
    out = ROOT / "bench" / "out" / "retrieval-variants.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"commit": datasets.commit(), "split": args.split, "results": results}, indent=1))
    print(f"Measured at commit {datasets.commit()} by bench/retrieval_variants.py --split {args.split}:")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
