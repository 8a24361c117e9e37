"""Resolution accuracy of qa's time expressions on a hand-annotated sample.

``tests/data/timeline_gold.jsonl`` holds 78 time expressions, each with its article's
identifier (URL or file), the article's date (null for the BBC files, which carry none), the
one sentence it stands in, and the date a careful reader would give (``gold.value`` and
``gold.precision``; see README "Timeline" for the conventions). It is split by a fixed rule
(:func:`split`): the seeds and the articles whose identifier's SHA-256 starts with 0-7 are
the *tune* part (read while writing ``qa/timeline.py``); the rest is *held out* and only
measured. ``tests/test_timeline.py`` asserts a floor on the held-out part only.

An expression counts as right when qa finds an expression overlapping it in the sentence
and resolves it as the gold says: the same value, or for ``approximate`` and ``unresolved``
gold, the same precision label. The baseline is dateparser's ``search_dates`` alone, with
the same relative base: right when one of its finds overlaps the gold expression and its
date, cut to the gold's precision, is the gold (it has no notion of periods, vagueness or
events, so those count against it).

    .venv/bin/python bench/eval_timeline.py [--show-misses tune]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.timeline import find, parse_date  # noqa: E402

GOLD = ROOT / "tests" / "data" / "timeline_gold.jsonl"


def load(path: Path = GOLD) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def split(item: dict) -> str:
    """``tune`` or ``heldout``, fixed by the article's identifier (the seeds were tuned on).

    Example: ``split({"article": "seeds/000_a82d1c47b728eca4.txt"}) == "tune"``
    """
    if item["article"].startswith("seeds/"):
        return "tune"
    return "tune" if hashlib.sha256(item["article"].encode()).hexdigest()[0] in "01234567" else "heldout"


def _where(item: dict) -> tuple[int, int]:
    start = item["sentence"].index(item["expression"])
    return start, start + len(item["expression"])


def judge(item: dict) -> tuple[bool, str]:
    """Whether qa resolves the item as the gold says, and what it said."""
    start, end = _where(item)
    found = [e for e in find(item["sentence"], parse_date(item["date"])) if e.start < end and start < e.end]
    if not found:
        return False, "not found"
    e = found[0]
    gold = item["gold"]
    if gold["precision"] in ("approximate", "unresolved"):
        ok = e.precision == gold["precision"]
    else:
        ok = e.value == gold["value"]
    return ok, f"{e.text!r} -> {e.value} ({e.precision})"


def judge_baseline(item: dict) -> bool:
    from dateparser.search import search_dates

    start, end = _where(item)
    published = parse_date(item["date"])
    settings = {"PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False}
    if published:
        settings["RELATIVE_BASE"] = dt.datetime(published.year, published.month, published.day)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finds = search_dates(item["sentence"], languages=["en"], settings=settings) or []
    gold = item["gold"]
    position = 0
    for text, when in finds:
        at = item["sentence"].find(text, position)
        position = max(position, at + 1)
        if at < end and start < at + len(text):
            width = {"day": 10, "month": 7, "year": 4}.get(gold["precision"])
            return width is not None and when.date().isoformat()[:width] == gold["value"]
    return gold["precision"] == "unresolved"


def accuracy(items: list[dict]) -> float:
    return sum(judge(i)[0] for i in items) / len(items)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--show-misses", choices=["tune", "heldout"], help="print what qa gets wrong on this part (tune on tune only)"
    )
    args = parser.parse_args()
    items = load()
    print("| part | expressions | qa | search_dates alone |")
    print("| --- | --- | --- | --- |")
    for part in ("tune", "heldout"):
        chosen = [i for i in items if split(i) == part]
        ours = accuracy(chosen)
        base = sum(judge_baseline(i) for i in chosen) / len(chosen)
        print(f"| {part} | {len(chosen)} | {ours:.2f} | {base:.2f} |")
    if args.show_misses:
        for item in (i for i in items if split(i) == args.show_misses):
            ok, said = judge(item)
            if not ok:
                print(f"[{split(item)}] {item['expression']!r} (date {item['date']}): gold {item['gold']}, qa {said}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
