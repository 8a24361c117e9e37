"""Pages and feeds from the web, for ``qa ingest URL``: the only module that opens a network connection.

Nothing here runs unless the user names an ``http://`` or ``https://`` URL. Every request goes through
one :class:`Fetcher`, which

- asks the site's ``robots.txt`` first (RFC 9309: a missing one (4xx) allows everything, one that cannot
  be had (5xx, no answer) allows nothing) and honours its ``Crawl-delay`` up to :data:`MOST_CRAWL_DELAY`;
- waits ``delay`` seconds between two requests to one host;
- names itself (:data:`USER_AGENT`);
- gives up on a response after ``timeout`` seconds (connecting, waiting, or reading a slow trickle: the
  whole response must arrive within it) or past ``max_bytes`` (announced or counted while reading,
  after decompression);
- follows at most :data:`MOST_REDIRECTS` redirects, to http(s) only, asking each host's robots.txt;
- tells ``on_request`` about each URL before asking for it, so the user sees what is fetched.

:func:`read_urls` turns URLs into :class:`Item` values: one per page, or one per feed item (RSS, Atom,
RDF: feedparser) plus one for the feed. A feed item's linked page is what is stored; when that page
cannot be had (robots.txt, an error, a timeout, no text), the item's own text from the feed is stored
instead and a note says why. Articles are keyed by URL; what a run learnt (ETag, Last-Modified, the
feed item as it was, the article made of it) comes back in ``Item.remember``, for the caller to keep
once the articles are stored, so a re-run asks conditionally and skips feed items it already has.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from qa import __version__
from qa.errors import ArticleError
from qa.ingest import make_article, parse_html
from qa.types import Article

ROBOTS_NAME = "qa"  # the product token robots.txt rules name
USER_AGENT = f"{ROBOTS_NAME}/{__version__} (local question answering over news; honours robots.txt)"
MOST_REDIRECTS = 5
MOST_CRAWL_DELAY = 30.0  # seconds: a longer Crawl-delay is honoured as this long
ROBOTS_MAX_BYTES = 512_000  # RFC 9309 asks crawlers to read at least 500 KiB of it
_BOMS = (  # UTF-32's first: it starts like UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF8, "utf-8-sig"),
)
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")
_XML_TYPES = ("application/xml", "text/xml")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def is_url(value: str) -> bool:
    """True for what ``qa ingest`` fetches instead of reading from disk.

    Example: ``is_url("https://example.com/feed.xml") and not is_url("seeds")``
    """
    return re.match(r"https?://[^/\s]", str(value), re.IGNORECASE) is not None


class FetchError(Exception):
    """A URL that could not be had, with a one-line reason."""


@dataclass(frozen=True)
class Response:
    url: str  # where the body came from, after redirects
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        m = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", self.headers.get("content-type", ""), re.IGNORECASE)
        return m.group(1) if m else None


class Fetcher:
    """Polite HTTP GETs: robots.txt, a delay per host, a time and size limit, a User-Agent.

    Args:
        timeout: seconds for a whole response, from asking to the last byte.
        max_bytes: the largest body accepted.
        delay: seconds between two requests to one host (more if robots.txt asks).
        on_request: called with each URL just before it is requested (robots.txt too).
        transport: an httpx transport (tests); the real network when None.
    """

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        max_bytes: int = 20_000_000,
        delay: float = 1.0,
        user_agent: str = USER_AGENT,
        on_request: Callable[[str], None] | None = None,
        transport=None,
    ):
        import httpx

        self.timeout = timeout
        self.max_bytes = max_bytes
        self.delay = delay
        self.user_agent = user_agent
        self.on_request = on_request
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": user_agent},
            transport=transport,
            trust_env=False,  # no proxy or netrc from the environment: the request goes where the user said
        )
        self._last: dict[str, float] = {}  # host -> when its last response ended (monotonic)
        self._delays: dict[str, float] = {}  # host -> the Crawl-delay its robots.txt asks for
        self._robots: dict[str, RobotFileParser | str] = {}  # origin -> rules, or why none could be had

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, url: str, *, headers: dict[str, str] | None = None, accept: str = "*/*") -> Response:
        """GET ``url`` politely; a 304 comes back as a :class:`Response` with status 304.

        Raises :class:`FetchError` with a one-line reason: robots.txt refuses, an HTTP error, a
        timeout, a response over the size limit, too many redirects, a URL that is not http(s).
        """
        for _ in range(MOST_REDIRECTS + 1):
            self._check_allowed(url)
            response = self._request(url, {"Accept": accept, **(headers or {})}, limit=self.max_bytes)
            if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                url = urldefrag(urljoin(url, response.headers["location"]))[0]
                continue
            if response.status >= 400:
                raise FetchError(f"HTTP {response.status} {_reason(response.status)}".rstrip())
            return response
        raise FetchError(f"more than {MOST_REDIRECTS} redirects")

    # --- robots.txt --------------------------------------------------------------------------

    def _check_allowed(self, url: str) -> None:
        """Raise :class:`FetchError` unless robots.txt lets :data:`ROBOTS_NAME` fetch ``url``
        (robots.txt is read once per site)."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:  # "http://[::1" and the like
            host = None
        if host is None or parts.scheme.lower() not in ("http", "https"):
            raise FetchError(f"not an http(s) URL: {url[:200]}")
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        if origin not in self._robots:
            self._robots[origin] = self._read_robots(origin)
        rules = self._robots[origin]
        if isinstance(rules, str):
            raise FetchError(rules)
        if not rules.can_fetch(ROBOTS_NAME, url):
            raise FetchError("robots.txt disallows it")

    def _read_robots(self, origin: str) -> RobotFileParser | str:
        rules = RobotFileParser(origin + "/robots.txt")
        url = origin + "/robots.txt"
        try:
            for _ in range(MOST_REDIRECTS + 1):
                response = self._request(url, {"Accept": "text/plain"}, limit=ROBOTS_MAX_BYTES, cut=True)
                if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                break
            else:
                response = Response(url, 404, {})  # a redirect loop: no rules found, as RFC 9309 says
        except FetchError as exc:
            return f"robots.txt could not be read ({exc}), so nothing on this site is fetched"
        if response.status >= 500:
            return f"robots.txt answered HTTP {response.status}, so nothing on this site is fetched"
        if response.status >= 400:
            rules.parse([])  # no robots.txt: everything allowed
        else:
            rules.parse(response.body.decode("utf-8", "replace").splitlines())
        crawl_delay = rules.crawl_delay(ROBOTS_NAME)
        if crawl_delay:
            self._delays[urlsplit(origin).netloc.lower()] = min(float(crawl_delay), MOST_CRAWL_DELAY)
        return rules

    # --- one request -------------------------------------------------------------------------

    def _wait_turn(self, host: str) -> None:
        pause = max(self.delay, self._delays.get(host, 0.0))
        last = self._last.get(host)
        if last is not None:
            remaining = last + pause - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)

    def _request(self, url: str, headers: dict[str, str], *, limit: int, cut: bool = False) -> Response:
        """One GET, no redirects followed. ``cut``: keep the first ``limit`` bytes of a longer body
        instead of refusing it."""
        import httpx

        host = urlsplit(url).netloc.lower()
        self._wait_turn(host)
        if self.on_request:
            self.on_request(url)
        deadline = time.monotonic() + self.timeout
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                head = {k.lower(): v for k, v in response.headers.items()}
                announced = head.get("content-length", "")
                if not cut and announced.isdigit() and int(announced) > limit:
                    raise FetchError(_too_big(int(announced), limit))
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        if cut:
                            chunks.append(chunk[: len(chunk) - (size - limit)])
                            break
                        raise FetchError(f"response is over the {_mb(limit)} limit")
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise FetchError(f"timed out after {self.timeout:g} s (the response was too slow)")
                return Response(str(response.url), response.status_code, head, b"".join(chunks))
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.timeout:g} s") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, UnicodeError, ValueError) as exc:
            raise FetchError(f"not a valid URL ({exc})"[:200]) from None
        except httpx.DecodingError as exc:
            raise FetchError(f"a response that cannot be decoded ({exc})"[:200]) from None
        except (httpx.HTTPError, OSError) as exc:
            raise FetchError(_network_reason(exc)) from None
        finally:
            self._last[host] = time.monotonic()


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


