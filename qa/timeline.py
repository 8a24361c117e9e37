"""A cited timeline: the time expressions of the articles' sentences, resolved and merged.

**Finding.** Time expressions are found in the indexed sentences with generic English
patterns (month and weekday names, years, "yesterday", "last week", "three days ago",
"since 2018", "in recent weeks", "a night before ..."). The pattern, not the library, finds
them because dateparser's ``search_dates`` both invents dates from ordinary words ("may",
"the five decade", "23-year") and misses common ones ("last week"); see
``bench/eval_timeline.py``, which measures both.

**Resolving.** dateparser resolves each expression against the article's publication date
(``RELATIVE_BASE``, preferring the past) and says how precise the result is (its
``period``). Four things are rules, because the library has no answer for them:

- a weekday named alone ("on Sunday") is the latest such day *on or before* the publication
  date, as news writes it; dateparser skips the publication day itself, so weekdays are
  resolved from the day after;
- a clause that speaks of the future ("will", "would", "is scheduled" among the
  :data:`FUTURE_WINDOW` words before the expression) takes the next date, not the last;
- decades ("the 1990s") and "since X" / "between X and Y" are periods built from the years
  the library resolves;
- "in recent weeks", "in the past few years": approximate, ending at the publication date;
- an expression tied to another event ("a night before entering the city", "two days
  later", "the following week") is *unresolved*, and says so: the event it hangs on is in
  words, not on the calendar.

An article with no date resolves only absolute expressions: an expression counts as absolute
when dateparser gives the same date for it from two different relative bases.

**Merging.** Mentions from different articles are about *the same event* when their
sentences' embeddings have cosine at least :data:`SAME_EVENT`, or at least :data:`RELATED`
while sharing at least :data:`SHARED_NAMES` proper names (time words such as weekday or
month names do not count). Same event and the same resolved date: one entry citing every
source. Same event with cosine at least :data:`SAME_EVENT` but dates that do not overlap:
one entry with the dates side by side (``dates_differ``), never averaged.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

import numpy as np

from qa.cite import Terms
from qa.question import _MONTH as _MONTH_NAME
from qa.question import _WEEKDAY as _WEEKDAY_NAME
from qa.types import Article, Chunk, Citation, Span

SAME_EVENT = 0.75  # sentence cosine above which two sentences report the same event
RELATED = 0.5  # cosine above which shared names are enough to call it the same event
SHARED_NAMES = 2
BLOCK = 1024  # sentences compared per matrix product, to bound memory
NO_DATE = "relative to the publication date, and the article has no date"
PRECISIONS = ("day", "month", "year", "period", "approximate", "unresolved")

# Month and weekday names count only capitalised ("may", "march" are words too).
_MONTH = rf"(?-i:{_MONTH_NAME})"
_WEEKDAY = rf"(?-i:{_WEEKDAY_NAME})"
_DAYNUM = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
_NUM = (
    r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty"
    r"|a few|a couple of|several|few|many)"
)
_UNIT = r"(?:hours?|days?|nights?|weeks?|months?|years?|decades?)"
_PART = r"(?:morning|afternoon|evening|night)"
_SEASON = r"(?:spring|summer|fall|autumn|winter)"
_DATE = (
    rf"(?:{_WEEKDAY},?\s+)?(?:{_MONTH}\s+{_DAYNUM}(?:,?\s+{_YEAR})?(?!\d)|{_DAYNUM}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?"
    rf"|{_YEAR}-\d\d-\d\d|{_MONTH},?\s+{_YEAR})"
)
# Alternatives in order of preference; the group name says how the match is resolved.
_PATTERNS = [
    ("event", rf"\b(?i:{_NUM}\s+{_UNIT}|the\s+{_UNIT}|shortly|soon|just|hours|days|weeks)"
              rf"\s+(?:(?i:later|earlier)\b|(?i:before|after)"
              rf"(?:\s+(?!(?i:and|but|as|when|while)\b)[\w'\u2019-]+){{0,3}})"
              rf"|\b(?i:the\s+(?:next|following|previous|same)\s+(?:day|night|week|month|year|morning|evening)\b)"
              rf"|\b(?i:(?:earlier|later)\s+that\s+(?:day|night|week|month|year|morning|evening)\b)"
              rf"|\b(?i:that\s+(?:day|night|morning|evening)\b)"
              rf"|\b(?i:(?:since|by|until|before)\s+then)\b"),  # fmt: skip
    ("span", rf"\b(?:between|from)\s+{_YEAR}\s+(?:and|to|until)\s+{_YEAR}\b"),
    ("since", rf"\bsince\s+(?:(?:early|late|mid)[\s-]+)?(?:{_DATE}|(?:{_MONTH}\s+)?{_YEAR})\b"),
    ("decade", r"\b(?:the\s+)?(?:(?:early|mid|late)[\s-]+)?(?:19|20)\d0s\b"),
    ("approx", rf"\b(?:in\s+)?recent\s+(?:days|weeks|months|years|decades)\b"
               rf"|\b(?:in|over|during)\s+the\s+(?:past|last)\s+(?:few|several|couple\s+of)\s+"
               rf"(?:days|weeks|months|years|decades)\b"
               rf"|\b(?:(?:this|last|next|in|early|late)\s+(?:the\s+)?)?{_SEASON}\s+(?:of\s+)?{_YEAR}\b"
               rf"|\b(?:this|last|next|early|late)\s+{_SEASON}\b(?!\s+of\b)"),  # fmt: skip
    ("past", r"\b(?:in|over|during)\s+the\s+(?:past|last)\s+(?:(?:\d+|two|three|four|five|six|seven|eight|nine|ten"
             r"|twelve|24|48)\s+)?(?:hours|days|weeks|months|years|decade|week|month|year|day)\b"),  # fmt: skip
    ("date", rf"(?:\b(?:early|late|mid)[\s-]+)?{_DATE}"),
    ("weekday", rf"(?:\b(?:early|late)\s+(?:on\s+)?)?(?:\b(?:last|this|next)\s+)?{_WEEKDAY}(?:\s+{_PART})?"),
    ("relative", rf"\b(?:(?-i:today|Today(?<=^Today))|yesterday|tomorrow|tonight|last\s+night|this\s+{_PART}"
                 rf"|(?:(?:earlier|later)\s+)?(?:this|last|next)\s+(?:week|month|year|weekend)"
                 rf"|{_NUM}\s+(?:days?|weeks?|months?|years?|decades?)\s+ago)\b"),  # fmt: skip
    ("month", r"(?:\b(?:early|late|mid)[\s-]+)?\b(?-i:January|February|March|April|June|July|August|September|October"
              r"|November|December)\b|(?:\b(?:early|late|mid)[\s-]+|(?<=\bin\s)|(?<=\bby\s)|(?<=\buntil\s))(?-i:May)\b"),
    ("year", rf"(?:\b(?:early|late|mid)[\s-]+)?(?<![$\u00a3\u20ac\d.,-]){_YEAR}\b"
             r"(?![-\u2013%]|\s?(?:percent|km|miles?)\b)"),
]  # fmt: skip
_FINDER = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS), re.IGNORECASE)
# Every expression the pattern finds holds one of these (a cheap test before the long pattern).
_HINT = re.compile(
    r"\d|day|night|week|month|year|decade|ago|recent|then|later|earlier|before|after|tonight|tomorrow|morning"
    r"|evening|spring|summer|fall|autumn|winter|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec",
    re.IGNORECASE,
)
# Words that put a clause in the future ("will vote on Monday", "is scheduled for Saturday"),
# looked for among the FUTURE_WINDOW words before the expression in its clause.
_FUTURE = re.compile(
    r"\b(?:will|would|shall|'ll|scheduled|expected|due|set\s+to|plans?\s+to|planned|going\s+to|upcoming)\b",
    re.IGNORECASE,
)
FUTURE_WINDOW = 8
# ... and only for a time adverbial ("close on Monday", "scheduled for Saturday"), not for a
# date that names something ("would pardon Jan. 6 defendants").
_ADVERBIAL = re.compile(r"^(?:on|for|by|until|till|in|before|after|from|through|next|this)$", re.IGNORECASE)
_MODIFIER = re.compile(r"^(?:(?:early|late|mid|earlier|later)[\s-]+(?:on\s+)?|since\s+|the\s+)", re.IGNORECASE)
_PART_WORD = re.compile(rf"\s+{_PART}$")


@dataclass(frozen=True)
class TimeExpression:
    """A time expression in an article: its exact span and what it resolves to.

    ``value`` is ``YYYY-MM-DD`` (day), ``YYYY-MM`` (month), ``YYYY`` (year), or an ISO
    interval ``START/END`` (period; ``..`` for an open end), or None when unresolved.
    ``first``/``last`` are the first and last day it covers.
    """

    text: str
    start: int
    end: int
    value: str | None
    precision: str  # one of PRECISIONS
    first: str | None = None
    last: str | None = None
    note: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def parse_date(value: str | None) -> dt.date | None:
    """An article's stored ``YYYY-MM-DD`` date as a date, or None.

    Example: ``parse_date("2024-12-08") == dt.date(2024, 12, 8)``
    """
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _parser(base: dt.date, prefer: str = "past"):
    from dateparser.date import DateDataParser

    settings = {
        "RELATIVE_BASE": dt.datetime(base.year, base.month, base.day),
        "PREFER_DATES_FROM": prefer,
        "RETURN_TIME_AS_PERIOD": True,
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    return DateDataParser(languages=["en"], settings=settings)


def _library(text: str, base: dt.date, prefer: str = "past") -> tuple[dt.date, str] | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            data = _parser(base, prefer).get_date_data(text)
        except (ValueError, OverflowError):  # a date out of range ("9999 years ago"): not a date
            return None
    if data is None or data.date_obj is None:
        return None
    return data.date_obj.date(), data.period or "day"


# Two bases far apart: an expression that resolves the same from both does not depend on one.
_PROBES = (dt.date(2001, 2, 14), dt.date(2013, 9, 3))


def _month_end(day: dt.date) -> dt.date:
    following = day.replace(day=28) + dt.timedelta(days=4)
    return following - dt.timedelta(days=following.day)


def _shaped(text: str, start: int, end: int, day: dt.date, period: str, note: str | None) -> TimeExpression:
    """The expression at the precision the library reported."""
    if period in ("day", "time", "part_of_day"):
        return TimeExpression(text, start, end, day.isoformat(), "day", day.isoformat(), day.isoformat(), note)
    if period == "week":
        monday = day - dt.timedelta(days=day.weekday())
        sunday = monday + dt.timedelta(days=6)
        return TimeExpression(text, start, end, f"{monday}/{sunday}", "period", str(monday), str(sunday), note)
    if period == "month":
        first = day.replace(day=1)
        return TimeExpression(text, start, end, first.isoformat()[:7], "month", str(first), str(_month_end(day)), note)
    if period == "quarter":
        first = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
        last = _month_end(first.replace(month=first.month + 2))
        return TimeExpression(text, start, end, f"{first}/{last}", "period", str(first), str(last), note)
    first, last = dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
    return TimeExpression(text, start, end, str(day.year), "year", str(first), str(last), note)


def _unresolved(text: str, start: int, end: int, note: str) -> TimeExpression:
    return TimeExpression(text, start, end, None, "unresolved", note=note)


def resolve(
    text: str, kind: str, published: dt.date | None, *, start: int = 0, end: int | None = None, future: bool = False
) -> TimeExpression:
    """Resolve one expression found by :func:`find` (``kind`` is its pattern's name).

    ``future``: the clause speaks of what is to come ("will meet on Monday"), so a weekday or a
    date without a year is the next one rather than the last.

    Example: ``resolve("last week", "relative", dt.date(2024, 12, 8)).value == "2024-11-25/2024-12-01"``
    """
    prefer = "future" if future else "past"
    end = start + len(text) if end is None else end
    words = " ".join(text.split())
    if kind == "event":
        return _unresolved(text, start, end, "relative to another event, not to the publication date")
    if kind == "decade":
        decade = int(re.search(r"\d{4}", words).group())
        first, last = dt.date(decade, 1, 1), dt.date(decade + 9, 12, 31)
        return TimeExpression(text, start, end, f"{decade}/{decade + 9}", "period", str(first), str(last))
    if kind == "span":
        low, high = (int(y) for y in re.findall(r"\d{4}", words))
        first, last = dt.date(low, 1, 1), dt.date(high, 12, 31)
        return TimeExpression(text, start, end, f"{low}/{high}", "period", str(first), str(last))
    year = re.search(r"\b\d{4}\b", words)
    if kind == "approx" and year:  # "the summer of 2019": within that year
        first, last = dt.date(int(year.group()), 1, 1), dt.date(int(year.group()), 12, 31)
        return TimeExpression(text, start, end, year.group(), "approximate", str(first), str(last), "a season")
    if kind in ("approx", "past"):
        if published is None:
            return _unresolved(text, start, end, NO_DATE)
        if kind == "approx":
            return TimeExpression(text, start, end, f"../{published}", "approximate", None, str(published),
                                  "some time before the publication date")  # fmt: skip
        core = re.sub(r"^(?:in|over|during)\s+the\s+(?:past|last)\s+", "", words, flags=re.IGNORECASE)
        unit = core.split()[-1].rstrip("s")
        count = 1 if len(core.split()) == 1 else core.split()[0]
        back = _library(f"{count} {unit}s ago" if count != 1 else f"1 {unit} ago", published)
        if back is None:
            return _unresolved(text, start, end, "not understood by the date parser")
        return TimeExpression(text, start, end, f"{back[0]}/{published}", "period", str(back[0]), str(published))
    core = _MODIFIER.sub("", words)
    core = _MODIFIER.sub("", core)  # "since early 2020"
    if kind == "since":
        got = _resolve_core(core, kind, published or _PROBES[0])
        other = _resolve_core(core, kind, _PROBES[1])
        if published is None and (
            got is None or other is None or _shaped(core, 0, 0, *got, None) != _shaped(core, 0, 0, *other, None)
        ):
            got = None
        if got is None:
            return _unresolved(text, start, end, "not understood by the date parser")
        begin = _shaped(core, start, end, *got, None).first
        close = str(published) if published else ".."
        return TimeExpression(text, start, end, f"{begin}/{close}", "period", begin, close if published else None)
    if published is None:
        a, b = (_resolve_core(core, kind, probe, prefer) for probe in _PROBES)
        if a is None or b is None or _shaped(text, start, end, *a, None) != _shaped(text, start, end, *b, None):
            return _unresolved(text, start, end, NO_DATE)
    got = _resolve_core(core, kind, published or _PROBES[0], prefer)
    if got is None:
        return _unresolved(text, start, end, "not understood by the date parser")
    return _shaped(text, start, end, *got, None)


def _resolve_core(core: str, kind: str, base: dt.date, prefer: str = "past") -> tuple[dt.date, str] | None:
    if kind == "weekday":
        bare = _PART_WORD.sub("", core)
        if not re.match(r"(?:last|this|next)\s", bare):
            # the latest such day on or before the base (the first on or after it, when the clause
            # speaks of the future): dateparser would skip the base itself
            step = dt.timedelta(days=1 if prefer == "past" else -1)
            got = _library(bare, base + step, prefer)
            return (got[0], "day") if got else None
        core = bare
    if kind == "month":
        got = _library(core, base, prefer)
        return (got[0], "month") if got else None
    return _library(core, base, prefer)


def find(sentence: str, published: dt.date | None, *, offset: int = 0) -> list[TimeExpression]:
    """The resolved time expressions of one sentence; ``offset`` is where it starts in its article.

    Example: ``[e.value for e in find("Rebels took the city on Sunday.", dt.date(2024, 12, 8))] == ["2024-12-08"]``
    """
    out: list[TimeExpression] = []
    if not _HINT.search(sentence):  # no expression can match: skip the long pattern
        return out
    for m in _FINDER.finditer(sentence):
        kind = m.lastgroup
        text = m.group().rstrip(" ,")
        clause = re.split(r"[.;:!?\u2014]", sentence[: m.start()])[-1]
        words = clause.split()[-FUTURE_WINDOW:]
        future = _FUTURE.search(" ".join(words)) is not None and _ADVERBIAL.search(" ".join(words[-1:])) is not None
        start = offset + m.start()
        out.append(replace(_resolved(text, kind, published, future), start=start, end=start + len(text)))
    return out


@lru_cache(maxsize=65536)
def _resolved(text: str, kind: str, published: dt.date | None, future: bool) -> TimeExpression:
    """:func:`resolve`, remembered: a collection repeats "Monday" and "last year" on the same dates."""
    return resolve(text, kind, published, future=future)


# --- the timeline ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    """One time expression in one cited sentence."""

    expression: TimeExpression
    citation: Citation

    def to_dict(self) -> dict:
        e = self.expression
        return {
            "date": e.value,
            "precision": e.precision,
            "first_day": e.first,
            "last_day": e.last,
            "note": e.note,
            "expression": {"text": e.text, "start": e.start, "end": e.end},
            "citation": self.citation.to_dict(),
        }


@dataclass(frozen=True)
class Entry:
    """One event on the timeline: every source's mention of it, with each source's date."""

    mentions: tuple[Mention, ...]

    @property
    def lead(self) -> Mention:
        return self.mentions[0]

    @property
    def dates(self) -> list[str]:
        """The distinct resolved dates, earliest first (more than one: the sources differ)."""
        seen: list[str] = []
        for m in sorted(self.mentions, key=_order):
            value = m.expression.value
            if value and not any(
                agree(m.expression, o.expression) for o in self.mentions if o.expression.value in seen
            ):
                seen.append(value)
        return seen or ["unresolved"]

    @property
    def dates_differ(self) -> bool:
        return len(self.dates) > 1

    def to_dict(self) -> dict:
        e = self.lead.expression
        return {
            "date": e.value,
            "precision": e.precision,
            "first_day": e.first,
            "last_day": e.last,
            "dates_differ": self.dates_differ,
            "dates": self.dates,
            "event": " ".join(self.lead.citation.sentence.split()),
            "sources": len({m.citation.article_id for m in self.mentions}),
            "mentions": [m.to_dict() for m in self.mentions],
        }


@dataclass(frozen=True)
class Timeline:
    """Entries in time order; unresolved ones last."""

    entries: tuple[Entry, ...]
    articles: int

    def to_dict(self) -> dict:
        return {"articles": self.articles, "entries": [e.to_dict() for e in self.entries]}

    def to_text(self) -> str:
        if not self.entries:
            return "no dated events found\n"
        lines = []
        for entry in self.entries:
            e = entry.lead.expression
            head = " | ".join(entry.dates) if entry.dates_differ else (e.value or "unresolved")
            label = "dates differ" if entry.dates_differ else e.precision
            lines.append(f"{head}  ({label})")
            lines.append(f"  {' '.join(entry.lead.citation.sentence.split())}")
            if entry.lead.citation.warning:
                lines.append(f"  note: {entry.lead.citation.warning}")
            for m in entry.mentions:
                c, x = m.citation, m.expression
                where = f"{_short(c.title)} ({c.date or 'no date'}, {c.source}, {c.article_id} chars {c.start}-{c.end})"
                said = f"{x.value} {x.precision}" if x.value else "unresolved"
                note = f"; {x.note}" if x.note else ""
                lines.append(f'  [{c.number}] "{x.text}" = {said}{note}: {where}')
            lines.append("")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        lines = ["## Timeline", ""]
        for entry in self.entries:
            e = entry.lead.expression
            marks = "".join(f"[{n}]" for n in sorted({m.citation.number for m in entry.mentions}))
            sentence = " ".join(entry.lead.citation.sentence.split())
            if entry.lead.citation.warning:
                sentence += f" (note: {entry.lead.citation.warning})"
            if entry.dates_differ:
                sides = "; ".join(
                    f"**{m.expression.value or 'unresolved'}** [{m.citation.number}]" for m in entry.mentions
                )
                lines.append(f"- dates differ: {sides}: {sentence} {marks}")
            else:
                when = e.value or "unresolved"
                note = f", {e.note}" if e.note else ""
                lines.append(f'- **{when}** ({e.precision}{note}; "{e.text}"): {sentence} {marks}')
        sources = {(m.citation.number, m.citation.title, m.citation.date, m.citation.source, m.citation.article_id,
                    m.citation.start, m.citation.end) for entry in self.entries for m in entry.mentions}  # fmt: skip
        lines += ["", "Sources:", ""]
        for number, title, date, source, article_id, start, end in sorted(sources):
            lines.append(f"[{number}] {title} ({date or 'no date'}, {source}, {article_id} chars {start}-{end})  ")
        return "\n".join(lines) + "\n"


def _short(title: str, limit: int = 60) -> str:
    """Example: ``_short("a b c", 3) == "a b…"``"""
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "\u2026"


def _order(mention: Mention) -> tuple:
    e = mention.expression
    unresolved = e.value is None
    first = e.first or e.last or "9999"
    open_end = e.value is not None and e.last is None
    dated = mention.citation.date or "9999"
    return (unresolved, first, PRECISIONS.index(e.precision), open_end, dated, mention.citation.start)


def _names(sentence: str, expressions: Sequence[TimeExpression]) -> set[str]:
    """Proper names of a sentence, less the words of its time expressions ("Sunday", "December")."""
    time_words = {w.lower() for e in expressions for w in re.findall(r"\w+", e.text)}
    return {n.lower() for n in Terms.of(sentence).names if n.lower() not in time_words}


def agree(a: TimeExpression, b: TimeExpression) -> bool:
    """Whether two resolved expressions give the same date: equal, or the same period where one
    source, having no date, leaves its end open.

    Example: ``agree(resolve("since 2018", "since", date(2024, 12, 8)), resolve("since 2018", "since", None))``
    """
    if a.value is None or b.value is None:
        return False
    if a.value == b.value:
        return True
    return a.precision == b.precision == "period" and a.first == b.first and (a.last is None or b.last is None)


def _undated(a: TimeExpression, b: TimeExpression) -> bool:
    return any(e.value is None and e.note == NO_DATE for e in (a, b))


def _overlap(a: TimeExpression, b: TimeExpression) -> bool:
    if not (a.first or a.last) or not (b.first or b.last):
        return True  # an open or unresolved date cannot be said to contradict another
    return (a.first or "0000") <= (b.last or "9999") and (b.first or "0000") <= (a.last or "9999")


def build_timeline(
    articles: Sequence[Article],
    *,
    vectors: dict[tuple[str, int], np.ndarray],
    chunk_of: dict[tuple[str, int], Chunk],
    spans: dict[str, Sequence[Span]] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Timeline:
    """The timeline of ``articles``' sentences (or only of ``spans[article id]`` where given).

    Args:
        vectors: the unit embedding of each sentence, keyed by (article id, sentence start).
        chunk_of: the chunk of each sentence, by the same key.
        since, until: keep only entries whose dates overlap this range (``YYYY-MM-DD``);
            unresolved entries are then left out.
    """
    found: list[tuple[Article, Span, TimeExpression, set[str]]] = []
    for article in articles:
        published = parse_date(article.date)
        for span in (spans or {}).get(article.id, article.sentences):
            sentence = span.of(article.text)
            expressions = find(sentence, published, offset=span.start)
            names = _names(sentence, expressions)
            found.extend((article, span, e, names) for e in expressions)
    numbering: dict[tuple[str, int], int] = {}
    mentions = []
    for article, span, expression, _ in found:
        key = (article.id, span.start)
        numbering.setdefault(key, len(numbering) + 1)
        citation = Citation.at(numbering[key], article, span, text=article.text, chunk=chunk_of.get(key))
        mentions.append(Mention(expression, citation))
    groups = _group(mentions, [names for *_, names in found], vectors)
    entries = [Entry(tuple(sorted(group, key=_order))) for group in groups]
    if since or until:
        entries = [e for e in entries if any(_within(m.expression, since, until) for m in e.mentions)]
    entries.sort(key=lambda e: _order(e.lead))
    return Timeline(tuple(entries), len(articles))


def _within(e: TimeExpression, low: str | None, high: str | None) -> bool:
    """Whether the expression's days certainly overlap ``[low, high]``: an open end (an undated
    source's "since 2018") meets no bound on that side."""
    if e.value is None:
        return False
    if low and not (e.last and e.last >= low):
        return False
    return not (high and not (e.first and e.first <= high))


def _group(
    mentions: list[Mention], names: list[set[str]], vectors: dict[tuple[str, int], np.ndarray]
) -> list[list[Mention]]:
    """Union mentions of the same event from different articles (see the module docstring)."""
    parent = list(range(len(mentions)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keys = [(m.citation.article_id, m.citation.start) for m in mentions]
    sentences = list(dict.fromkeys(keys))  # compare each sentence once, however many expressions it holds
    members: dict[tuple[str, int], list[int]] = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    dim = next((len(v) for v in vectors.values()), 1)
    matrix = np.array([vectors.get(k, np.zeros(dim)) for k in sentences], dtype=np.float32).reshape(-1, dim)
    owners = np.array([k[0] for k in sentences])
    dated = {key: sum(mentions[i].expression.value is not None for i in ids) for key, ids in members.items()}
    differing: list[tuple[float, int, int]] = []  # the same report, dates that do not overlap
    undated: list[tuple[float, int, int]] = []  # the same report, one source without a date
    for low in range(0, len(sentences), BLOCK):
        similar = matrix[low : low + BLOCK] @ matrix.T
        rows, cols = np.nonzero(similar >= RELATED)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            p, q = low + r, c
            if q <= p or owners[p] == owners[q]:
                continue
            score = float(similar[r, c])
            close = score >= SAME_EVENT
            for i in members[sentences[p]]:
                for j in members[sentences[q]]:
                    if not (close or len(names[i] & names[j]) >= SHARED_NAMES):
                        continue
                    a, b = mentions[i].expression, mentions[j].expression
                    if agree(a, b):
                        parent[root(i)] = root(j)
                    elif close and (a.value is None) != (b.value is None) and _undated(a, b):
                        undated.append((score, *((i, j) if a.value is None else (j, i))))
                    elif close and a.value and b.value and not _overlap(a, b):
                        # only when each sentence gives one date: else which date is the event's?
                        if dated[sentences[p]] == 1 and dated[sentences[q]] == 1:
                            differing.append((score, i, j))
    paired: set[int] = set()  # clusters already set beside another: no chains of differing dates
    for _, i, j in sorted(differing, reverse=True):
        ri, rj = root(i), root(j)
        if ri != rj and ri not in paired and rj not in paired:
            parent[ri] = rj
            paired.update((ri, rj))
    attached: set[int] = set()  # an undated mention joins its closest entry only
    for _, i, j in sorted(undated, reverse=True):
        if i not in attached:  # an unresolved mention agrees with none: it is alone until here
            parent[i] = root(j)
            attached.add(i)
    groups: dict[int, list[Mention]] = {}
    for i in range(len(mentions)):
        groups.setdefault(root(i), []).append(mentions[i])
    return list(groups.values())
