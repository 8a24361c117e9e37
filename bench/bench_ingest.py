"""Ingest and search benchmark on the BBC News corpus, each figure beside a raw baseline from the same run.

What it measures, in this order:

1. raw encode: one ``SentenceTransformer.encode(texts, batch_size=64, normalize_embeddings=True)`` over every
   indexed sentence that the project's own pure functions (``discover``, ``read_file``, ``chunk_article``) make
   of the corpus (the pipeline embeds each sentence once; a chunk's vector is the mean of its sentences'), with
   the packaged all-MiniLM-L6-v2 on the CPU; reported as sentences/s.
2. pipeline ingest: ``Pipeline.ingest([corpus])`` end to end (reading, chunking, embedding, Chroma and SQLite
   writes) into a fresh temporary store; reported as sentences/s and as a ratio to (1). Target: ratio >= 0.85.
   Simple timers around the embedder and the store write split its time into embed / write / the rest.
3. search: ``Pipeline.search(q, k=5)`` latency over 200 title queries (target p50 < 30 ms), beside the
   latency of the raw ``embedder.embed([q])`` call alone for the same queries, so the embedding's share shows.

Models are loaded and warmed up before any timing. Results: a table on stdout, ``<out>/ingest.json`` and
``<out>/ingest.png`` (default ``bench/out/``, git-ignored). If the corpus folder is absent it says so and
exits 0.

Run (about 10 minutes on 2 cores for the full corpus; ``--limit 100`` for a quick check):

    .venv/bin/python bench/bench_ingest.py [--corpus PATH] [--limit N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qa.embed import SentenceTransformerEmbedder, default_model_dir
from qa.errors import ArticleError
from qa.ingest import SourceFile, chunk_article, count_items, discover, read_file
from qa.pipeline import Pipeline
from qa.settings import Settings

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CORPUS = BENCH_DIR.parent.parent / "shared" / "corpora" / "bbc-news-summary" / "articles"  # ../shared
DEFAULT_OUT = BENCH_DIR / "out"
ENCODE_BATCH = 64
SEARCH_QUERIES = 200
SEARCH_K = 5
QUERY_EVERY = 10  # every 10th article's headline: spread over all five categories, deterministic
TARGET_RATIO = 0.85
TARGET_P50_MS = 30.0


@dataclass
class Stopwatch:
    """Total wall time spent inside the functions it wraps."""

    seconds: float = 0.0
    calls: int = 0

    def wrap(self, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return timed


@dataclass
class Clock:
    """Wall time of a phase, and how much of the machine the process actually got during it.

    ``cpu_share`` is process CPU time / (wall time x usable CPUs): near 1.0 the phase had the machine to
    itself; well below it, something else (another process on this shared machine) was taking the cores,
    and the wall-clock figure of that phase is pessimistic.
    """

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu

    def share(self) -> float:
        return self.cpu / (self.wall * usable_cpus())


@dataclass
class Corpus:
    """What the project's pure functions make of the corpus files."""

    files: list[SourceFile]
    texts: list[str] = field(default_factory=list)  # every indexed sentence: what the pipeline embeds
    headlines: list[str] = field(default_factory=list)
    articles: int = 0
    chunks: int = 0
    failed: int = 0
    seconds: float = 0.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of article files, or one .jsonl file"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first N files in sorted order")
    parser.add_argument("--articles", type=int, default=None, help="of a .jsonl corpus, only the first N lines")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where ingest.json and ingest.png go")
    return parser.parse_args(argv)


def corpus_files(corpus: Path, limit: int | None) -> list[SourceFile]:
    files, problems = discover([corpus])
    if problems:
        raise SystemExit(f"cannot read the corpus: {problems[0][0]}: {problems[0][1]}")
    return files[:limit] if limit is not None else files


def read_corpus(files: list[SourceFile], settings: Settings) -> Corpus:
    """Read and chunk every file with the project's pure functions, as the raw baseline's input."""
    corpus = Corpus(files)
    start = time.perf_counter()
    for number, file in enumerate(tqdm(files, desc="read+chunk", unit="file", file=sys.stderr)):
        try:
            articles, failures = read_file(file, max_bytes=settings.max_file_bytes)
        except ArticleError:
            corpus.failed += 1
            continue
        corpus.failed += len(failures)
        for article in articles:
            corpus.articles += 1
            for chunk in chunk_article(article, max_words=settings.chunk_words):
                corpus.chunks += 1
                corpus.texts.extend(" ".join(span.of(article.text).split()) for span in chunk.sentences)
            if number % QUERY_EVERY == 0:
                corpus.headlines.append(article.title)  # a JSON line's first paragraph may be a long one
    corpus.seconds = time.perf_counter() - start
    return corpus


