"""Read article files into :class:`Article` values and cut them into chunks (pure functions).

Formats: ``.txt``; ``.md``; ``.html`` through trafilatura (after a safety pass that removes
what a browser would not show); ``.jsonl`` with one article per line (``title``, ``date``,
``text``, ``url`` or ``source``). A file that cannot be read raises :class:`ArticleError` with
a one-line reason; a bad line of a JSON-lines file is reported on its own and the other lines
still count. What is worth saying but costs nothing (a date that could not be read, so the
article is stored without one) is a *note*: ``(where, message)`` added to a ``notes`` list.
"""

from __future__ import annotations

import codecs
import copy
import dataclasses
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date as Date
from email.utils import parsedate_tz
from pathlib import Path

from qa.errors import ArticleError
from qa.text import clean, fallback_title, is_aside, is_instruction, layout, word_count
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


# Byte-order marks that name an encoding other than UTF-8 (UTF-32's first: it starts like UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def encoding_of(head: bytes) -> str:
    """The encoding of a file that starts with ``head``: UTF-16 or UTF-32 when a byte-order
    mark says so, else UTF-8 (with or without its mark). Raises :class:`ArticleError` for a
    binary file (a NUL byte in the first 64 KB without a UTF-16/32 mark).

    Example: ``encoding_of(b"\\xff\\xfeH\\x00i\\x00") == "UTF-16"``
    """
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if b"\x00" in head[:65536]:
        raise ArticleError("binary file, not text")
    return "UTF-8"


def decode(data: bytes, *, max_bytes: int) -> str:
    """Turn a file's bytes into text, or raise :class:`ArticleError` saying why not.

    Example: ``decode(b"\\xef\\xbb\\xbfHi\\r\\n", max_bytes=100) == "Hi\\n"``
    """
    if len(data) > max_bytes:
        raise ArticleError(f"file is {len(data) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit")
    encoding = encoding_of(data)
    try:
        text = data.decode("utf-8-sig" if encoding == "UTF-8" else encoding)
    except UnicodeDecodeError as exc:
        if encoding != "UTF-8":
            raise ArticleError(f"not {encoding} text, though it starts with a {encoding} byte-order mark") from None
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


def make_article(
    text: str,
    *,
    source: str,
    key: str,
    title: str | None = None,
    date: str | None = None,
    notes: list[str] | None = None,
) -> Article:
    """Build an :class:`Article` from its stored text, finding its story sentences.

    A title or date given here (from metadata) wins over what the text itself says. Text,
    title and source name are :func:`qa.text.clean` first: no control or format characters
    (Unicode category Cf: zero-width, bidi controls, tag characters) are stored, so every
    offset into the stored text is an offset into what was indexed. A title that reads as an
    instruction to a machine (:func:`qa.text.is_instruction`) is no title: the article is
    titled as if it had none. Such a line in the text is still indexed, as every sentence
    that reads so is (``Article.instructions`` lists them, and they are marked where cited).
    A date is read by :func:`parse_date`; one it cannot read is dropped, never the article,
    and ``notes`` (when given) gets a line saying so.
    """
    text = clean(text)
    source = clean(source)
    title = " ".join(clean(title).split()) or None if title is not None else None
    if title is not None and is_instruction(title):
        title = None
    found = layout(text, title=title)
    if len(found.sentences) == len(found.asides):
        raise ArticleError("no story text found (only headings, captions or links)")
    if title is None:
        passed_over = {span for span, _ in found.asides} | set(found.instructions)
        first = next((s for s in found.sentences if s not in passed_over), None)
        title = " ".join(found.title.of(text).split()) if found.title else fallback_title(text, first) or source
    parsed = parse_date(date) if date else None
    if date and parsed is None and notes is not None:
        notes.append(_date_note(date))
    date = parsed or found.date
    return Article(
        id=article_id(title, date, text),
        source=source,
        title=title,
        date=date,
        text=text,
        sentences=found.sentences,
        key=key,
        instructions=found.instructions,
    )


