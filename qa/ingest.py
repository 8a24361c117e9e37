"""Read article files into :class:`Article` values and cut them into chunks (pure functions).

Formats: ``.txt``; ``.md``; ``.html`` through a real HTML parser; ``.jsonl`` with one article
per line (``title``, ``date``, ``text``, ``url`` or ``source``). A file that cannot be read
raises :class:`ArticleError` with a one-line reason; a bad line of a JSON-lines file is
reported on its own and the other lines still count.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path

from qa.errors import ArticleError
from qa.text import clean, fallback_title, is_aside, layout, word_count
from qa.types import Article, Chunk, Span

TEXT_SUFFIXES = (".txt", ".text")
MARKDOWN_SUFFIXES = (".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
JSONL_SUFFIXES = (".jsonl",)
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + MARKDOWN_SUFFIXES + HTML_SUFFIXES + JSONL_SUFFIXES


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest: where it is, and how it is named to the user."""

    path: Path
    name: str


def discover(paths: Iterable[str | Path]) -> tuple[list[SourceFile], list[tuple[str, str]]]:
    """Expand files and folders into the article files to read, in a stable order.

    Folders are walked recursively; hidden entries and files of other types inside them
    are passed over. A named path that does not exist, or a named file of an unknown type,
    comes back in the second list with the reason.

    Example: ``discover(["seeds"])[0][0].name == "seeds/000_a82d1c47b728eca4.txt"``
    """
    found: dict[Path, SourceFile] = {}
    problems: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            base_name = path.resolve().name
            any_file = False
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    # named as found in the folder; a symlink may point anywhere
                    found.setdefault(child.resolve(), SourceFile(child.resolve(), str(Path(base_name) / rel)))
                    any_file = True
            if not any_file:
                kinds = ", ".join(SUPPORTED_SUFFIXES)
                problems.append((str(raw), f"no article files ({kinds}) in this folder"))
        elif path.is_file():
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                kinds = ", ".join(SUPPORTED_SUFFIXES)
                problems.append((str(raw), f"unsupported file type {path.suffix or '(none)'!r}; use {kinds}"))
                continue
            resolved = path.resolve()
            found.setdefault(resolved, SourceFile(resolved, path.name))
        else:
            problems.append((str(raw), "no such file or folder"))
    return list(found.values()), problems


