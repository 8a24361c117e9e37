"""The command line: ``qa ingest | search | ask | summarize | timeline | eval | list | show | remove``.

The only module besides ``app.py`` that talks to people. Library errors become one line on
standard error and an exit code: 0 success, 2 bad input or usage, 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from qa.errors import InputError, QAError
from qa.pipeline import Pipeline
from qa.settings import Settings
from qa.text import replace_unsafe


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("store")
    group.add_argument("--data-dir", metavar="DIR", help="data directory (env QA_DATA_DIR)")
    group.add_argument("--chroma-url", metavar="URL", help="use a Chroma server (env QA_CHROMA_URL)")
    group.add_argument("--collection", metavar="NAME", help="Chroma collection (env QA_COLLECTION)")
    return common


def _model_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("language model")
    group.add_argument("--model", metavar="PATH", help="a GGUF file (env QA_MODEL)")
    group.add_argument("--llm-url", metavar="URL", help="an OpenAI-compatible model server (env QA_LLM_URL)")
    group.add_argument(
        "--mode", choices=["auto", "extractive", "generative"], help="how answers are made (env QA_ANSWER_MODE)"
    )
    group.add_argument(
        "--threshold",
        type=float,
        metavar="P",
        help="least confidence (0-1) for an answer; lower answers more, wrongly more often (env QA_ANSWER_THRESHOLD)",
    )
    return options


def _filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--article", action="append", metavar="ID", help="only this article (repeatable)")
    parser.add_argument("--since", metavar="YYYY-MM-DD", help="only articles dated on or after")
    parser.add_argument("--until", metavar="YYYY-MM-DD", help="only articles dated on or before")


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    model = _model_options()
    parser = _Parser(
        prog="qa",
        description="Answer questions about a collection of news articles, citing the source sentences.",
        epilog="Every option can also be set as an environment variable QA_<NAME>; see README.md.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    p = commands.add_parser(
        "ingest", parents=[common], help="add article files or folders, web pages or feeds to the store"
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH|URL",
        help=".txt, .md, .html, .jsonl files or folders; http(s):// URLs of pages or RSS/Atom feeds (fetched)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar, no per-file lines")
    group = p.add_argument_group("fetching (URLs only)")
    group.add_argument(
        "--timeout", type=float, metavar="S", help="seconds a page or feed has to arrive in full (env QA_FETCH_TIMEOUT)"
    )
    group.add_argument(
        "--delay", type=float, metavar="S", help="seconds between two requests to one host (env QA_FETCH_DELAY)"
    )

    p = commands.add_parser("search", parents=[common], help="the best passages for a query")
    p.add_argument("query")
    p.add_argument("--k", type=int, metavar="N", help="how many passages (default 5, env QA_K)")
    _filter_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = commands.add_parser(
        "ask", parents=[common, model], help="a cited answer from the articles, or 'they don't say'"
    )
    p.add_argument("question", nargs="?", help="the question (or use --batch)")
    p.add_argument("--batch", metavar="FILE", help="one question per line; prints one JSON object per line")
    _filter_options(p)
    p.add_argument("--json", action="store_true", help="print the answer object as JSON")

    p = commands.add_parser("summarize", parents=[common], help="cited summaries of articles, and a digest")
    p.add_argument("ids", nargs="*", metavar="ID", help="articles to summarise")
    p.add_argument("--all", action="store_true", help="every stored article")
    p.add_argument("--digest", action="store_true", help="also a digest across the articles")
    p.add_argument("--out", metavar="FILE", help="write to FILE.jsonl or FILE.md (atomically)")
    p.add_argument("--json", action="store_true", help="print one JSON object per summary")
    p.add_argument("--force", action="store_true", help="recompute even when a stored summary exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = commands.add_parser("timeline", parents=[common], help="dated events across the articles, each cited")
    p.add_argument("--article", action="append", metavar="ID", help="only this article (repeatable)")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only events dated on or after (not the articles' dates)")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="only events dated on or before")
    p.add_argument("--query", metavar="TEXT", help="only the passages qa search finds for TEXT (QA_K of them)")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print JSON")
    shape.add_argument("--md", action="store_true", help="print Markdown")

    p = commands.add_parser("eval", parents=[common, model], help="measure answers on a question set (JSON lines)")
    p.add_argument("questions", metavar="QUESTIONS.jsonl", help='lines of {"question", "answers": [...], "article"}')
    p.add_argument("--out", metavar="REPORT.md", help="write a Markdown report, with a PNG plot beside it")
    p.add_argument("--title", default="qa evaluation", help="the report's title")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = commands.add_parser("list", parents=[common], help="the stored articles: id, date, title, chunks")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = commands.add_parser("show", parents=[common], help="one article's text, with its indexed sentences")
    p.add_argument("id", metavar="ID")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = commands.add_parser("remove", parents=[common], help="delete an article from the store")
    p.add_argument("id", metavar="ID")
    return parser


# Settings a command-line flag can set, and the flag: an error names what the user typed.
_FLAGS = {"k": "--k", "answer_threshold": "--threshold", "fetch_timeout": "--timeout", "fetch_delay": "--delay"}


def _settings(args: argparse.Namespace) -> Settings:
    given = {
        "data_dir": args.data_dir,
        "chroma_url": args.chroma_url,
        "collection": args.collection,
        "k": getattr(args, "k", None),
        "model": getattr(args, "model", None),
        "llm_url": getattr(args, "llm_url", None),
        "answer_mode": getattr(args, "mode", None),
        "answer_threshold": getattr(args, "threshold", None),
        "fetch_timeout": getattr(args, "timeout", None),
        "fetch_delay": getattr(args, "delay", None),
    }
    try:
        return Settings.from_env(**given)
    except InputError as exc:
        for name, flag in _FLAGS.items():
            variable = f"QA_{name.upper()}="
            if given[name] is not None and str(exc).startswith(f"{variable}{given[name]}"):  # the flag's own value
                raise InputError(flag + "=" + str(exc).removeprefix(variable)) from None
        raise


def _quiet_libraries() -> None:
    """Keep third-party chatter (and their progress bars) off the user's terminal."""
    warnings.filterwarnings("ignore")
    for name in ("chromadb", "sentence_transformers", "transformers", "httpx", "urllib3", "trafilatura", "htmldate"):
        logging.getLogger(name).setLevel(logging.ERROR)