def _date_note(value) -> str:
    shown = " ".join(clean(str(value)).split())
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"date {shown!r} not understood; stored without a date"


def normalise_date(value: str) -> str:
    """Accept an ISO date or date-time and return ``YYYY-MM-DD`` (strict: for dates a user types).

    Example: ``normalise_date("2022-07-25T10:00:00Z") == "2022-07-25"``
    """
    m = re.match(r"\s*(\d{4})[-/](\d{2})[-/](\d{2})", str(value))
    if not m:
        raise ArticleError(f"date {value!r} is not YYYY-MM-DD")
    try:
        return Date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        raise ArticleError(f"date {value!r} is not a real date") from None


# A date that starts with an ISO day (whatever follows: a time, a zone, more words), as qa always read it.
_ISO_DATE = re.compile(r"(\d{4})[-/](\d{2})[-/](\d{2})(?!\d)")
_DOTTED_DATE = re.compile(r"\d{1,2}\.\d{1,2}\.\d{4}\b.*")  # 08.12.2024: day first, as written where dots are used
# Absolute dates only, with a day, a month and a year: "yesterday", "December 2024" or "Monday" are no date.
_DATEPARSER_SETTINGS = {
    "STRICT_PARSING": True,
    "REQUIRE_PARTS": ["day", "month", "year"],
    "PARSERS": ["custom-formats", "absolute-time"],
    "RETURN_AS_TIMEZONE_AWARE": False,
}


def parse_date(value: str | int | float) -> str | None:
    """The calendar day a publication date names, as ``YYYY-MM-DD``, or None when it names none.

    Reads ISO 8601 (``2024-12-08``, ``2024-12-08T23:30:00-05:00``; a leading ISO day whatever
    follows it, as qa always did), RFC 2822 as in RSS feeds
    (``Sun, 08 Dec 2024 23:30:00 GMT``), ``YYYYMMDD``, a Unix time stamp, and written dates in
    the languages dateparser knows (``December 8, 2024``, ``8 Dec 2024``, ``Dec. 8, 2024 11:30
    PM EST``, ``8 décembre 2024``). The day is the one written, in the writer's time zone: a
    time zone is read but the date is never moved to UTC. A date without a day, month and year
    ("December 2024"), a relative one ("yesterday") or an impossible one is None.

    Example: ``parse_date("Sun, 08 Dec 2024 23:30:00 -0500") == "2024-12-08"``
    """
    text = " ".join(str(value).split())
    if not text:
        return None
    m = _ISO_DATE.match(text)
    if m:
        return _real_date(int(m[1]), int(m[2]), int(m[3]))
    if re.fullmatch(r"\d{8}", text):
        return _real_date(int(text[:4]), int(text[4:6]), int(text[6:]))
    if re.fullmatch(r"\d{9,10}(?:\.\d+)?", text):  # seconds since 1970 (UTC, the only zone it has)
        from datetime import datetime, timezone

        return datetime.fromtimestamp(float(text), tz=timezone.utc).date().isoformat()
    rfc = parsedate_tz(text)
    if rfc is not None:
        return _real_date(*rfc[:3])
    import dateparser

    settings = dict(_DATEPARSER_SETTINGS, DATE_ORDER="DMY") if _DOTTED_DATE.fullmatch(text) else _DATEPARSER_SETTINGS
    try:
        found = dateparser.parse(text[:100], settings=settings)
    except (ValueError, OverflowError, TypeError):  # dateparser's own limits on odd input
        return None
    return found.date().isoformat() if found is not None else None


def _real_date(year: int, month: int, day: int) -> str | None:
    try:
        return Date(year, month, day).isoformat()
    except ValueError:
        return None


# --- formats -----------------------------------------------------------------------------


def parse_markdown(text: str, *, source: str, key: str, notes: list[str] | None = None) -> Article:
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
    return make_article(plain, source=source, key=key, title=title, date=meta.get("date"), notes=notes)


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