def decode(data: bytes, *, max_bytes: int) -> str:
    """Turn a file's bytes into text, or raise :class:`ArticleError` saying why not.

    Example: ``decode(b"\\xef\\xbb\\xbfHi\\r\\n", max_bytes=100) == "Hi\\n"``
    """
    if len(data) > max_bytes:
        raise ArticleError(f"file is {len(data) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit")
    if b"\x00" in data[:65536]:
        raise ArticleError("binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise ArticleError(f"not UTF-8 text (byte 0x{bad:02X} at offset {exc.start})") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ArticleError("empty file")
    if _control_ratio(text) > 0.01:
        raise ArticleError("binary file, not text (too many control characters)")
    return text


def _control_ratio(text: str) -> float:
    sample = text[:65536]
    # escape sequences (ESC, BEL) are text with terminal codes in it, not binary; they are stripped later
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\t\f\v\x1b\x07")
    return controls / len(sample)


def article_id(title: str, date: str | None, text: str) -> str:
    """A stable id derived from the article's content: 16 hex digits of a SHA-256.

    Example: ``len(article_id("T", None, "body")) == 16``
    """
    digest = hashlib.sha256(f"{title}\n{date or ''}\n{text}".encode()).hexdigest()
    return digest[:16]


def make_article(text: str, *, source: str, key: str, title: str | None = None, date: str | None = None) -> Article:
    """Build an :class:`Article` from its stored text, finding its story sentences.

    A title or date given here (from metadata) wins over what the text itself says. Both
    text and title are :func:`qa.text.clean` first: no control or format characters are stored.
    """
    text = clean(text)
    title = " ".join(clean(title).split()) or None if title is not None else None
    found = layout(text, title=title)
    if len(found.sentences) == len(found.asides):
        raise ArticleError("no story text found (only headings, captions or links)")
    if title is None:
        aside = {span for span, _ in found.asides}
        first = next(s for s in found.sentences if s not in aside)
        title = " ".join(found.title.of(text).split()) if found.title else fallback_title(text, first)
    date = normalise_date(date) if date else found.date
    return Article(
        id=article_id(title, date, text),
        source=source,
        title=title,
        date=date,
        text=text,
        sentences=found.sentences,
        key=key,
    )


def normalise_date(value: str) -> str:
    """Accept an ISO date or date-time and return ``YYYY-MM-DD``.

    Example: ``normalise_date("2022-07-25T10:00:00Z") == "2022-07-25"``
    """
    m = re.match(r"\s*(\d{4})[-/](\d{2})[-/](\d{2})", str(value))
    if not m:
        raise ArticleError(f"date {value!r} is not YYYY-MM-DD")
    try:
        return Date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        raise ArticleError(f"date {value!r} is not a real date") from None


# --- formats -----------------------------------------------------------------------------


def parse_markdown(text: str, *, source: str, key: str) -> Article:
    """Read Markdown: optional front matter (``title:``, ``date:``), the first ``#`` heading
    as title, and the body as plain text (markup removed), which is what is stored."""
    meta: dict[str, str] = {}
    front = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    if front:
        for line in front.group(1).splitlines():
            name, sep, value = line.partition(":")
            if sep:
                meta[name.strip().lower()] = value.strip().strip("\"'")
        text = text[front.end() :]
    plain = _markdown_to_text(text)
    title = meta.get("title")
    if title is None:
        heading = re.search(r"^#{1,2}[ \t]+(.+?)[ \t#]*$", text, re.MULTILINE)
        title = _markdown_to_text(heading.group(1)).strip() if heading else None
    return make_article(plain, source=source, key=key, title=title, date=meta.get("date"))


def _markdown_to_text(text: str) -> str:
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)  # images carry no story text
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links keep their words
    text = re.sub(r"<[^>\n]+>", "", text)
    text = re.sub(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t#]*$", r"\1", text, flags=re.MULTILINE)
    text = re.sub(r"^[ \t]{0,3}>[ \t]?", "", text, flags=re.MULTILINE)
    text = re.sub(r"^[ \t]*(?:[-*+]|\d+\.)[ \t]+", "", text, flags=re.MULTILINE)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])([*_])(?!\s)(.+?)(?<!\s)\1(?![\w*])", r"\2", text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    return text


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


def parse_html(text: str, *, source: str, key: str) -> Article:
    """Read HTML with a real parser: the title and date from metadata, the story from
    ``<article>`` (or ``<main>``, or ``<body>``), without scripts, navigation, captions,
    comments or hidden elements."""
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(text, "html.parser")
    title = _meta(soup, "og:title") or _first_text(soup, "h1") or _first_text(soup, "title")
    date = (
        _meta(soup, "article:published_time")
        or _meta(soup, "date")
        or _meta(soup, "pubdate")
        or (soup.find("time") or {}).get("datetime")
    )
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
    body = "\n\n".join(line for line in lines if line)
    if not body:
        raise ArticleError("no text found in the HTML")
    try:
        parsed_date = normalise_date(date) if date else None
    except ArticleError:
        parsed_date = None  # a malformed date in metadata should not cost the article
    return make_article(body, source=source, key=key, title=title, date=parsed_date)


def _meta(soup, name: str) -> str | None:
    tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
    value = tag.get("content") if tag else None
    return " ".join(value.split()) if value and value.strip() else None


def _first_text(soup, name: str) -> str | None:
    tag = soup.find(name)
    value = tag.get_text(" ", strip=True) if tag else ""
    return " ".join(value.split()) or None