def _too_big(size: int, limit: int) -> str:
    return f"response is {size / 1e6:.1f} MB, over the {_mb(limit)} limit"


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _network_reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "no such host"
    if "Connection refused" in text or "[Errno 111]" in text:
        return "connection refused"
    return f"cannot connect ({text})"[:200]


# --- from responses to articles --------------------------------------------------------------


class Memory(Protocol):
    """What a store remembers between runs (see :class:`qa.pipeline.Pipeline`)."""

    def stored(self, key: str) -> str | None:
        """The id of the stored article ``key`` points to, if any."""

    def recall(self, url: str) -> dict:
        """What :attr:`Item.remember` said about ``url`` last time ({} if nothing)."""


@dataclass
class Item:
    """One outcome of :func:`read_urls`: an article to store, one already stored, or a failure.

    ``where`` names it in the report (its URL); ``via`` is the URL the user gave (a page, or the feed
    it came through). ``remember`` maps URLs to what to keep about them once the article is stored.
    """

    where: str
    via: str
    article: Article | None = None
    unchanged: bool = False  # already stored and not changed: nothing to do
    failure: str | None = None
    notes: list[str] = field(default_factory=list)
    remember: dict[str, dict] = field(default_factory=dict)


def read_urls(urls: Iterable[str], *, fetcher: Fetcher, memory: Memory) -> Iterator[Item]:
    """Fetch each URL and read it as a page or as a feed of items (see the module's docstring)."""
    for url in dict.fromkeys(urldefrag(u.strip())[0] for u in urls):
        try:
            response = _get(fetcher, url, key=url, memory=memory, accept=_ACCEPT_ANY)
        except FetchError as exc:
            yield Item(url, url, failure=str(exc))
            continue
        if response.status == 304:
            known = memory.recall(url)
            if "items" in known:  # a feed that has not changed: nor have its items
                yield from (Item(key, url, unchanged=True) for key in known["items"])
                yield Item(url, url, remember={url: known})
            else:
                yield Item(url, url, unchanged=True)
            continue
        kind = _kind(response)
        if kind == "feed":
            yield from _read_feed(url, response, fetcher=fetcher, memory=memory)
        elif kind in ("html", "text"):
            item = Item(url, url)
            try:
                item.article = _article(response, key=url, notes=item.notes)
                item.remember[url] = _validators(response) | {"article": item.article.id}
            except ArticleError as exc:
                item.failure = str(exc)
            yield item
        else:
            yield Item(url, url, failure=f"not a web page or a feed (content type {response.content_type or 'none'})")