@dataclass(frozen=True)
class Page:
    """What an HTML page holds, as :func:`read_html` finds it.

    ``body`` is the main text, one paragraph (or heading, or list item) to a block, blocks
    separated by blank lines; ``date`` is ``YYYY-MM-DD``; ``url`` is the canonical address the
    page gives for itself (an absolute http(s) URL), if any.
    """

    body: str
    title: str | None = None
    author: str | None = None
    site: str | None = None
    date: str | None = None
    url: str | None = None


# How trafilatura is asked (bench/extraction.py measures these choices on real pages).
TRAFILATURA_OPTIONS = {
    "favor_precision": True,  # boilerplate out first: the better F1 on the benchmark
    "include_comments": False,  # readers' comments are not the article
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    "deduplicate": False,
}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# Elements whose content a reader never sees as text. JSON-LD stays: it is metadata (author,
# dates) that trafilatura reads, never text.
_INVISIBLE = (
    "//script[not(contains(translate(@type, 'JSONLD', 'jsonld'), 'ld+json'))]"
    "|//style|//noscript|//template|//iframe|//object|//embed|//svg|//canvas"
)


def safe_tree(html: str):
    """Parse HTML (lxml) and remove what a browser would not show as text: comments, processing
    instructions, scripts (but JSON-LD metadata), styles, templates, ``<noscript>`` and embedded
    objects, and hidden elements (``hidden``, ``aria-hidden="true"``, ``display: none``,
    ``visibility: hidden`` in their style). Raises :class:`ArticleError` for a page with no
    elements. The safety pass before any extraction: what it removes never becomes text.
    """
    import lxml.etree
    import lxml.html

    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        tree = lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ArticleError(f"not an HTML page ({exc})") from None
    doomed = tree.xpath(_INVISIBLE)
    for element in tree.iter(lxml.etree.Element):
        attrs = element.attrib
        if (
            "hidden" in attrs
            or attrs.get("aria-hidden", "").strip().lower() == "true"
            or _HIDDEN_STYLE.search(attrs.get("style", ""))
        ):
            doomed.append(element)
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()  # its tail (the text after it) stays
    return tree


def read_html(html: str, *, url: str | None = None) -> Page:
    """Read a page: :func:`safe_tree`, then trafilatura for the main text and the metadata
    (title, author, site name, canonical URL; the date by htmldate). When trafilatura finds no
    main text (a fragment, a very short page), the hand-written rules of :func:`plain_html`
    read the same safe tree. ``url`` is where the page came from, if known: it helps find the date.

    Example: ``read_html("<p>Rain fell.</p>").body == "Rain fell."``
    """
    import trafilatura

    tree = safe_tree(html)
    try:  # on a copy: trafilatura prunes the tree it is given
        doc = trafilatura.bare_extraction(copy.deepcopy(tree), url=url, with_metadata=True, **TRAFILATURA_OPTIONS)
        if doc is None:
            doc = trafilatura.extract_metadata(copy.deepcopy(tree), default_url=url)
    except Exception:  # whatever the extractor trips on in a hostile page: the plain rules read it
        doc = None
    body = _blocks(doc.text or "") if doc is not None else ""
    plain = plain_html(tree) if not body else None
    if doc is None:
        assert plain is not None
        return plain
    canonical = doc.url if doc.url and re.match(r"https?://[^/\s]+", doc.url) else None
    date = parse_date(doc.date) if doc.date else None
    return Page(
        body=body or plain.body,
        title=_one_line(doc.title) or (plain.title if plain else None),
        author=_one_line(doc.author),
        site=_one_line(doc.sitename),
        date=date or (plain.date if plain else None),
        url=canonical,
    )


