"""HTML for the web UI: answers, source cards, articles, summaries and timelines.

Pure functions from the library's values to HTML strings; ``app.py`` wires them to Gradio.
Every piece of article text or model output goes through :func:`html.escape` here, so no
stored text can become markup. The only markup added is the project's own: ``<mark>`` around
cited sentences and ``<a class="qa-cite">`` links from each ``[n]`` to its card (followed by
:data:`FOLLOW_JS`, which opens and scrolls to the card).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

from qa.summarize import Summary
from qa.text import is_caption
from qa.timeline import Timeline
from qa.types import Article

_CITE = re.compile(r"\[(\d+)\]")
_DATE_LINE = re.compile(r"\s*date\s+\d{4}-\d\d-\d\d\b\s*", re.IGNORECASE)
FOLLOW_UP = "Read as a follow-up: "
SEARCHING = "Searching the articles\u2026"
CHECKING = "Checking the answer against its sources\u2026"

# Light and dark (Gradio puts class "dark" on <body> when the system or ?__theme=dark asks).
# Highlight: near-black on pale yellow, and near-white on dark amber; both well above 7:1.
CSS = """
.qa-declined { color: #8a4b00; }
.dark .qa-declined { color: #ffb866; }
.qa-note { color: #555; font-size: 0.85rem; margin-bottom: 0.3rem; }
.dark .qa-note, .dark .qa-meta { color: #b4b4b4; }
.qa-meta { color: #595959; font-size: 0.85rem; }
.qa-card { border-left: 3px solid #c9c9c9; padding: 0.3rem 0.8rem; margin: 0.6rem 0; }
.qa-card.qa-flash { border-left-color: #e0a800; background: rgba(224, 168, 0, 0.12); }
mark.qa-hl { background: #fff1a8; color: #1a1a1a; padding: 0 2px; }
.dark mark.qa-hl { background: #6b5300; color: #fffbe6; }
mark.qa-hl.qa-flash { outline: 2px solid #e0a800; }
.qa-article p, .qa-card p { margin: 0.5rem 0; }
.qa-article .qa-caption { font-style: italic; font-size: 0.9rem; }
.qa-turn > summary { cursor: pointer; font-weight: 600; margin: 0.4rem 0; }
a.qa-cite { text-decoration: none; font-weight: 600; }
.qa-summary h4, .qa-digest h4 { margin: 0.3rem 0; font-size: 1rem; line-height: 1.35; }
.qa-digest h5 { margin: 0.6rem 0 0.2rem; font-size: 0.95rem; }
.qa-entry { margin: 0.7rem 0; }
.qa-when { font-weight: 600; }
.qa-status { font-size: 0.8rem; }
"""

# Clicking an [n] opens the card it names (inside a closed <details> too) and scrolls to it.
FOLLOW_JS = """
() => {
  window.qaFollowsCitations = true;
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.qa-cite");
    if (!link) return;
    event.preventDefault();
    const target = document.getElementById((link.getAttribute("href") || "").slice(1));
    if (!target) return;
    for (let d = target.closest("details"); d; d = d.parentElement.closest("details")) d.open = true;
    target.scrollIntoView({block: "center"});
    target.classList.add("qa-flash");
    setTimeout(() => target.classList.remove("qa-flash"), 4000);
  }, true);  // capture: the chat's own click handling does not stop it
}
"""


def esc(text: str) -> str:
    """``text`` escaped, its whitespace runs made single spaces.

    Example: ``esc("a <b>\\n c") == "a &lt;b&gt; c"``
    """
    return html.escape(" ".join(text.split()))


def linked(text: str, targets: dict[int, str]) -> str:
    """``text`` escaped, each ``[n]`` that has a target made a link to it.

    Example: ``linked("x [1]", {1: "c1"})`` ends with ``href="#c1">[1]</a>``
    """

    def link(match: re.Match) -> str:
        target = targets.get(int(match.group(1)))
        if target is None:
            return match.group(0)
        return f'<a class="qa-cite" href="#{target}">{match.group(0)}</a>'

    return _CITE.sub(link, esc(text))


def read_as(note: str | None) -> str | None:
    """The answer's note in plain words: a follow-up says how it was read.

    Example: ``read_as("Read as a follow-up: Why x?") == "Read as: Why x?"``
    """
    if note and note.startswith(FOLLOW_UP):
        return "Read as: " + note[len(FOLLOW_UP) :]
    return note


# --- the conversation ---------------------------------------------------------------------------


def card_id(turn: int, number: int) -> str:
    return f"qa-src-{turn}-{number}"


def answer_html(answer: dict, turn: int) -> str:
    """An answer (``Answer.to_dict()``) as a chat message: how it was read, its text, ``[n]`` linked."""
    parts = []
    note = read_as(answer.get("note"))
    if note:
        parts.append(f'<div class="qa-note">{esc(note)}</div>')
    if not answer["answered"]:
        parts.append(f'<div class="qa-declined">{esc(answer["answer"])}</div>')
        return "".join(parts)
    if answer.get("short_answer"):
        parts.append(f"<b>{esc(answer['short_answer'])}</b><br>")
    targets = {c["number"]: card_id(turn, c["number"]) for c in answer["citations"]}
    parts.append(linked(answer["answer"], targets))
    return "".join(parts)


def pending_html(text: str) -> str:
    return f'<div class="qa-note"><i>{esc(text)}</i></div>'


def _paragraph(text: str, start: int, end: int) -> tuple[int, int]:
    """The line of ``text`` around ``[start, end)``: a stored article has a paragraph per line."""
    first = text.rfind("\n", 0, start) + 1
    last = text.find("\n", end)
    return first, len(text) if last == -1 else last


def marked(text: str, start: int, end: int, spans: Sequence[tuple[int, int, str]]) -> str:
    """``text[start:end]`` escaped, with each ``(s, e, element_id)`` of ``spans`` in a highlight."""
    out, at = [], start
    for s, e, element_id in sorted(spans):
        if s < at:
            continue
        out.append(html.escape(text[at:s]))
        ident = f' id="{element_id}"' if element_id else ""
        out.append(f'<mark class="qa-hl"{ident}>{html.escape(text[s:e])}</mark>')
        at = e
    out.append(html.escape(text[at:end]))
    return "".join(out)


def citation_cards(citations: Sequence[dict], text_of: Callable[[str], str | None], ids: Callable[[int], str]) -> str:
    """A card per cited paragraph: its title, date and source, the cited sentences highlighted.

    Citations in one paragraph of one article share a card, named ``[1][2]``; each ``[n]``
    keeps an element id (``ids(n)``) inside it, so a link to either lands there.
    """
    groups: dict[tuple, list[dict]] = {}
    texts: dict[str, str | None] = {}
    for c in citations:
        text = texts.setdefault(c["article_id"], text_of(c["article_id"]))
        whole = text is not None and text[c["start"] : c["end"]] == c["sentence"]
        where = _paragraph(text, c["start"], c["end"]) if whole else (c["start"], c["end"])
        groups.setdefault((c["article_id"], *where, whole), []).append(c)
    cards = []
    for (article_id, start, end, whole), cited in groups.items():
        first = cited[0]
        numbers = "".join(f"[{c['number']}]" for c in cited)
        anchors = "".join(f'<span id="{ids(c["number"])}"></span>' for c in cited[1:])
        if whole:
            body = marked(texts[article_id], start, end, [(c["start"], c["end"], "") for c in cited])
        else:  # the article was removed or changed since: the sentence as cited
            gone = '<span class="qa-meta">(article no longer stored)</span>'
            body = f'<mark class="qa-hl">{esc(first["sentence"])}</mark> {gone}'
        meta = f"{esc(first['date'] or 'no date')} · {esc(first['source'])} · {article_id}"
        cards.append(
            f'<div class="qa-card" id="{ids(first["number"])}">{anchors}<b>{numbers} {esc(first["title"])}</b>'
            f'<div class="qa-meta">{meta}</div><p>{body}</p></div>'
        )
    return "".join(cards)


def turn_sources(answer: dict, turn: int, text_of: Callable[[str], str | None]) -> str:
    """The cards of one answer; for a refusal, its reason and the closest passage, marked as not an answer."""
    if answer["answered"]:
        return citation_cards(answer["citations"], text_of, lambda n: card_id(turn, n))
    out = f'<div class="qa-declined">{esc(answer["answer"])}</div>'
    if answer.get("closest"):
        closest = dict(answer["closest"], number=0)
        out += '<div class="qa-meta">Closest passage, not an answer:</div>'
        out += citation_cards([closest], text_of, lambda n: card_id(turn, n)).replace("<b>[0] ", "<b>")
    return out


def sources_html(turns: Sequence[dict], text_of: Callable[[str], str | None]) -> str:
    """Every answer's sources, the latest open and first; earlier answers keep theirs, folded."""
    if not turns:
        return '<p class="qa-meta">The sources of each answer appear here.</p>'
    blocks = []
    for number in range(len(turns) - 1, -1, -1):
        turn = turns[number]
        cards = turn_sources(turn["answer"], number, text_of)
        heading = f"{number + 1}. {esc(turn['question'])}"
        state = " open" if number == len(turns) - 1 else ""
        blocks.append(f'<details class="qa-turn"{state}><summary>{heading}</summary>{cards}</details>')
    return "".join(blocks)


# --- articles and summaries ---------------------------------------------------------------------


def body_start(article: Article) -> int:
    """Where the article's body starts: after a leading ``date YYYY-MM-DD`` and a headline line
    that the header already shows (a headline counts when an indexed sentence there is the title)."""
    text = article.text
    at = 0
    date = _DATE_LINE.match(text)
    if date:
        at = date.end()
    for span in article.sentences:
        if span.start >= at and not text[at : span.start].strip():
            if " ".join(span.of(text).split()) == " ".join(article.title.split()):
                at = span.end
            break
    return at


def article_html(article: Article, *, highlights: Sequence[tuple[int, int]] = ()) -> str:
    """An article as it reads: title, date and source as a header, then its paragraphs.

    ``highlights`` are spans to mark (a summary's cited sentences); each mark gets the id
    ``qa-art-START`` so a summary's ``[n]`` can lead to it.
    """
    text = article.text
    start = body_start(article)
    spans = [(s, e, f"qa-art-{s}") for s, e in highlights if s >= start]
    paragraphs = []
    position = start
    for line in text[start:].split("\n"):
        first, last = position, position + len(line)
        position = last + 1
        if not line.strip():
            continue
        inside = [s for s in spans if first <= s[0] and s[1] <= last]
        cls = ' class="qa-caption"' if is_caption(line.strip()) else ""
        paragraphs.append(f"<p{cls}>{marked(text, first, last, inside)}</p>")
    meta = f"{esc(article.date or 'no date')} · {esc(article.source)} · id {article.id}"
    header = f'<h3>{esc(article.title)}</h3><div class="qa-meta">{meta}</div>'
    return f'<div class="qa-article">{header}{"".join(paragraphs)}</div>'


_SECTIONS = {"main": "Main story", "agree": "The sources agree", "single": "Only one source reports"}


def summary_html(summary: Summary | None) -> str:
    """An article's summary; each ``[n]`` leads to its sentence, highlighted in the article beside it."""
    if summary is None:
        return '<p class="qa-meta">No summary yet: press "Summarize this article".</p>'
    parts = [f'<div class="qa-summary"><h4>Summary: {esc(summary.title)}</h4>']
    for s in summary.sentences:
        targets = {c.number: f"qa-art-{c.start}" for c in s.citations}
        marks = "".join(f"[{c.number}]" for c in s.citations)
        parts.append(f"<p>{esc(s.text)} {linked(marks, targets)}</p>")
    return "".join(parts) + "</div>"


def digest_html(summary: Summary, text_of: Callable[[str], str | None], *, note: str | None = None) -> str:
    """A digest by section; each ``[n]`` leads to a card below with the sentence highlighted in its paragraph."""
    parts = [f'<div class="qa-digest"><h4>Digest of {len(summary.article_ids)} articles</h4>']
    if note:
        parts.append(f'<p class="qa-note">{esc(note)}</p>')
    section, cited = None, {}
    for s in summary.sentences:
        if s.section != section:
            section = s.section
            parts.append(f"<h5>{_SECTIONS.get(section, esc(section))}</h5>")
        targets = {c.number: f"qa-dig-{c.number}" for c in s.citations}
        for c in s.citations:
            cited.setdefault(c.number, c.to_dict())
        where = f' <span class="qa-meta">(only in: {esc(s.citations[0].title)})</span>' if s.section == "single" else ""
        marks = "".join(f"[{c.number}]" for c in s.citations)
        parts.append(f"<p>{esc(s.text)} {linked(marks, targets)}{where}</p>")
    parts.append("<h5>Sources</h5>")
    parts.append(citation_cards([cited[n] for n in sorted(cited)], text_of, lambda n: f"qa-dig-{n}"))
    return "".join(parts) + "</div>"


# --- the timeline -------------------------------------------------------------------------------


def timeline_html(timeline: Timeline) -> str:
    """Each dated entry: its date(s), then every source's sentence with the time expression marked."""
    if not timeline.entries:
        return f'<p class="qa-meta">No dated events found in {timeline.articles} article(s).</p>'
    count = f"{len(timeline.entries)} events from {timeline.articles} article(s), earliest first."
    parts = [f'<p class="qa-meta">{count}</p>']
    for entry in timeline.entries:
        lead = entry.lead.expression
        if entry.dates_differ:
            when = "the sources give different dates: " + " | ".join(esc(d) for d in entry.dates)
        else:
            when = esc(lead.value or "date not resolved") + f' <span class="qa-meta">({esc(lead.precision)})</span>'
        parts.append(f'<div class="qa-entry"><div class="qa-when">{when}</div>')
        for m in entry.mentions:
            c, x = m.citation, m.expression
            # the expression's offsets are in the article's text, like the sentence's
            inside = [(x.start - c.start, x.end - c.start, "")] if c.start <= x.start and x.end <= c.end else []
            sentence = marked(c.sentence, 0, len(c.sentence), inside)
            said = f"{x.value} ({x.precision})" if x.value else "not resolved"
            note = f"; {x.note}" if x.note else ""
            parts.append(
                f'<div class="qa-card"><p>[{c.number}] {sentence}</p><div class="qa-meta">'
                f"\u201c{esc(x.text)}\u201d = {esc(said + note)} · {esc(c.title)} · {esc(c.date or 'no date')}"
                f" · {esc(c.source)}</div></div>"
            )
        parts.append("</div>")
    return "".join(parts)