_ACCEPT_ANY = (
    "text/html, application/xhtml+xml, application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
)
_ACCEPT_PAGE = "text/html, application/xhtml+xml, text/plain;q=0.8, */*;q=0.5"


def _get(fetcher: Fetcher, url: str, *, key: str, memory: Memory, accept: str) -> Response:
    """GET ``url``, conditionally when its article (``key``) is stored as last seen."""
    known = memory.recall(url)
    headers = {}
    current = ("items" in known and known.get("complete")) or (
        known.get("article") and memory.stored(key) == known["article"]
    )
    if current:
        if known.get("etag"):
            headers["If-None-Match"] = known["etag"]
        if known.get("modified"):
            headers["If-Modified-Since"] = known["modified"]
    return fetcher.get(url, headers=headers, accept=accept)


def _validators(response: Response) -> dict:
    return {"etag": response.headers.get("etag"), "modified": response.headers.get("last-modified")}


def _kind(response: Response) -> str:
    """``feed``, ``html``, ``text`` or ``other``, by content type and, for XML or none, by a look at the body."""
    ctype = response.content_type
    head = response.body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    looks_like_feed = re.search(rb"<(?:rss|feed|rdf:rdf)[\s>]", head) is not None and b"<html" not in head
    if ctype in _FEED_TYPES or (ctype in _XML_TYPES + ("", *_HTML_TYPES, "text/plain") and looks_like_feed):
        return "feed"
    if ctype in _HTML_TYPES or (not ctype and re.search(rb"<(?:!doctype html|html|body|p)[\s>]", head)):
        return "html"
    if ctype == "text/plain":
        return "text"
    return "other"