def plain_html(page) -> Page:
    """The rules of the hand-written reader qa used before trafilatura, on lxml: trafilatura's
    fallback for a fragment it finds no main text in. The title from ``og:title``, ``<h1>`` or ``<title>``, the
    date from ``article:published_time``, ``date``, ``pubdate`` or ``<time datetime>``, and the
    text of ``<article>`` (else ``<main>``, else ``<body>``) without navigation, headers, footers,
    asides, forms, figures and captions. ``page`` is HTML text or a :func:`safe_tree`; HTML text
    gets the same safety pass first.

    Example: ``plain_html("<article><p>Rain fell.</p></article>").body == "Rain fell."``
    """
    tree = safe_tree(page) if isinstance(page, str) else page

    def meta(name: str) -> str | None:
        for value in tree.xpath(f"//meta[@property='{name}' or @name='{name}']/@content"):
            if value.strip():
                return " ".join(value.split())
        return None

    def first_text(xpath: str) -> str | None:
        for element in tree.xpath(xpath):
            text = " ".join(element.text_content().split())
            if text:
                return text
        return None

    title = meta("og:title") or first_text("//h1") or first_text("//title")
    date = meta("article:published_time") or meta("date") or meta("pubdate")
    date = date or next(iter(tree.xpath("//time/@datetime")), None)
    roots = tree.xpath("//article") or tree.xpath("//main") or tree.xpath("//body") or [tree]
    root = roots[0]
    for element in root.xpath(".//" + "|.//".join(_DROP_TAGS)):
        if element.getparent() is not None:
            element.drop_tree()
    body = _blocks("\n".join(_text_blocks(root)))
    return Page(body=body, title=title, date=parse_date(date) if date else None)


_DROP_TAGS = (
    "nav", "header", "footer", "aside", "figure", "figcaption", "picture", "video", "audio",
    "form", "button", "head", "title",
)  # fmt: skip
_BLOCK_TAGS = frozenset(
    "p div section article main h1 h2 h3 h4 h5 h6 li ul ol blockquote pre table tr td th br hr dd dt dl".split()
)


def _text_blocks(element) -> Iterator[str]:
    """The text of ``element`` with a line break around each block element."""
    if element.tag in _BLOCK_TAGS:
        yield "\n"
    if element.text and isinstance(element.tag, str):
        yield element.text
    for child in element:
        yield from _text_blocks(child)
        if child.tail:
            yield child.tail
    if element.tag in _BLOCK_TAGS:
        yield "\n"


