"""How well the HTML reader finds an article's body: qa's reader beside the one it replaced and bare trafilatura.

Corpus: the article-extraction benchmark in ``shared/corpora/article-extraction-benchmark`` beside the repository
(saved news pages, gzip, and ``ground-truth.json`` with each page's body as a person marked it; see its SOURCE.md).
Each reader turns every page into text, which is compared with the true body:

- token precision, recall and F1 per page: the words (``\\w+`` runs) of the extracted text against those of the
  true body, counted as multisets (a word found twice where the body has it once counts once), then averaged over
  the pages;
- the benchmark's own measure beside it: the same counts over shingles (runs of four words), each page's counts
  scaled to sum to one, precision and recall averaged over the pages and F1 taken of the two averages. This is the
  figure the benchmark's published table gives (trafilatura 0.958 on all 181 pages).

Readers:

- ``hand-written (before)``: the BeautifulSoup rules qa used before trafilatura (the first ``<article>``, else
  ``<main>``, else ``<body>``, without scripts, navigation, headers, footers, figures, comments, hidden elements),
  copied here unchanged from ``qa/ingest.py`` at commit fdf4e3f: the text it stored;
- ``trafilatura``: ``trafilatura.extract(html)`` with its defaults, on the raw page;
- ``trafilatura, favor_precision``: the same with ``favor_precision=True``;
- ``qa: safety pass + trafilatura``: ``qa.ingest.read_html(html).body``, the safety pass (:func:`qa.ingest.safe_tree`:
  comments, scripts, hidden elements removed) then trafilatura with :data:`qa.ingest.TRAFILATURA_OPTIONS`;
- ``qa: stored text``: what qa stores for the page (:func:`qa.ingest.page_text`): the same body with the headline
  and a ``By AUTHOR · SITE`` line above it, which the true body does not have.

Output: a Markdown table on stdout, and every page's figures in ``<out>/extraction.json`` (default ``bench/out/``).
If the corpus is absent it says so and exits 0. About a minute on 2 cores.

    .venv/bin/python bench/extraction.py [--corpus PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CORPUS = BENCH_DIR.parent.parent / "shared" / "corpora" / "article-extraction-benchmark"
DEFAULT_OUT = BENCH_DIR / "out"
_TOKEN = re.compile(r"\w+")


# --- the reader qa used before (qa/ingest.py at fdf4e3f), kept to measure against --------------------------------

_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_DROP_TAGS = (
    "script", "style", "noscript", "template", "iframe", "svg", "canvas", "form", "button",
    "nav", "header", "footer", "aside", "figure", "figcaption", "picture", "video", "audio",
    "object", "embed", "head",
)  # fmt: skip
_BLOCK_TAGS = (
    "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
    "ol", "blockquote", "pre", "table", "tr", "td", "th", "br", "hr", "dd", "dt", "dl",
)  # fmt: skip


def hand_written(text: str) -> str:
    """The body text the BeautifulSoup reader of fdf4e3f stored for a page."""
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(text, "html.parser")
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    for tag in root.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in root.find_all(True):
        if tag.decomposed:
            continue
        attrs = tag.attrs or {}
        if (
            "hidden" in attrs
            or str(attrs.get("aria-hidden", "")).lower() == "true"
            or _HIDDEN_STYLE.search(str(attrs.get("style", "")))
        ):
            tag.decompose()
    for tag in root.find_all(_BLOCK_TAGS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    raw = root.get_text()
    lines = (" ".join(block.split()) for block in re.split(r"\n\s*\n", raw))
    return "\n\n".join(line for line in lines if line)


# --- measures ------------------------------------------------------------------------------------------------------


def counts(true: Counter, found: Counter) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of two multisets."""
    tp = sum((true & found).values())
    return tp, sum(found.values()) - tp, sum(true.values()) - tp