def decode_response(response: Response) -> str:
    """A response's body as text: by a byte-order mark, else the charset the server or the page
    declares, else UTF-8; bytes that do not decode become U+FFFD (a web page is read as a browser would).

    Example: ``decode_response(Response("u", 200, {"content-type": "text/html; charset=latin-1"}, b"\\xe9")) == "é"``
    """
    body = response.body
    encoding = next((name for bom, name in _BOMS if body.startswith(bom)), None)
    if encoding is None:
        declared = response.charset
        if declared is None:
            m = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", body[:4096], re.IGNORECASE)
            declared = m.group(1).decode("ascii", "replace") if m else None
        encoding = declared or "utf-8"
    try:
        text = body.decode(encoding, "replace")
    except (LookupError, ValueError, TypeError):  # an unknown charset, or a codec that is not one ("base64")
        text = body.decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _article(
    response: Response, *, key: str, title: str | None = None, date: str | None = None, notes: list[str]
) -> Article:
    text = decode_response(response)
    if not text.strip():
        raise ArticleError("an empty page")
    if _kind(response) == "text":
        return make_article(text, source=response.url, key=key, title=title, date=date, notes=notes)
    return parse_html(text, source=response.url, key=key, url=response.url, title=title, date=date, notes=notes)


def _read_feed(url: str, response: Response, *, fetcher: Fetcher, memory: Memory) -> Iterator[Item]:
    import feedparser

    headers = {"content-location": response.url, "content-type": response.headers.get("content-type", "")}
    feed = feedparser.parse(response.body, response_headers=headers, sanitize_html=False, resolve_relative_uris=True)
    if not feed.entries:
        failure = f"not a readable feed ({_xml_reason(feed)})" if feed.get("bozo") else "the feed has no items"
        yield Item(url, url, failure=failure[:200])
        return
    keys: list[str] = []
    complete = True
    notes = [f"the feed is malformed ({_xml_reason(feed)}); read what could be read"[:200]] if feed.get("bozo") else []
    for entry in feed.entries:
        item = _read_entry(url, entry, fetcher=fetcher, memory=memory)
        complete = complete and (item.unchanged or item.where in item.remember)  # the feed's own text: try again
        if item.failure is None:
            keys.append(item.where)
        yield item
    yield Item(url, url, notes=notes, remember={url: _validators(response) | {"items": keys, "complete": complete}})


def _xml_reason(feed) -> str:
    """feedparser's complaint, without its "<unknown>:" (it never had a file name)."""
    text = str(feed.get("bozo_exception", "malformed"))
    return re.sub(r"^<unknown>:(\d+):(\d+): ", r"line \1, column \2: ", text)[:150]


def _read_entry(feed_url: str, entry, *, fetcher: Fetcher, memory: Memory) -> Item:
    """One feed item: its linked page, or the feed's own text for it when the page cannot be had."""
    link = entry.get("link") or (entry.get("id") if is_url(entry.get("id") or "") else None)
    link = urldefrag(link)[0] if link and is_url(link) else None
    own_html = next((c.get("value") for c in entry.get("content", []) if c.get("value")), None) or entry.get("summary")
    title = entry.get("title")
    updated = dict.get(entry, "updated")  # dict's own get: feedparser's would fall back to "published", and warn
    date = entry.get("published") or updated
    fingerprint = hashlib.sha256(
        json.dumps([link, title, date, updated, own_html], ensure_ascii=False).encode()
    ).hexdigest()[:16]
    key = link or f"{feed_url}#{entry.get('id') or fingerprint}"
    item = Item(key, feed_url)
    known = memory.recall(key)
    if known.get("entry") == fingerprint and known.get("article") and memory.stored(key) == known["article"]:
        item.unchanged = True  # the feed says what it said last time, and that article is stored
        return item
    why = "the feed gives no link for it"
    if link is not None:
        try:
            response = _get(fetcher, link, key=key, memory=memory, accept=_ACCEPT_PAGE)
            if response.status == 304:
                item.unchanged = True
                item.remember[key] = {**known, "entry": fingerprint}
                return item
            if _kind(response) not in ("html", "text"):
                raise ArticleError(f"not a web page (content type {response.content_type or 'none'})")
            item.article = _article(response, key=key, title=title, date=date, notes=item.notes)
            item.remember[key] = _validators(response) | {"article": item.article.id, "entry": fingerprint}
            return item
        except (FetchError, ArticleError) as exc:
            why = str(exc)
    if not own_html:
        item.failure = why
        return item
    try:  # the feed's own text; not remembered, so the page is tried again next time
        item.article = parse_html(own_html, source=link or feed_url, key=key, title=title, date=date, notes=item.notes)
        item.notes.insert(0, f"page not read ({why}); stored the feed's own text for this item")
    except ArticleError as exc:
        item.failure = f"{why}; the feed's own text: {exc}"
    return item
