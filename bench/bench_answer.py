"""Answer latency on the default model, beside a raw llama-cpp-python call on the same prompts.

What it measures, in one warm process over the seed articles and the seed dev questions:

- per question: retrieval, prompt evaluation, generation, checking, total (p50 and p95);
- the raw baseline: the exact prompts (and grammars) the pipeline sent, replayed through
  ``Llama.create_completion`` directly, in the same order so the KV cache behaves the same;
- pipeline overhead = (pipeline total - raw model call) / raw model call, over the questions
  that reached the model (declined questions never call it and are reported apart).

The pipeline and raw passes alternate for ``--rounds`` rounds, so drift on a noisy machine
hits both alike. Run: ``.venv/bin/python bench/bench_answer.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.llm import LlamaCppLLM, resolve_model  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.settings import Settings  # noqa: E402

QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"


class Recorder:
    """Wraps the model and keeps every call the pipeline makes, to replay it raw."""

    def __init__(self, llm: LlamaCppLLM):
        self.llm = llm
        self.name, self.n_ctx, self.chat_template = llm.name, llm.n_ctx, llm.chat_template
        self.calls: list[dict] = []

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)

    def complete(self, prompt, *, max_tokens, stop=(), grammar=None):
        self.calls.append({"prompt": prompt, "max_tokens": max_tokens, "stop": list(stop), "grammar": grammar})
        yield from self.llm.complete(prompt, max_tokens=max_tokens, stop=stop, grammar=grammar)


def raw_call(llm: LlamaCppLLM, call: dict) -> float:
    """One direct llama-cpp-python completion, grammar compiled as any caller would; seconds."""
    from llama_cpp import LlamaGrammar

    start = time.perf_counter()
    grammar = LlamaGrammar.from_string(call["grammar"], verbose=False) if call["grammar"] else None
    llm.llm.create_completion(
        call["prompt"], max_tokens=call["max_tokens"], temperature=0.0, top_k=1, stop=call["stop"] or None,
        grammar=grammar,
    )  # fmt: skip
    return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict:
    return {"p50": statistics.median(values), "p95": percentile(values, 0.95), "n": len(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", cache_dir=Path(tmp) / "cache")
        llm = LlamaCppLLM(resolve_model(None, cache_dir=settings.cache_dir), n_ctx=settings.n_ctx)
        recorder = Recorder(llm)
        with Pipeline.from_settings(settings, llm=recorder) as pipeline:
            pipeline.ingest([ROOT / "seeds"])
            pipeline.ask(questions[0])  # warm: the embedder, the prefix in the KV cache

            stages: dict[str, list[float]] = {k: [] for k in ("retrieval", "prompt", "generation", "checking")}
            answered_total, declined_total, raw_times, model_times, paired = [], [], [], [], []
            for _ in range(args.rounds):
                recorder.calls.clear()
                called = []
                for question in questions:
                    before = len(recorder.calls)
                    answer = pipeline.ask(question)
                    t = answer.timings
                    if len(recorder.calls) > before:
                        called.append(recorder.calls[-1])
                        answered_total.append(t["total"])
                        model_times.append(t["prompt"] + t["generation"])
                        for key in stages:
                            stages[key].append(t.get(key, 0.0))
                    else:
                        declined_total.append(t["total"])
                for call in called:  # the raw baseline: the same prompts, in the same order
                    raw_times.append(raw_call(llm, call))
                paired.extend(
                    (t - r) / r for t, r in zip(answered_total[-len(called) :], raw_times[-len(called) :], strict=True)
                )

    raw = summary(raw_times)
    total = summary(answered_total)
    result = {
        "questions": len(questions),
        "rounds": args.rounds,
        "model_calls": len(raw_times),
        "pipeline_total_s": total,
        "pipeline_model_s": summary(model_times),
        "raw_llama_cpp_s": raw,
        "stages_s": {k: summary(v) for k, v in stages.items()},
        "declined_total_s": summary(declined_total) if declined_total else None,
        "overhead_p50": total["p50"] / raw["p50"] - 1,
        "overhead_paired_median": statistics.median(paired),
    }
    result["targets"] = {
        "p50_under_2s": total["p50"] < 2.0,
        "overhead_at_most_10pct": result["overhead_paired_median"] <= 0.10,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "answer.json").write_text(json.dumps(result, indent=2))
    print(f"questions {len(questions)} x {args.rounds} rounds; {len(raw_times)} reached the model")
    print(f"{'':24}{'p50 s':>8}{'p95 s':>8}")
    rows = [("pipeline total", total), ("  retrieval", result["stages_s"]["retrieval"]),
            ("  prompt eval", result["stages_s"]["prompt"]), ("  generation", result["stages_s"]["generation"]),
            ("  checking", result["stages_s"]["checking"]), ("raw llama-cpp call", raw)]  # fmt: skip
    if result["declined_total_s"]:
        rows.append(("declined (no model)", result["declined_total_s"]))
    for name, s in rows:
        print(f"{name:24}{s['p50']:8.3f}{s['p95']:8.3f}")
    print(f"overhead over the raw call: p50 vs p50 {result['overhead_p50']:+.1%},"
          f" per question (median) {result['overhead_paired_median']:+.1%}")  # fmt: skip
    print(json.dumps(result["targets"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