def build_queries(headlines: list[str], n: int = SEARCH_QUERIES) -> list[str]:
    # Cycled so that a --limit run still times the same number of calls as the full one.
    return [headlines[i % len(headlines)] for i in range(n)]


def load_models():
    """The raw SentenceTransformer and the project's embedder, both from the packaged folder, both warmed up."""
    embedder = SentenceTransformerEmbedder(batch_size=ENCODE_BATCH)  # also sets the hub libraries offline
    from sentence_transformers import SentenceTransformer

    raw = SentenceTransformer(str(default_model_dir()), device="cpu", local_files_only=True)
    # The first encode pays one-off costs (allocator, kernels); neither timed figure should carry them.
    warm = ["A warm-up sentence about nothing in particular."] * ENCODE_BATCH
    raw.encode(warm, batch_size=ENCODE_BATCH, normalize_embeddings=True, show_progress_bar=False)
    embedder.embed(warm)
    return raw, embedder


def time_raw_encode(model, texts: list[str]) -> dict:
    with Clock() as clock:
        model.encode(texts, batch_size=ENCODE_BATCH, normalize_embeddings=True, show_progress_bar=True)
    return {
        "sentences": len(texts),
        "seconds": clock.wall,
        "sentences_per_s": len(texts) / clock.wall,
        "cpu_share": clock.share(),
    }


def time_ingest(pipeline: Pipeline, paths: list[Path], n_items: int) -> tuple[dict, list[list[str]]]:
    """Time one ingest, with stopwatches on the embedder and the store write to see where the time goes.

    Also returns the texts of each embedding call, for :func:`padding` after the clock has stopped.
    """
    embed_watch, write_watch = Stopwatch(), Stopwatch()
    calls: list[list[str]] = []
    timed_embed = embed_watch.wrap(pipeline.embedder.embed)

    def embed(texts):
        calls.append(texts)
        return timed_embed(texts)

    # Instance attributes shadow the methods for this run only; deleting them afterwards restores the originals.
    pipeline.embedder.embed = embed
    pipeline.store.write = write_watch.wrap(pipeline.store.write)
    bar = tqdm(total=n_items, desc="pipeline ingest", unit="article", file=sys.stderr)
    first_commit: list[float] = []
    start = time.perf_counter()

    def show(progress) -> None:
        bar.total = progress.total
        bar.update(progress.done - bar.n)
        if progress.stored and not first_commit:
            first_commit.append(time.perf_counter() - start)

    try:
        with Clock() as clock:
            report = pipeline.ingest(paths, on_progress=show)
    finally:
        bar.close()
        del pipeline.embedder.embed
        del pipeline.store.write
    seconds = clock.wall
    return {
        "articles_stored": report.stored,
        "chunks": report.chunks,
        "sentences": sum(len(texts) for texts in calls),
        "seconds": seconds,
        "articles_per_s": report.stored / seconds,
        "chunks_per_s": report.chunks / seconds,
        "first_commit_seconds": first_commit[0] if first_commit else None,
        "writes": write_watch.calls,
        "sentences_per_s": sum(len(texts) for texts in calls) / seconds,
        "cpu_share": clock.share(),
        "added": len(report.added),
        "unchanged": len(report.unchanged),
        "replaced": len(report.replaced),
        "failed": len(report.failed),
        "failures": report.failed[:10],
        "embed_seconds": embed_watch.seconds,
        "embed_calls": embed_watch.calls,
        "write_seconds": write_watch.seconds,
        "other_seconds": seconds - embed_watch.seconds - write_watch.seconds,
    }, calls


def padding(model, calls: list[list[str]]) -> dict:
    """How many token positions the encoder computes for these encode calls, padding included.

    sentence-transformers sorts each call's texts by character length and pads every batch of 64 to its
    longest member, so the same texts cost more spread over many small calls than in one big one. This is
    counted, not timed, so the machine's noise does not touch it.
    """
    limit = model.max_seq_length
    real = padded = count = 0
    for texts in calls:
        ids = model.tokenizer(list(texts), truncation=True, max_length=limit)["input_ids"]
        lengths = np.array([len(x) for x in ids])
        ordered = lengths[np.argsort([-len(t) for t in texts])]  # the order encode() batches them in
        for start in range(0, len(ordered), ENCODE_BATCH):
            batch = ordered[start : start + ENCODE_BATCH]
            padded += int(batch.max()) * len(batch)
        real += int(lengths.sum())
        count += len(texts)
    return {
        "encode_calls": len(calls),
        "texts": count,
        "real_tokens": real,
        "padded_tokens": padded,
        "padded_tokens_per_text": padded / count,
        "overhead": padded / real,
    }