def token_scores(true: str, found: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of the words of ``found`` against those of ``true``.

    Example: ``token_scores("a b c d", "a b x") == (2 / 3, 0.5, 4 / 7)``
    """
    tp, fp, fn = counts(Counter(_TOKEN.findall(true)), Counter(_TOKEN.findall(found)))
    precision = tp / (tp + fp) if tp + fp else float(fn == 0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def shingle_counts(true: str, found: str, n: int = 4) -> tuple[float, float, float]:
    """The benchmark's per-page (tp, fp, fn) over runs of ``n`` words, scaled to sum to 1."""

    def shingles(text: str) -> Counter:
        words = _TOKEN.findall(text)
        return Counter(tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1)) if words[i : i + n])

    tp, fp, fn = counts(shingles(true), shingles(found))
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def shingle_summary(rows: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The benchmark's precision, recall (each averaged over pages) and the F1 of those two averages."""

    def precision(tp, fp, fn):
        return 1.0 if fp == fn == 0 else 0.0 if tp == fp == 0 else tp / (tp + fp)

    def recall(tp, fp, fn):
        return 1.0 if fp == fn == 0 else 0.0 if tp == fn == 0 else tp / (tp + fn)

    p = statistics.mean(precision(*r) for r in rows if r[0] + r[1] > 0)
    r = statistics.mean(recall(*r) for r in rows if r[0] + r[2] > 0)
    return p, r, 2 * p * r / (p + r)


# --- readers -------------------------------------------------------------------------------------------------------


def readers() -> dict[str, Callable[[str], str]]:
    import trafilatura

    from qa.ingest import page_text, read_html

    return {
        "hand-written (before)": hand_written,
        "trafilatura": lambda html: trafilatura.extract(html) or "",
        "trafilatura, favor_precision": lambda html: trafilatura.extract(html, favor_precision=True) or "",
        "qa: safety pass + trafilatura": lambda html: read_html(html).body,
        "qa: stored text": lambda html: page_text(read_html(html)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    truth_path = args.corpus / "ground-truth.json"
    if not truth_path.exists():
        print(f"no benchmark corpus at {args.corpus}; nothing measured")
        return 0
    import trafilatura

    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    pages = {}
    for key in sorted(truth):
        path = args.corpus / "html" / f"{key}.html.gz"
        if path.exists():
            pages[key] = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
    methods = readers()
    per_page: dict[str, dict[str, dict]] = {name: {} for name in methods}
    seconds: Counter = Counter()
    for key, html in pages.items():
        body = truth[key].get("articleBody", "")
        for name, read in methods.items():
            start = time.perf_counter()
            try:
                text = read(html)
            except Exception as exc:  # a reader that fails on a page scores nothing there
                print(f"{name}: {key}: {type(exc).__name__}: {exc}", file=sys.stderr)
                text = ""
            seconds[name] += time.perf_counter() - start
            p, r, f = token_scores(body, text)
            per_page[name][key] = {"precision": p, "recall": r, "f1": f, "shingles": shingle_counts(body, text)}

    print(f"{len(pages)} pages of {args.corpus.name}; trafilatura {trafilatura.__version__}\n")
    print("| reader | token precision | token recall | token F1 (mean) | pages with F1 < 0.8 "
          "| benchmark's F1 (4-word shingles) | ms/page |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    summary = {}
    for name, rows in per_page.items():
        mean = {m: statistics.mean(row[m] for row in rows.values()) for m in ("precision", "recall", "f1")}
        low = sum(row["f1"] < 0.8 for row in rows.values())
        shingle_f1 = shingle_summary([row["shingles"] for row in rows.values()])[2]
        ms = 1000 * seconds[name] / len(pages)
        summary[name] = {**mean, "pages_below_0.8": low, "benchmark_f1": shingle_f1, "ms_per_page": ms}
        print(f"| {name} | {mean['precision']:.3f} | {mean['recall']:.3f} | {mean['f1']:.3f} | {low} "
              f"| {shingle_f1:.3f} | {ms:.0f} |")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "extraction.json"
    out.write_text(json.dumps({"summary": summary, "pages": per_page}, indent=1))
    print(f"\nper-page figures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
