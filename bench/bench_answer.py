"""Warm answer latency over a real collection, beside the raw library calls it is made of.

In one warm process, over the RealTime QA 2023 store (1,070 articles, ``bench/datasets.py``)
and its test-split questions, for ``--rounds`` rounds:

- ``pipeline.ask(question)`` end to end: retrieval and ranking, the model's short-answer
  call when the answer is confident enough for one, total (p50, p95);
- raw retrieval, the same run: the library calls retrieval is made of, with nothing of
  ``qa`` around them: one ``SentenceTransformer.encode`` of the question, one Chroma
  ``collection.query`` (40 nearest) and one SQLite FTS5 ``bm25`` query (40 best);
- raw model call: every prompt the pipeline sent to the model, replayed through
  ``llama_cpp.Llama.eval`` from an empty cache (what a direct caller pays; the pipeline
  keeps the fixed instructions cached, so it pays less).

Target: warm answer p50 <= 1.0 s on 2 cores. Run: ``.venv/bin/python bench/bench_answer.py``
(about 5 minutes once the store exists). Writes ``bench/out/answer.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import datasets  # noqa: E402

from qa.catalog import keyword_query  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402


class Recorder:
    """Wraps the model and keeps every prompt the pipeline sends, to replay it raw."""

    def __init__(self, llm):
        self.llm = llm
        self.name, self.n_ctx, self.chat_template = llm.name, llm.n_ctx, llm.chat_template
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)

    def complete(self, prompt, *, max_tokens, stop=(), grammar=None):
        yield from self.llm.complete(prompt, max_tokens=max_tokens, stop=stop, grammar=grammar)

    def option_logprobs(self, prompt, options, *, cached=""):
        self.prompts.append(prompt)
        return self.llm.option_logprobs(prompt, options, cached=cached)


def raw_retrieval(pipeline: Pipeline, question: str) -> float:
    """The libraries' own work for one retrieval: encode, Chroma query, FTS5 bm25; seconds."""
    model = pipeline.embedder.model
    start = time.perf_counter()
    vector = model.encode([question], normalize_embeddings=True, show_progress_bar=False)[0]
    pipeline.store.collection.query(query_embeddings=[vector], n_results=40, include=["distances"])
    pipeline.store.catalog.db.execute(
        "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) LIMIT 40",
        (keyword_query(question),),
    ).fetchall()
    return time.perf_counter() - start


def raw_model(llm, prompt: str) -> float:
    """One prompt evaluated by llama-cpp-python directly, from an empty cache; seconds."""
    start = time.perf_counter()
    llm.llm.reset()
    llm.llm.eval(llm.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False))
    return time.perf_counter() - start


def summary(values: list[float]) -> dict | None:
    if not values:
        return None
    ordered = sorted(values)
    return {"p50": statistics.median(values), "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            "n": len(values)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    if not datasets.available():
        print(f"skipped: no corpora at {datasets.CORPORA}")
        return 0
    questions = [q["question"] for q in datasets.load("rtqa23").split("test")]
    settings = datasets.settings_for("rtqa23")
    with Pipeline.from_settings(settings) as pipeline:
        recorder = Recorder(pipeline.llm)
        pipeline._llm = recorder  # the same model, watched
        pipeline.ask(questions[0])  # warm: embedder, store, the model's cached instructions
        totals, retrieval, model, with_model, raw_ret = [], [], [], [], []
        for _ in range(args.rounds):
            for question in questions:
                before = len(recorder.prompts)
                answer = pipeline.ask(question)
                t = answer.timings
                totals.append(t["total"])
                retrieval.append(t["retrieval"])
                if len(recorder.prompts) > before:
                    model.append(t.get("prompt", 0.0))
                    with_model.append(t["total"])
                raw_ret.append(raw_retrieval(pipeline, question))
        raw_mod = [raw_model(recorder.llm, prompt) for prompt in recorder.prompts]
    result = {
        "collection": "rtqa23 (1,070 articles)",
        "questions": len(questions),
        "rounds": args.rounds,
        "pipeline_total_s": summary(totals),
        "pipeline_retrieval_and_ranking_s": summary(retrieval),
        "raw_retrieval_s": summary(raw_ret),
        "answers_calling_the_model": len(model),
        "pipeline_total_when_model_called_s": summary(with_model),
        "pipeline_model_call_s": summary(model),
        "raw_model_call_s": summary(raw_mod),
    }
    result["target_p50_at_most_1s"] = result["pipeline_total_s"]["p50"] <= 1.0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "answer.json").write_text(json.dumps(result, indent=2))
    print(f"{len(questions)} questions x {args.rounds} rounds over {result['collection']}")
    print(f"{'':34}{'p50 s':>8}{'p95 s':>8}{'n':>6}")
    for key in ("pipeline_total_s", "pipeline_retrieval_and_ranking_s", "raw_retrieval_s",
                "pipeline_total_when_model_called_s", "pipeline_model_call_s", "raw_model_call_s"):  # fmt: skip
        s = result[key]
        if s:
            print(f"{key:34}{s['p50']:8.3f}{s['p95']:8.3f}{s['n']:6d}")
    print(f"target: warm answer p50 <= 1.0 s: {'met' if result['target_p50_at_most_1s'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