def _blocks(text: str) -> str:
    """One block to a line of ``text``, white space collapsed, blank lines between blocks."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n\n".join(line for line in lines if line)


def _one_line(value: str | None) -> str | None:
    return " ".join(value.split()) or None if value else None


def page_text(page: Page, *, title: str | None = None) -> str:
    """The text qa stores for a page: the headline (unless the body starts with it already),
    a byline (``By AUTHOR · SITE``) when the page names them, then the body.

    The headline makes the title searchable as the first sentence, as in a text file; the
    byline is a line a reader expects and the index passes over (a short line without a full
    stop is never indexed). A headline that reads as an instruction to a machine is left out.
    """
    title = title or page.title
    first, _, rest = page.body.partition("\n\n")
    if title and _words(first) == _words(title):  # the body starts with its headline
        head, body = [first], rest
    else:
        head, body = ([title] if title and not is_instruction(title) else []), page.body
    byline = _byline(page.author, page.site)
    return "\n\n".join(part for part in [*head, byline, body] if part)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _byline(author: str | None, site: str | None, *, most_words: int = 12) -> str | None:
    """``By AUTHOR · SITE``, at most ``most_words`` words: a long list of authors is cut short
    ("and others"), and the site name goes first when both do not fit."""
    names = [n for n in (" ".join(n.split()) for n in re.split(r";", author or "")) if n]
    extra = [site] if site and not any(_words(site) == _words(n) for n in names) else []
    for n in range(len(names), 0, -1):
        by = f"By {', '.join(names[:n])}" + (" and others" if n < len(names) else "")
        for tail in (extra, []):
            line = " · ".join([by, *tail])
            if len(line.split()) <= most_words:
                return line
    return extra[0] if extra and len(extra[0].split()) <= most_words else None


def parse_html(
    text: str,
    *,
    source: str,
    key: str,
    url: str | None = None,
    title: str | None = None,
    date: str | None = None,
    notes: list[str] | None = None,
) -> Article:
    """Read an HTML page (:func:`read_html`) into an :class:`Article` whose text is
    :func:`page_text`.

    ``source`` is the page's canonical URL when it gives one (a saved page's own address is
    a better citation than its file name); for a page fetched from ``url``, only when the
    canonical URL is on the same site, else ``url`` itself: a page cannot pass itself off as
    another site's. ``title`` (a feed item's, say) is used when the page has none; ``date``
    (a feed item's) wins over the page's own, unless it cannot be read (``notes`` says so).
    """
    page = read_html(text, url=url)
    if not page.body:
        raise ArticleError("no text found in the HTML")
    if page.url and (url is None or _site(page.url) == _site(url)):
        source = page.url
    given = parse_date(date) if date else None
    if date and given is None and notes is not None:
        notes.append(_date_note(date))
    return make_article(
        page_text(page, title=page.title or title),
        source=source,
        key=key,
        title=page.title or title,
        date=given or page.date,
        notes=notes,
    )


def _site(url: str) -> str:
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def parse_jsonl(
    lines: Iterable[str | bytes], *, name: str, key: str, notes: list[tuple[str, str]] | None = None
) -> tuple[list[Article], list[tuple[str, str]]]:
    """Read one article per line: ``text`` (required), ``title``, ``date``, ``url``/``source``, ``id``.

    ``lines`` are read one at a time (bytes are UTF-8). Each article is keyed by its ``url``,
    else by its ``id`` within the file, else by its content, never by its line number: lines
    inserted or deleted elsewhere in the file leave the others' keys alone.

    Returns the articles and, for each bad line, ``(name:line, reason)``. A ``date`` that
    :func:`parse_date` cannot read costs the line its date, not its article: ``notes`` gets
    ``(name:line, why)``.
    """
    return _gathered(iter_jsonl(lines, name=name, key=key, notes=notes))


def _gathered(items: Iterable[Article | tuple[str, str] | None]) -> tuple[list[Article], list[tuple[str, str]]]:
    """The articles and the failures among streamed items (a repeated line, ``None``, is neither)."""
    articles, failures = [], []
    for item in items:
        if isinstance(item, Article):
            articles.append(item)
        elif item is not None:
            failures.append(item)
    return articles, failures


def iter_jsonl(
    lines: Iterable[str | bytes], *, name: str, key: str, notes: list[tuple[str, str]] | None = None
) -> Iterator[Article | tuple[str, str] | None]:
    """:func:`parse_jsonl` one line at a time: for each line that is not blank, its
    :class:`Article`, or ``(name:line, reason)`` when it is bad, or ``None`` when it repeats an
    earlier line (nothing more to store). An empty file yields ``(name, "empty file")``."""
    first_line: dict[str, int] = {}
    seen = False
    for number, line in enumerate(lines, start=1):
        where = f"{name}:{number}"
        try:
            if isinstance(line, bytes):
                line = line.decode("utf-8-sig" if number == 1 else "utf-8")
            if not line.strip():
                continue
            seen = True
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
            for field in ("title", "date", "url", "source", "id"):
                value = record.get(field)
                if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
                    raise ArticleError(f"'{field}' is {_json_kind(value)}, not a string")
            url, origin, ident = (_field(record, f) for f in ("url", "source", "id"))
            title = record.get("title")
            said: list[str] = []
            article = make_article(
                body.replace("\r\n", "\n"),
                source=url or origin or (f"{name}#{ident}" if ident else name),
                key="",
                title=str(title) if title is not None else None,
                date=clean(str(record["date"])) if record.get("date") else None,
                notes=said,
            )
            article = dataclasses.replace(article, key=url or f"{key}#{f'id={ident}' if ident else article.id}")
            if article.key in first_line:
                if url or ident:
                    field = "url" if url else "id"
                    raise ArticleError(f"the same {field} as line {first_line[article.key]}; only that line is read")
                yield None  # the same article again: nothing more to store
                continue
            first_line[article.key] = number
            if notes is not None:
                notes.extend((where, note) for note in said)
            item: Article | tuple[str, str] = article
        except UnicodeDecodeError as exc:
            seen = True
            item = (where, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02X} at column {exc.start + 1})")
        except json.JSONDecodeError as exc:
            item = (where, f"not valid JSON ({exc.msg})")
        except RecursionError:
            item = (where, "JSON nested too deeply")
        except ArticleError as exc:
            item = (where, str(exc))
        yield item
    if not seen:
        yield (name, "empty file")


def _field(record: dict, name: str) -> str:
    value = record.get(name)
    return "" if value is None else clean(str(value))


def _json_kind(value) -> str:
    return {dict: "an object", list: "a list", bool: "true or false"}.get(type(value), "a number")


def _jsonl_lines(handle: io.BufferedReader) -> Iterator[str | bytes]:
    """The lines of a JSON-lines file, one at a time: the file is never read whole.

    UTF-8 lines come as bytes (so a bad line fails alone); a file with a UTF-16 or UTF-32
    byte-order mark is decoded as it says.
    """
    encoding = encoding_of(handle.peek(65536)[:65536])  # the buffer is 64 KB: see read_file
    if encoding == "UTF-8":
        yield from handle
    else:
        yield from io.TextIOWrapper(handle, encoding=encoding, errors="replace", newline="")


def read_file(
    file: SourceFile, *, max_bytes: int, notes: list[tuple[str, str]] | None = None
) -> tuple[list[Article], list[tuple[str, str]]]:
    """Read one file into articles; returns ``(articles, [(where, reason), ...])``.

    Raises :class:`ArticleError` when the whole file is unreadable. The size is checked
    before anything is read; a JSON-lines file is then read line by line. ``notes``, when
    given, gets ``(where, note)`` for what was read with a loss (a date not understood).
    """
    return _gathered(_file_items(file, max_bytes=max_bytes, notes=notes))


def _file_items(
    file: SourceFile, *, max_bytes: int, notes: list[tuple[str, str]] | None = None
) -> Iterator[Article | tuple[str, str] | None]:
    """The items of :func:`iter_file`; raises :class:`ArticleError` for a file unreadable as a whole."""
    key = str(file.path)
    suffix = file.path.suffix.lower()
    try:
        size = file.path.stat().st_size
        if size > max_bytes:  # refused before it is read
            raise ArticleError(f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit")
        if suffix in JSONL_SUFFIXES:
            with file.path.open("rb", buffering=65536) as handle:
                yield from iter_jsonl(_jsonl_lines(handle), name=file.name, key=key, notes=notes)
            return
        data = file.path.read_bytes()
    except OSError as exc:
        raise ArticleError(f"cannot read: {exc.strerror or exc}") from None
    text = decode(data, max_bytes=max_bytes)
    said: list[str] = []
    if suffix in HTML_SUFFIXES:
        article = parse_html(text, source=file.name, key=key, notes=said)
    elif suffix in MARKDOWN_SUFFIXES:
        article = parse_markdown(text, source=file.name, key=key, notes=said)
    else:
        article = make_article(text, source=file.name, key=key)
    if notes is not None:
        notes.extend((file.name, note) for note in said)
    yield article


def iter_file(
    file: SourceFile, *, max_bytes: int, notes: list[tuple[str, str]] | None = None
) -> Iterator[Article | tuple[str, str] | None]:
    """Read one file an article at a time, as ``qa ingest`` does: a JSON-lines file of
    thousands of articles is never parsed whole before the first is stored.

    Yields each :class:`Article`; ``(where, reason)`` for a line that fails, or for the whole
    file when it cannot be read (then nothing else comes); ``None`` for a JSON line that
    repeats an earlier one. A JSON-lines file yields one item per line that is not blank, so
    :func:`count_items` tells beforehand how many will come. ``notes``: see :func:`read_file`.
    """
    try:
        yield from _file_items(file, max_bytes=max_bytes, notes=notes)
    except ArticleError as exc:
        yield (file.name, str(exc))
    except (RecursionError, ValueError, UnicodeError) as exc:  # a file no reader foresaw: this file's problem only
        yield (file.name, f"cannot read ({type(exc).__name__}: {exc})"[:300])


def _text(line: str | bytes) -> str:
    return line.decode("utf-8-sig", errors="replace") if isinstance(line, bytes) else line


def count_items(file: SourceFile, *, max_bytes: int) -> int:
    """How many items :func:`iter_file` will yield for ``file``, counted cheaply beforehand: the
    lines of a JSON-lines file that are not blank (nothing parsed), else one.

    Example: a ``.jsonl`` of 1,070 article lines and a trailing blank line counts 1,070.
    """
    if file.path.suffix.lower() not in JSONL_SUFFIXES:
        return 1
    try:
        if file.path.stat().st_size > max_bytes:
            return 1
        with file.path.open("rb", buffering=65536) as handle:
            count = sum(1 for line in _jsonl_lines(handle) if _text(line).strip())
    except (OSError, ArticleError, UnicodeError):
        return 1  # it fails as a whole: one item
    return max(count, 1)


# --- chunks ------------------------------------------------------------------------------


def chunk_article(article: Article, *, max_words: int) -> list[Chunk]:
    """Pack the article's sentences, in order, into chunks of at most ``max_words`` words.

    A sentence is never split; one longer than ``max_words`` makes a chunk of its own.
    Prose and the lines beside it (captions, cross-links, subheadings: :func:`is_aside`)
    never share a chunk, so those lines stay searchable without diluting the story's
    chunks. A chunk's text is its sentences joined by single spaces (lines that are not
    indexed are left out); its ``start``/``end`` span the first to the last sentence; its
    ``instructions`` are those of its sentences that read like instructions to a machine.
    """
    groups: list[list[Span]] = []
    words = 0
    previous = None
    flagged = set(article.instructions)
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
            instructions=tuple(s for s in group if s in flagged),
        )
        for i, group in enumerate(groups)
    ]


# Two chunks of one article whose word-trigram sets overlap this much (Jaccard) say the same thing.
NEAR_DUPLICATE = 0.8


def drop_duplicate_chunks(chunks: Sequence[Chunk], *, near: float = NEAR_DUPLICATE) -> tuple[list[Chunk], int]:
    """Keep the first of the chunks of one article that repeat each other; renumber the rest.

    Two chunks repeat each other when, case and punctuation set aside, they share at least
    ``near`` of their word trigrams (Jaccard; identical chunks share all; numbers are words, so
    two chunks that differ only in their figures are two facts, and both are kept), so a sentence
    repeated a thousand times leaves one chunk (or two: a shorter last one has the same
    trigrams). Without this, thousands of identical vectors crowd other articles out of
    dense search. Returns ``(kept chunks, how many were dropped)``.

    Example: ``len(drop_duplicate_chunks([c, c])[0]) == 1`` for any chunk ``c``
    """
    kept: list[Chunk] = []
    trigrams: list[set[tuple[str, ...]]] = []
    holders: defaultdict[tuple[str, ...], list[int]] = defaultdict(list)  # trigram -> kept chunks with it
    for chunk in chunks:
        words = tuple(re.findall(r"[^\W_]+", chunk.text.lower()))
        if all(w.isdigit() for w in words):  # figures alone ("2-1"): nothing to tell a repeat by
            kept.append(chunk)
            trigrams.append(set())
            continue
        grams = set(zip(words, words[1:], words[2:], strict=False)) or {words}
        shared = Counter(i for gram in grams for i in holders.get(gram, ()))
        if any(n / (len(grams) + len(trigrams[i]) - n) >= near for i, n in shared.items()):
            continue
        for gram in grams:
            holders[gram].append(len(kept))
        trigrams.append(grams)
        kept.append(chunk)
    renumbered = [
        dataclasses.replace(c, id=f"{c.article_id}-{i:04d}", index=i) if c.index != i else c for i, c in enumerate(kept)
    ]
    return renumbered, len(chunks) - len(kept)
