"""The Gradio UI: chat with cited sources, browse and summarise articles, add articles.

A thin layer over :class:`qa.Pipeline`: handlers call the library and format what it returns;
no retrieval, prompting or checking happens here. Everything shown is HTML-escaped here, and
the chat does not render Markdown, so neither article text nor model output can run as
markup, load a script or fetch a remote image. Served on 127.0.0.1 only, with no share
link, Gradio's analytics off, a size limit on uploads, and a queue that runs model work one
request at a time. Every handler goes through :func:`maps_errors`: a user error is one line
to the user, anything else a short message with an id, its traceback only in the log.

Run: ``.venv/bin/python app.py`` (then open http://127.0.0.1:7860).
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import gradio as gr  # noqa: E402

from qa import Answer, Pipeline, QAError, Settings  # noqa: E402
from qa.ingest import SUPPORTED_SUFFIXES  # noqa: E402
from qa.summarize import Summary  # noqa: E402

log = logging.getLogger("qa.app")
SEEDS = Path(__file__).resolve().parent / "seeds"
MAX_UPLOAD_MB = 20
# Events that write to the store share one queue, so they run one at a time (Gradio gives every
# other listener a queue of its own); asking, which only reads, runs beside them.
STORE_QUEUE = "store"
CSS = """
.qa-declined { color: #8a4b00; font-style: italic; }
.qa-source { border-left: 3px solid #c9c9c9; padding: 0.3rem 0.8rem; margin: 0.6rem 0; }
.qa-source mark, .qa-article mark { background: #fff1a8; padding: 0 2px; }
.qa-meta { color: #666; font-size: 0.85rem; }
.qa-article p { margin: 0.5rem 0; }
"""


def maps_errors(handler: Callable) -> Callable:
    """Wrap a UI handler (a function or a generator) so that no error reaches the user raw.

    A :class:`QAError` (the user can act on it) becomes its one-line message, logged at INFO;
    any other error becomes "Something went wrong (error ID)", its traceback logged with the id.
    """

    def fail(exc: Exception):
        if isinstance(exc, gr.Error):
            raise exc
        if isinstance(exc, QAError):
            log.info("%s: %s", handler.__name__, exc)
            raise gr.Error(str(exc)) from None
        error_id = uuid.uuid4().hex[:8]
        log.error("error %s in %s", error_id, handler.__name__, exc_info=exc)
        raise gr.Error(f"Something went wrong (error {error_id}); the details are in the log.") from None

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def wrapper(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except Exception as exc:
                fail(exc)

    else:

        @functools.wraps(handler)
        def wrapper(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except Exception as exc:
                fail(exc)

    wrapper.maps_errors = True
    return wrapper


def _escape(text: str) -> str:
    return html.escape(" ".join(text.split()))


def message_text(message: dict) -> str:
    """A chat message's text, whether its content is a string or a list of parts (Gradio 6)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else [content]
    return " ".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in parts)


def answer_message(answer: Answer) -> str:
    """The chat text of a checked answer (plain text: the chat renders no Markdown)."""
    text = answer.text if answer.answered else f"{answer.text} (no answer in the articles)"
    if answer.short_answer:
        text = f"{answer.short_answer}\n\n{text}"
    return f"{text}\n\n{answer.note}" if answer.note else text


def render_sources(answer: Answer | None, pipeline: Pipeline) -> str:
    """Each citation: title, date, source, and the cited sentence highlighted in its paragraph."""
    if answer is None:
        return ""
    if not answer.answered:
        declined = f'<div class="qa-declined">{_escape(answer.text)}</div>'
        if answer.closest is None:
            return declined
        c = answer.closest
        return (
            f'{declined}<div class="qa-meta">Closest passage, not an answer ({html.escape(c.title)},'
            f" {html.escape(c.date or 'no date')}):</div><p>{_escape(c.sentence)}</p>"
        )
    blocks = []
    if answer.short_answer:
        blocks.append(f'<p class="qa-short"><b>{_escape(answer.short_answer)}</b></p>')
    for c in answer.citations:
        text = pipeline.article(c.article_id).text
        start = text.rfind("\n", 0, c.start) + 1
        end = text.find("\n", c.end)
        end = len(text) if end == -1 else end
        paragraph = (
            html.escape(text[start : c.start])
            + "<mark>"
            + html.escape(text[c.start : c.end])
            + "</mark>"
            + html.escape(text[c.end : end])
        )
        blocks.append(
            f'<div class="qa-source"><b>[{c.number}] {html.escape(c.title)}</b>'
            f'<div class="qa-meta">{html.escape(c.date or "no date")} · {html.escape(c.source)}'
            f" · characters {c.start}-{c.end}</div><p>{paragraph}</p></div>"
        )
    return "".join(blocks)


def render_article(pipeline: Pipeline, article_id: str) -> str:
    """An article's stored text, paragraph by paragraph, escaped."""
    article = pipeline.article(article_id)
    paragraphs = [p for p in article.text.split("\n") if p.strip()]
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    meta = f"{html.escape(article.date or 'no date')} · {html.escape(article.source)} · {article.id}"
    return f'<div class="qa-article"><h3>{html.escape(article.title)}</h3><div class="qa-meta">{meta}</div>{body}</div>'


def render_summary(summary: Summary | None) -> str:
    if summary is None:
        return '<p class="qa-meta">No summary yet: press "Summarize this article".</p>'
    headings = {"main": "Main story", "agree": "The sources agree", "single": "Only one source reports"}
    parts, section = [f"<h4>{html.escape(summary.title)}</h4>"], None
    for s in summary.sentences:
        if summary.kind == "digest" and s.section != section:
            section = s.section
            parts.append(f"<h5>{headings[section]}</h5>")
        marks = "".join(f"[{c.number}]" for c in s.citations)
        where = (
            f' <span class="qa-meta">(only in: {html.escape(s.citations[0].title)})</span>'
            if s.section == "single"
            else ""
        )
        parts.append(f"<p>{html.escape(s.text)} {marks}{where}</p>")
    return "".join(parts)


def create_app(pipeline: Pipeline, *, seeds: Path | None = None) -> gr.Blocks:
    """Build the UI around an open pipeline."""

    @maps_errors
    def respond(message: str, history: list[dict]):
        asked = [message_text(m) for m in history if m.get("role") == "user"]
        history = [*history, {"role": "user", "content": message}]
        for event in pipeline.ask_stream(message, history=asked):
            if isinstance(event, Answer):
                reply = {"role": "assistant", "content": answer_message(event)}
                yield [*history, reply], render_sources(event, pipeline), ""
            else:
                yield [*history, {"role": "assistant", "content": f"… {event.strip()}"}], "", ""

    @maps_errors
    def article_rows():
        return [[a.date or "", a.title, a.chunks, a.id] for a in pipeline.articles()]

    @maps_errors
    def open_article(event: gr.SelectData, rows):
        article_id = rows.iloc[event.index[0]]["id"] if hasattr(rows, "iloc") else rows[event.index[0]][3]
        stored = pipeline.summarizer().stored(article_id)
        return article_id, render_article(pipeline, article_id), render_summary(stored)

    @maps_errors
    def summarize_one(article_id: str):
        if not article_id:
            raise gr.Error("open an article first")
        return render_summary(pipeline.summarize([article_id]).summaries[0])

    @maps_errors
    def digest_all():
        return render_summary(pipeline.digest())

    @maps_errors
    def upload(files, progress=gr.Progress()):  # noqa: B008 - Gradio's way to show progress
        if not files:
            return "<p class='qa-meta'>No files.</p>", article_rows()
        rows = []
        for path in files:
            name = Path(path).name
            if Path(path).stat().st_size > MAX_UPLOAD_MB * 1_000_000:
                rows.append((name, "refused", f"over the {MAX_UPLOAD_MB} MB limit"))
                continue

            def show(state, name=name) -> None:  # as qa ingest's bar: articles committed, rates, time left
                articles, chunks = state.per_second()
                eta = state.eta()
                left = "" if eta is None else f", about {eta:.0f} s left"
                progress((state.done, state.total), desc=f"{name}: {chunks:.1f} chunks/s{left}", unit="articles")

            try:
                report = pipeline.ingest([path], on_progress=show)
            except QAError as exc:
                rows.append((name, "refused", str(exc)))
                continue
            rows.extend(_report_rows(report))
        table = "".join(
            f"<tr><td>{html.escape(n)}</td><td>{html.escape(o)}</td><td>{html.escape(w)}</td></tr>" for n, o, w in rows
        )
        return f"<table><tr><th>file</th><th>result</th><th>why</th></tr>{table}</table>", article_rows()

    with gr.Blocks(title="qa: news articles, cited", analytics_enabled=False) as app:
        gr.Markdown("### qa: ask the articles\nAnswers come only from the stored articles; every sentence is cited.")
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Conversation", render_markdown=False, sanitize_html=True, height=420)
                    question = gr.Textbox(label="Question", placeholder="Ask about the articles")
                    with gr.Row():
                        ask = gr.Button("Ask", variant="primary", elem_id="ask")
                        gr.ClearButton([chat, question], value="New conversation")
                with gr.Column(scale=2):
                    gr.Markdown("#### Sources")
                    sources = gr.HTML(elem_id="sources")
            ask.click(respond, [question, chat], [chat, sources, question], api_name="ask")
            question.submit(respond, [question, chat], [chat, sources, question], api_name=False)
        with gr.Tab("Articles"):
            table = gr.Dataframe(
                headers=["date", "title", "chunks", "id"], value=article_rows, interactive=False, wrap=True
            )
            current = gr.Textbox(label="Open article id", interactive=False)
            with gr.Row():
                summarize_button = gr.Button("Summarize this article")
                digest_button = gr.Button("Digest of all articles")
            with gr.Row():
                article_view = gr.HTML()
                summary_view = gr.HTML()
            table.select(open_article, [table], [current, article_view, summary_view])
            summarize_button.click(
                summarize_one, [current], [summary_view], api_name="summarize", concurrency_id=STORE_QUEUE
            )
            digest_button.click(digest_all, None, [summary_view], api_name="digest", concurrency_id=STORE_QUEUE)
        with gr.Tab("Add articles"):
            kinds = ", ".join(SUPPORTED_SUFFIXES)
            files = gr.File(
                label=f"Article files ({kinds}; at most {MAX_UPLOAD_MB} MB each)",
                file_count="multiple",
                file_types=list(SUPPORTED_SUFFIXES),
            )
            add = gr.Button("Add to the collection", variant="primary")
            results = gr.HTML()
            add.click(upload, [files], [results, table], api_name="add", concurrency_id=STORE_QUEUE)
    app.queue(default_concurrency_limit=1)  # one model: model work runs one request at a time
    return app


def _report_rows(report) -> list[tuple[str, str, str]]:
    rows = [(n, "added", "") for n in report.added]
    rows += [(n, "unchanged", "already stored") for n in report.unchanged]
    rows += [(n, "replaced", "a changed version replaced the old one") for n in report.replaced]
    rows += [(n, "removed", "no longer in its file") for n in report.removed]
    rows += [(n, "refused", why) for n, why in report.failed]
    return rows


def launch(app: gr.Blocks, *, port: int, block: bool = True):
    """Serve on loopback only, no share link, uploads capped."""
    return app.launch(
        server_name="127.0.0.1",
        server_port=port,
        share=False,
        css=CSS,
        max_file_size=f"{MAX_UPLOAD_MB}mb",
        prevent_thread_lock=not block,
        quiet=not block,
        footer_links=[],
    )


def main() -> int:
    handler = logging.StreamHandler()  # the log: standard error, qa's own lines only (not every library's)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("qa").addHandler(handler)
    logging.getLogger("qa").setLevel(logging.INFO)
    try:
        settings = Settings.from_env()
        pipeline = Pipeline.from_settings(settings)
        if not pipeline.articles():
            report = pipeline.ingest([SEEDS])
            print(f"first start: ingested seeds/ ({report.summary()})", file=sys.stderr)
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return exc.exit_code
    launch(create_app(pipeline), port=settings.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