def parse_jsonl(text: str, *, name: str, key: str) -> tuple[list[Article], list[tuple[str, str]]]:
    """Read one article per line: ``text`` (required), ``title``, ``date``, ``url``/``source``.

    Returns the articles and, for each bad line, ``(name:line, reason)``.
    """
    articles, failures = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ArticleError("not a JSON object")
            body = record.get("text")
            if body is None:
                raise ArticleError("no 'text' field")
            if not isinstance(body, str):
                raise ArticleError(f"'text' is {_json_kind(body)}, not a string")
            if not body.strip():
                raise ArticleError("'text' is empty")
            for field in ("title", "date", "url", "source"):
                if record.get(field) is not None and not isinstance(record[field], str | int | float):
                    raise ArticleError(f"'{field}' is {_json_kind(record[field])}, not a string")
            url = record.get("url")
            origin = record.get("source")
            source = clean(str(url or origin or where))
            title = record.get("title")
            articles.append(
                make_article(
                    body.replace("\r\n", "\n"),
                    source=source,
                    key=clean(str(url)) if url else f"{key}#{number}",
                    title=str(title) if title is not None else None,
                    date=clean(str(record["date"])) if record.get("date") else None,
                )
            )
        except json.JSONDecodeError as exc:
            failures.append((where, f"not valid JSON ({exc.msg})"))
        except RecursionError:
            failures.append((where, "JSON nested too deeply"))
        except ArticleError as exc:
            failures.append((where, str(exc)))
    if not articles and not failures:
        failures.append((name, "empty file"))
    return articles, failures


def _json_kind(value) -> str:
    return {dict: "an object", list: "a list", bool: "true or false"}.get(type(value), "a number")


def read_file(file: SourceFile, *, max_bytes: int) -> tuple[list[Article], list[tuple[str, str]]]:
    """Read one file into articles; returns ``(articles, [(where, reason), ...])``.

    Raises :class:`ArticleError` when the whole file is unreadable.
    """
    try:
        size = file.path.stat().st_size
        if size > max_bytes:  # refused before it is read
            raise ArticleError(f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit")
        data = file.path.read_bytes()
    except OSError as exc:
        raise ArticleError(f"cannot read: {exc.strerror or exc}") from None
    text = decode(data, max_bytes=max_bytes)
    key = str(file.path)
    suffix = file.path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return parse_jsonl(text, name=file.name, key=key)
    if suffix in HTML_SUFFIXES:
        return [parse_html(text, source=file.name, key=key)], []
    if suffix in MARKDOWN_SUFFIXES:
        return [parse_markdown(text, source=file.name, key=key)], []
    return [make_article(text, source=file.name, key=key)], []


# --- chunks ------------------------------------------------------------------------------


def chunk_article(article: Article, *, max_words: int) -> list[Chunk]:
    """Pack the article's sentences, in order, into chunks of at most ``max_words`` words.

    A sentence is never split; one longer than ``max_words`` makes a chunk of its own.
    Prose and the lines beside it (captions, cross-links, subheadings: :func:`is_aside`)
    never share a chunk, so those lines stay searchable without diluting the story's
    chunks. A chunk's text is its sentences joined by single spaces (lines that are not
    indexed are left out); its ``start``/``end`` span the first to the last sentence.
    """
    groups: list[list[Span]] = []
    words = 0
    previous = None
    for span in article.sentences:
        sentence = span.of(article.text)
        n = word_count(sentence)
        aside = is_aside(sentence, title=article.title)
        if groups and words + n <= max_words and aside == previous:
            groups[-1].append(span)
            words += n
        else:
            groups.append([span])
            words = n
        previous = aside
    return [
        Chunk(
            id=f"{article.id}-{i:04d}",
            article_id=article.id,
            index=i,
            start=group[0].start,
            end=group[-1].end,
            text=" ".join(" ".join(s.of(article.text).split()) for s in group),
            sentences=tuple(group),
        )
        for i, group in enumerate(groups)
    ]


def iter_articles(
    files: Iterable[SourceFile], *, max_bytes: int
) -> Iterator[tuple[SourceFile, list[Article], list[tuple[str, str]]]]:
    """Read files one by one, turning a whole-file failure into a reported one."""
    for file in files:
        try:
            articles, failures = read_file(file, max_bytes=max_bytes)
        except ArticleError as exc:
            articles, failures = [], [(file.name, str(exc))]
        except (RecursionError, ValueError, UnicodeError) as exc:  # a file no reader foresaw: this file's problem only
            articles, failures = [], [(file.name, f"cannot read ({type(exc).__name__}: {exc})"[:300])]
        yield file, articles, failures