def inert(text: str) -> str:
    """``text`` as it may reach a terminal: every :func:`qa.text.unsafe` character (a control
    character but newline and tab, a format character, a lone surrogate) is written as a
    visible ``\\uXXXX`` escape, so stored text can never drive the terminal. Inside JSON
    strings the escape is the same value, so JSON output stays exact.

    Example: ``inert("a\x1b[31mb") == "a\\u001b[31mb"``
    """
    return replace_unsafe(text, lambda ch: f"\\u{ord(ch):04x}")


class _InertOutput:
    """A text stream that passes everything written through :func:`inert`."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(inert(text))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit code. What it prints cannot drive a terminal (:func:`inert`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_libraries()
    stdout = sys.stdout
    sys.stdout = _InertOutput(stdout)
    try:
        return _run(args)
    finally:
        sys.stdout = stdout


def _run(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
        with Pipeline.from_settings(settings) as pipeline:
            return COMMANDS[args.command](pipeline, args)
    except QAError as exc:
        print(inert(f"qa: error: {exc}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: never a traceback
        if Settings.from_env().debug:
            raise
        print(inert(f"qa: unexpected error: {type(exc).__name__}: {exc} (set QA_DEBUG=1 for details)"), file=sys.stderr)
        return 1


def _ingest(pipeline: Pipeline, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qa.stopping import stop_on_signals

    bar = None if args.quiet else _IngestBar()

    def fetching(url: str) -> None:  # network access is visible, --quiet or not
        tqdm.write(inert(f"fetch: {url}"), file=sys.stderr)  # above a progress bar, if one is shown

    try:
        with stop_on_signals():  # Ctrl-C or a kill: stop after the write in progress, keep what is written
            report = pipeline.ingest(args.paths, on_progress=bar.show if bar else None, on_fetch=fetching)
    finally:
        if bar is not None:
            bar.close()
    for where, reason in report.failed:
        print(inert(f"failed: {where}: {reason}"), file=sys.stderr)
    for where, note in report.notes:
        print(inert(f"note: {where}: {note}"), file=sys.stderr)
    if report.stopped:
        print(
            f"stopped: {report.stored} articles stored ({report.chunks} chunks); run the same command again to resume",
            file=sys.stderr,
        )
        return 128 + signal.Signals[report.stopped].value
    if not args.quiet:
        for name in report.replaced:
            print(inert(f"replaced: {name}"), file=sys.stderr)
        for name in report.removed:
            print(inert(f"removed: {name}"), file=sys.stderr)
    dropped = f"; {report.duplicates} duplicate chunks dropped" if report.duplicates else ""
    print(inert(f"{report.summary()} ({report.chunks} new chunks{dropped})"))
    return InputError.exit_code if report.failed else 0


class _IngestBar:
    """The ingest progress bar: articles done of those counted, articles and chunks written per
    second, and the time left at that pace (see :meth:`qa.types.IngestProgress.eta`)."""

    def __init__(self) -> None:
        self.bar = None

    def show(self, progress) -> None:
        from tqdm import tqdm

        if self.bar is None:
            if not progress.total:  # only URLs: nothing to count
                return
            self.bar = tqdm(
                total=progress.total, unit="article", desc="ingest", file=sys.stderr, dynamic_ncols=True,
                miniters=1,  # no refresh from tqdm's monitor thread: every line comes from this thread, in order
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} articles [{elapsed}{postfix}]",
            )  # fmt: skip
        articles, chunks = progress.per_second()
        eta = progress.eta()
        left = "?" if eta is None else self.bar.format_interval(eta)
        self.bar.set_postfix_str(f"{articles:.2f} articles/s, {chunks:.1f} chunks/s, {left} left", refresh=False)
        self.bar.update(progress.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _search(pipeline: Pipeline, args: argparse.Namespace) -> int:
    hits = pipeline.search(args.query, k=args.k, article_ids=args.article, date_from=args.since, date_to=args.until)
    if args.json:
        payload = {"query": args.query, "hits": [{"rank": i, **h.to_dict()} for i, h in enumerate(hits, 1)]}
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no passages found")
    for i, hit in enumerate(hits, start=1):
        date = hit.article.date or "no date"
        print(f"{i}. {hit.article.title} [{date}] {hit.article.id}")
        if hit.sentence:
            sentence = " ".join(hit.sentence_text.split())
            print(f"   > {sentence}  (chars {hit.sentence.start}-{hit.sentence.end})")
        print(f"   passage (chars {hit.chunk.start}-{hit.chunk.end}): {hit.chunk.text}\n")
    return 0


def _ask(pipeline: Pipeline, args: argparse.Namespace) -> int:
    filters = {"article_ids": args.article, "date_from": args.since, "date_to": args.until}
    if args.batch:
        if args.question:
            raise InputError("give a question or --batch FILE, not both")
        return _ask_batch(pipeline, args.batch, filters)
    if args.question is None:
        raise InputError('give a question, e.g. qa ask "Who led the offensive?"')
    answer = pipeline.ask(args.question, **filters)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    if answer.short_answer:
        raw = getattr(sys.stdout, "stream", sys.stdout)  # past the inert filter: the bold is ours
        bold = ("\033[1m", "\033[0m") if raw.isatty() else ("", "")
        raw.write(f"{bold[0]}{inert(answer.short_answer)}{bold[1]}\n\n")
    print(answer.text)
    if answer.note:
        print(f"\nnote: {answer.note}")
    for c in answer.citations:
        print(f"\n[{c.number}] {c.title} ({c.date or 'no date'}, {c.source}, chars {c.start}-{c.end})")
        print(f'    "{" ".join(c.sentence.split())}"')
        if c.warning:
            print(f"    note: {c.warning}")
    if answer.closest:
        c = answer.closest
        print(f'\nClosest passage, not an answer: "{" ".join(c.sentence.split())}"')
        print(f"    ({c.title}, {c.date or 'no date'}, {c.source}, chars {c.start}-{c.end})")
        if c.warning:
            print(f"    note: {c.warning}")
    t = answer.timings
    model_time = t.get("prompt", 0) + t.get("generation", 0)
    confidence = f"confidence {answer.confidence:.2f}; " if answer.confidence is not None else ""
    print(
        f"\n({answer.method}; {confidence}retrieval {t.get('retrieval', 0):.2f}s,"
        f" model {model_time:.2f}s, total {t['total']:.2f}s)",
        file=sys.stderr,
    )
    return 0


def _ask_batch(pipeline: Pipeline, path: str, filters: dict) -> int:
    """One JSON object per input line; a bad question gets an error object and the rest go on."""
    try:
        lines = open(path, encoding="utf-8").read().splitlines()  # noqa: SIM115
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    failed = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = pipeline.ask(line, **filters).to_dict()
        except InputError as exc:
            failed += 1
            record = {"question": line[:200], "error": str(exc)}
        print(json.dumps(record, ensure_ascii=False), flush=True)
    return InputError.exit_code if failed else 0


def _summarize(pipeline: Pipeline, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    if bool(args.ids) == args.all:
        raise InputError("name the articles to summarise (qa summarize ID ...) or use --all")
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix not in (".jsonl", ".md"):
        raise InputError(f"--out must end in .jsonl or .md, not {out.name!r}")
    ids = None if args.all else args.ids
    bar = None

    def start(total: int) -> None:
        nonlocal bar
        if not args.quiet and total > 1:
            bar = tqdm(total=total, unit="article", desc="summarize", file=sys.stderr, dynamic_ncols=True)

    def step(article_id: str, computed: bool) -> None:
        if bar is not None:
            bar.update(1)

    try:
        report = pipeline.summarize(ids, force=args.force, on_start=start, on_article=step)
    finally:
        if bar is not None:
            bar.close()
    summaries = list(report.summaries)
    if args.digest:
        summaries.append(pipeline.digest([s.article_ids[0] for s in report.summaries], force=args.force))
    if out is not None:
        if out.suffix == ".jsonl":
            body = "".join(json.dumps(s.to_dict(), ensure_ascii=False) + "\n" for s in summaries)
        else:
            body = "\n".join(s.to_markdown() for s in summaries)
        write_atomically(out, body)
        print(f"wrote {len(summaries)} summaries to {out}", file=sys.stderr)
    elif args.json:
        for s in summaries:
            print(json.dumps(s.to_dict(), ensure_ascii=False))
    else:
        print("\n".join(s.to_markdown() for s in summaries))
    print(f"summarized {report.computed}, reused {report.reused} stored", file=sys.stderr)
    return 0


def _timeline(pipeline: Pipeline, args: argparse.Namespace) -> int:
    timeline = pipeline.timeline(args.article, query=args.query, since=args.since, until=args.until)
    if args.json:
        print(json.dumps(timeline.to_dict(), ensure_ascii=False, indent=2))
    elif args.md:
        print(timeline.to_markdown(), end="")
    else:
        print(timeline.to_text(), end="")
    return 0


def write_atomically(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never a part."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def _eval(pipeline: Pipeline, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qa import evaluate

    items = evaluate.load_items(args.questions)
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix != ".md":
        raise InputError(f"--out must end in .md, not {out.name!r}")
    pipeline.require_articles()
    bar = tqdm(total=len(items), unit="question", desc="eval", file=sys.stderr, disable=args.quiet)
    try:
        report = evaluate.evaluate(
            pipeline.ask, items, k=pipeline.settings.answer_chunks, on_item=lambda: bar.update(1)
        )
    finally:
        bar.close()
    metrics = report.metrics()
    threshold = pipeline.answerer().threshold
    if out is not None:
        picture = out.with_suffix(".png")
        evaluate.plot(report, picture, threshold=threshold)
        write_atomically(out, evaluate.to_markdown(report, title=args.title, plot_name=picture.name))
        print(f"wrote {out} and {picture}", file=sys.stderr)
    if args.json:
        curve = [{"threshold": round(t, 4), "coverage": round(c, 4), "precision": round(p, 4)}
                 for t, c, p in report.curve()]  # fmt: skip
        print(json.dumps({**metrics, "threshold": threshold, "risk_coverage": curve}, indent=2))
    else:
        for key, value in metrics.items():
            if key != "latency_s":
                shown = "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else value
                print(f"{key:32} {shown}")
        print(f"{'threshold':32} {threshold:.3f}")
        for stage, v in metrics["latency_s"].items():
            print(f"latency {stage:24} p50 {v['p50']:.3f}s  p95 {v['p95']:.3f}s")
    return 0


def _list(pipeline: Pipeline, args: argparse.Namespace) -> int:
    articles = pipeline.articles()
    if args.json:
        rows = [
            {"id": a.id, "date": a.date, "title": a.title, "source": a.source, "chunks": a.chunks} for a in articles
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not articles:
        print("no articles yet; add some with 'qa ingest PATH'")
    for a in articles:
        print(f"{a.id}  {a.date or '----------'}  {a.chunks:>3}  {a.title}")
    return 0


def _show(pipeline: Pipeline, args: argparse.Namespace) -> int:
    article = pipeline.article(args.id)
    if args.json:
        payload = {
            "id": article.id,
            "title": article.title,
            "date": article.date,
            "source": article.source,
            "text": article.text,
            "sentences": [{"start": s.start, "end": s.end} for s in article.sentences],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0
    print(f"{article.title}\n{article.date or 'no date'} | {article.source} | {article.id}\n")
    print(article.text)
    return 0


def _remove(pipeline: Pipeline, args: argparse.Namespace) -> int:
    info = pipeline.remove(args.id)
    print(f"removed {info.id} ({info.title})")
    return 0


COMMANDS = {
    "ingest": _ingest,
    "search": _search,
    "ask": _ask,
    "summarize": _summarize,
    "timeline": _timeline,
    "eval": _eval,
    "list": _list,
    "show": _show,
    "remove": _remove,
}