def latencies(call: Callable[[str], object], queries: list[str], desc: str) -> dict:
    call(queries[0])  # warm-up: first-query costs (SQLite page cache, Chroma index load) are not steady state
    times = []
    with Clock() as clock:
        for query in tqdm(queries, desc=desc, unit="query", file=sys.stderr):
            start = time.perf_counter()
            call(query)
            times.append((time.perf_counter() - start) * 1000)
    ms = np.asarray(times)
    return {
        "queries": len(times),
        "cpu_share": clock.share(),
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
        "max_ms": float(ms.max()),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def environment() -> dict:
    import chromadb
    import sentence_transformers
    import torch

    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpus": usable_cpus(),
        "cpu_model": cpu_model(),
        "ram_gib": ram_gib(),
        "gpu": torch.cuda.is_available(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_end": os.getloadavg(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "chromadb": chromadb.__version__,
        "sentence_transformers": sentence_transformers.__version__,
    }


def first_lines(path: Path, n: int, folder: Path) -> Path:
    """A copy of the first ``n`` lines of a JSON-lines file, under the same name, in ``folder``."""
    copy = folder / path.name
    with path.open("rb") as source, copy.open("wb") as out:
        for number, line in enumerate(source):
            if number >= n:
                break
            out.write(line)
    return copy


def run(corpus_dir: Path, limit: int | None, articles: int | None = None) -> dict:
    settings = Settings()
    if articles is not None:
        subset = Path(tempfile.mkdtemp(prefix="qa-bench-corpus-"))
        source, corpus_dir = corpus_dir, first_lines(corpus_dir, articles, subset)
    files = corpus_files(corpus_dir, limit)
    corpus = read_corpus(files, settings)
    queries = build_queries(corpus.headlines)
    raw_model, embedder = load_models()

    # Raw first, then the pipeline, always in this order, so that any drift (heat, neighbours) is the same
    # from one run to the next.
    raw = time_raw_encode(raw_model, corpus.texts)
    paths = [corpus_dir] if limit is None else [f.path for f in files]
    n_items = sum(count_items(f, max_bytes=settings.max_file_bytes) for f in files)
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        store_settings = Settings(data_dir=Path(tmp) / "data", cache_dir=Path(tmp) / "cache")
        with Pipeline.from_settings(store_settings, embedder=embedder) as pipeline:
            ingest, calls = time_ingest(pipeline, paths, n_items)
            raw_embed = latencies(lambda q: embedder.embed([q]), queries, "raw embed")
            search = latencies(lambda q: pipeline.search(q, k=SEARCH_K), queries, "pipeline search")
    ratio = ingest["sentences_per_s"] / raw["sentences_per_s"]
    pads = {"raw_encode": padding(raw_model, [corpus.texts]), "pipeline_ingest": padding(raw_model, calls)}
    # If the encoder's time were proportional to padded tokens, this is the ratio padding alone would allow.
    pads["ratio_from_padding"] = (
        pads["raw_encode"]["padded_tokens_per_text"] / pads["pipeline_ingest"]["padded_tokens_per_text"]
    )
    return {
        "environment": environment(),
        "corpus": {
            "path": str(source if articles is not None else corpus_dir),
            "limit": limit,
            "articles_limit": articles,
            "bytes": sum(f.path.stat().st_size for f in files),
            "files": len(files),
            "articles_read": corpus.articles,
            "read_failed": corpus.failed,
            "chunks_read": corpus.chunks,
            "sentences_read": len(corpus.texts),
            "read_chunk_seconds": corpus.seconds,
            "chunk_words": settings.chunk_words,
        },
        "raw_encode": raw,
        "pipeline_ingest": ingest,
        "ratio": ratio,
        "padding": pads,
        "raw_embed": raw_embed,
        "search": search,
        "targets": {
            "ratio_min": TARGET_RATIO,
            "ratio_met": ratio >= TARGET_RATIO,
            "search_p50_ms_max": TARGET_P50_MS,
            "search_p50_met": search["p50_ms"] < TARGET_P50_MS,
        },
    }


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def print_table(result: dict) -> None:
    env, corpus, raw, ingest = result["environment"], result["corpus"], result["raw_encode"], result["pipeline_ingest"]
    search, embed, targets = result["search"], result["raw_embed"], result["targets"]
    print(
        f"\n{env['date']}  {env['cpus']} CPUs ({env['cpu_model']}), {env['ram_gib']} GiB, GPU: {env['gpu']}"
        f"  Python {env['python']}, torch {env['torch']}, chromadb {env['chromadb']}"
    )
    print(
        f"corpus {corpus['path']}: {corpus['files']} files, {corpus['chunks_read']} chunks,"
        f" {corpus['sentences_read']} sentences read;"
        f" ingest added {ingest['added']}, unchanged {ingest['unchanged']}, replaced {ingest['replaced']},"
        f" failed {ingest['failed']}, {ingest['chunks']} chunks embedded\n"
    )
    rows = [
        ("phase", "what", "figure", "CPU share", "detail"),
        (
            "ingest",
            "raw encode",
            f"{raw['sentences_per_s']:.1f} sentences/s",
            f"{raw['cpu_share']:.2f}",
            f"{raw['sentences']} sentences in {raw['seconds']:.1f} s",
        ),
        (
            "ingest",
            "pipeline",
            f"{ingest['sentences_per_s']:.1f} sentences/s",
            f"{ingest['cpu_share']:.2f}",
            f"{ingest['sentences']} sentences ({ingest['chunks']} chunks) in {ingest['seconds']:.1f} s"
            f" (embed {ingest['embed_seconds']:.1f},"
            f" store write {ingest['write_seconds']:.1f}, other {ingest['other_seconds']:.1f})",
        ),
        (
            "ingest",
            "pipeline",
            f"{ingest['articles_per_s']:.2f} articles/s",
            "",
            f"{ingest['chunks_per_s']:.1f} chunks/s; {ingest['articles_stored']} articles in {ingest['writes']} writes,"
            f" the first committed after {ingest['first_commit_seconds'] or 0:.1f} s",
        ),
        (
            "ingest",
            "ratio",
            f"{result['ratio']:.3f}",
            "",
            f"target >= {targets['ratio_min']}: {verdict(targets['ratio_met'])}",
        ),
        (
            "search",
            "raw embed",
            f"p50 {embed['p50_ms']:.1f} ms",
            f"{embed['cpu_share']:.2f}",
            f"p95 {embed['p95_ms']:.1f} ms",
        ),
        (
            "search",
            "pipeline",
            f"p50 {search['p50_ms']:.1f} ms",
            f"{search['cpu_share']:.2f}",
            f"p95 {search['p95_ms']:.1f} ms; target p50 < {targets['search_p50_ms_max']:.0f} ms:"
            f" {verdict(targets['search_p50_met'])}",
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4])
    print("(CPU share: process CPU time / (wall time x CPUs); well below 1 means another process took the cores)")
    pads = result["padding"]
    raw_pad, pipe_pad = pads["raw_encode"], pads["pipeline_ingest"]
    print(
        f"padding: raw encode {raw_pad['encode_calls']} call(s), {raw_pad['padded_tokens_per_text']:.1f} token"
        f" positions/text ({raw_pad['overhead'] - 1:+.1%} over real tokens); pipeline {pipe_pad['encode_calls']}"
        f" calls, {pipe_pad['padded_tokens_per_text']:.1f} positions/text ({pipe_pad['overhead'] - 1:+.1%});"
        f" ratio allowed by padding alone ~{pads['ratio_from_padding']:.2f}"
    )


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none wanted
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    raw, ingest = result["raw_encode"]["sentences_per_s"], result["pipeline_ingest"]["sentences_per_s"]
    bars = left.bar(["raw encode", "pipeline ingest"], [raw, ingest], color=["#999999", "#1f77b4"])
    left.bar_label(bars, fmt="%.0f")
    target = raw * TARGET_RATIO
    left.axhline(target, color="red", linestyle="--", linewidth=1, label=f"target {TARGET_RATIO:.0%} of raw")
    left.set_ylabel("chunks / s")
    left.set_title(f"Ingest throughput (ratio {result['ratio']:.2f})")
    left.legend(loc="lower right")

    labels = ["raw embed", "pipeline search"]
    x = np.arange(len(labels))
    for offset, key, color in ((-0.2, "p50_ms", "#1f77b4"), (0.2, "p95_ms", "#ff7f0e")):
        values = [result["raw_embed"][key], result["search"][key]]
        bars = right.bar(x + offset, values, width=0.4, label=key.split("_")[0], color=color)
        right.bar_label(bars, fmt="%.1f")
    right.axhline(TARGET_P50_MS, color="red", linestyle="--", linewidth=1, label=f"p50 target {TARGET_P50_MS:.0f} ms")
    right.set_xticks(x, labels)
    right.set_ylabel("ms per query")
    right.set_title(f"Search latency, k={SEARCH_K}, {result['search']['queries']} queries")
    right.legend(loc="upper left")

    corpus = result["corpus"]
    fig.suptitle(f"qa ingest benchmark: {corpus['files']} files, {result['pipeline_ingest']['chunks']} chunks")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.corpus.exists():
        print(f"skip: corpus {args.corpus} not found (pass --corpus PATH)")
        return 0
    if args.articles is not None and args.corpus.suffix != ".jsonl":
        raise SystemExit("--articles takes the first lines of a .jsonl corpus")
    result = run(args.corpus, args.limit, args.articles)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ingest.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out / "ingest.png")
    print_table(result)
    print(f"\nwrote {args.out / 'ingest.json'} and {args.out / 'ingest.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
