"""The Gradio UI: chat with cited sources, browse, summarise and remove articles, a timeline, uploads.

A thin layer over :class:`qa.Pipeline`: handlers call the library and :mod:`qa.ui` turns what
it returns into HTML; no retrieval, prompting or checking happens here. Everything shown is
HTML-escaped by :mod:`qa.ui` (the chat renders HTML, so user and model text are escaped
before they reach it), so neither article text nor model output can run as markup, load a
script or fetch a remote image. Served on 127.0.0.1 only, with no share link or share
button, Gradio's analytics off, a size limit on uploads, and a queue that runs model work
one request at a time. Every handler goes through :func:`maps_errors`: a user error is one
line to the user and one INFO line in the log, and the outputs stay as they were; anything
else is a short message with an id, its traceback only in the log.

Conversations are kept in ``DATA_DIR/conversations`` (:mod:`qa.conversations`); the browser
remembers which one is open, so a reload brings it back.

Run: ``.venv/bin/python app.py`` (then open http://127.0.0.1:7860).
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import inspect
import logging
import os
import re
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import gradio as gr  # noqa: E402

from qa import ui  # noqa: E402
from qa.conversations import Conversation, Conversations  # noqa: E402
from qa.errors import InputError, QAError  # noqa: E402
from qa.ingest import SUPPORTED_SUFFIXES  # noqa: E402
from qa.llm import model_name  # noqa: E402
from qa.pipeline import MAX_QUERY_CHARS, Pipeline  # noqa: E402
from qa.retrieve import Filters, check_query  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.summarize import DIGEST_MAX_ARTICLES  # noqa: E402
from qa.types import Answer, Citation  # noqa: E402

log = logging.getLogger("qa.app")
SEEDS = Path(__file__).resolve().parent / "seeds"
MAX_UPLOAD_MB = 20
# Events that write to the store share one queue, so they run one at a time (Gradio gives every
# other listener a queue of its own); asking, which only reads, runs beside them.
STORE_QUEUE = "store"
NEW = "new"  # the browser's remembered conversation when a new, still empty one is open
# A chat request for an overview rather than a fact: routed to the digest, not the answerer.
_BROAD = re.compile(
    r"^\s*(?:please\s+)?(?:summari[sz]e|give (?:me )?(?:a |an )?(?:summary|overview|digest)|"
    r"(?:a |an )?(?:summary|overview|digest) of|what (?:has )?happened(?:\s+(?:in|at|during|with)\b|\s*\?*\s*$))",
    re.IGNORECASE,
)


def maps_errors(handler: Callable) -> Callable:
    """Wrap a UI handler (a function or a generator) so that no error reaches the user raw.

    A :class:`QAError` (the user can act on it) is a one-line notice and one INFO line in the
    log; the outputs are left as they were (``gr.skip()``), not covered with error badges.
    Anything else is "Something went wrong (error ID)", its traceback logged with the id.
    """

    def fail(exc: Exception):
        if isinstance(exc, QAError):
            log.info("%s: %s", handler.__name__, exc)
            gr.Warning(html.escape(str(exc)), title="Not done")
            return gr.skip()
        error_id = uuid.uuid4().hex[:8]
        log.error("error %s in %s", error_id, handler.__name__, exc_info=exc)
        raise gr.Error(
            f"Something went wrong (error {error_id}); the details are in the log.", print_exception=False
        ) from None

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def wrapper(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except Exception as exc:
                yield fail(exc)

    else:

        @functools.wraps(handler)
        def wrapper(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except Exception as exc:
                return fail(exc)

    wrapper.maps_errors = True
    return wrapper


def message_text(message: dict) -> str:
    """A chat message's text, whether its content is a string or a list of parts (Gradio 6)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else [content]
    return " ".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in parts)


def chat_messages(conversation: Conversation | None) -> list[dict]:
    """The chat's messages for a conversation: each question, escaped, and its answer as HTML."""
    messages = []
    for number, turn in enumerate(conversation.turns if conversation else []):
        messages.append({"role": "user", "content": ui.esc(turn["question"])})
        messages.append({"role": "assistant", "content": ui.answer_html(turn["answer"], number)})
    return messages


def digest_answer(question: str, summary, *, note: str) -> Answer:
    """A digest as a chat answer: its sentences with their ``[n]``, cited like any answer."""
    citations: dict[int, Citation] = {}
    for s in summary.sentences:
        for c in s.citations:
            citations.setdefault(c.number, c)
    return Answer(question, summary.text, True, "digest", tuple(citations[n] for n in sorted(citations)), (), {},
                  note=note)  # fmt: skip


def recent_ids(articles, limit: int) -> list[str]:
    """The ids of the ``limit`` most recently dated of ``articles`` (undated last)."""
    articles = sorted(articles, key=lambda a: a.date or "", reverse=True)
    return [a.id for a in articles[:limit]]


def choose_for_digest(pipeline: Pipeline, chosen: list[str] | None) -> tuple[list[str] | None, str | None]:
    """The articles a digest covers: the chosen ones, or all, or the most recent when all are too many."""
    if chosen:
        return chosen, None
    stored = pipeline.articles()
    total = len(stored)
    if total <= DIGEST_MAX_ARTICLES:
        return None, None
    note = (
        f"A digest covers at most {DIGEST_MAX_ARTICLES} articles; this one covers the "
        f"{DIGEST_MAX_ARTICLES} most recent of {total}. Choose articles to digest others."
    )
    return recent_ids(stored, DIGEST_MAX_ARTICLES), note


def status_html(pipeline: Pipeline) -> str:
    """What is running: the answer model, the embedding model, where the store is, how many articles."""
    s = pipeline.settings
    if s.llm_url:
        model = f"model server {s.llm_url}"
    else:
        model = model_name(s.model)
    store = f"Chroma server {s.chroma_url}" if s.chroma_url else f"data dir {s.data_dir}"
    count = len(pipeline.articles())
    parts = [f"answers: {s.answer_mode} mode, {model}", f"embeddings: {s.embed_model}", store,
             f"{count} article{'s' if count != 1 else ''}"]  # fmt: skip
    return f'<div class="qa-status qa-meta" id="qa-status-line">{" · ".join(html.escape(p) for p in parts)}</div>'


def create_app(pipeline: Pipeline, *, conversations: Conversations | None = None) -> gr.Blocks:
    """Build the UI around an open pipeline."""
    conversations = conversations or Conversations(pipeline.settings.data_dir / "conversations")
    exports = Path(tempfile.mkdtemp(prefix="qa-export-"))

    def text_of(article_id: str) -> str | None:
        try:
            return pipeline.article(article_id).text
        except QAError:
            return None

    def open_conversation(conversation_id: str | None) -> Conversation | None:
        if not conversation_id or conversation_id == NEW:
            return None
        try:
            return conversations.load(conversation_id)
        except InputError:
            return None

    def conversation_choices(current: str | None):
        listed = conversations.list()
        choices = [(f"{c.title} ({dt.datetime.fromtimestamp(c.updated):%Y-%m-%d %H:%M})", c.id) for c in listed]
        ids = {c.id for c in listed}
        return gr.Dropdown(choices=choices, value=current if current in ids else None)

    def showing(conversation: Conversation | None):
        """What the Ask tab shows for a conversation: chat, sources, the open id, the list."""
        turns = conversation.turns if conversation else []
        current = conversation.id if conversation else NEW
        return chat_messages(conversation), ui.sources_html(turns, text_of), current, conversation_choices(current)

    shows = maps_errors(lambda: gr.Row(visible=True))
    hides = maps_errors(lambda: gr.Row(visible=False))

    # --- Ask ------------------------------------------------------------------------------------

    @maps_errors
    def respond(question: str, chat: list[dict], current: str, article_ids, since: str, until: str):
        try:
            question = check_query(question or "", max_chars=MAX_QUERY_CHARS)
            filters = Filters.build(article_ids=article_ids or None, date_from=since or None, date_to=until or None)
        except QAError as exc:  # said beside the box; the conversation and its sources stay
            log.info("respond: %s", exc)
            yield (
                gr.skip(),
                gr.skip(),
                gr.skip(),
                f'<div class="qa-declined">{html.escape(str(exc))}</div>',
                *[gr.skip()] * 2,
            )
            return
        conversation = open_conversation(current) or Conversation()
        waiting = {"role": "assistant", "content": ui.pending_html(ui.SEARCHING)}
        shown = [*chat_messages(conversation), {"role": "user", "content": ui.esc(question)}]
        yield [*shown, waiting], gr.skip(), "", "", gr.skip(), gr.skip()
        try:
            if _BROAD.match(question):
                answer = broad_answer(question, filters)
            else:
                answer = None
                history = [t["question"] for t in conversation.turns]
                for event in pipeline.ask_stream(
                    question, article_ids=article_ids or None, date_from=filters.date_from,
                    date_to=filters.date_to, history=history,
                ):  # fmt: skip
                    if isinstance(event, Answer):
                        answer = event
                    elif waiting["content"] != ui.pending_html(ui.CHECKING):  # model text is checked before it is shown
                        waiting = {"role": "assistant", "content": ui.pending_html(ui.CHECKING)}
                        yield [*shown, waiting], gr.skip(), "", "", gr.skip(), gr.skip()
        except Exception:
            failed = {"role": "assistant", "content": ui.pending_html("Not answered; see the message.")}
            yield [*shown, failed], gr.skip(), question, "", gr.skip(), gr.skip()
            raise
        conversation.add(question, answer)
        conversations.save(conversation)
        chat_now, sources_now, current, listed = showing(conversation)
        yield chat_now, sources_now, "", "", current, listed

    def broad_answer(question: str, filters: Filters) -> Answer:
        """ "Summarize the articles" or "What happened in Lisbon?": a digest of the articles it is about."""
        subject = _BROAD.sub("", question).strip(" ?.!:") or ""
        subject = re.sub(r"^(?:in|to|with|of|at|about|the articles?)\b\s*", "", subject, flags=re.IGNORECASE).strip()
        if filters.article_ids:
            chosen, about = list(filters.article_ids), "the chosen articles"
        elif subject and not re.fullmatch(r"(?:the |all )?(?:articles?|news|stories|collection)", subject, re.I):
            hits = pipeline.search(subject, date_from=filters.date_from, date_to=filters.date_to)
            chosen, about = list(dict.fromkeys(h.article.id for h in hits)), f"the articles about \u201c{subject}\u201d"
        else:
            chosen, note = choose_for_digest(pipeline, None)
            about = "the most recent articles" if note else "all the articles"
        if chosen is not None and len(chosen) == 1:
            summary = pipeline.summarize(chosen).summaries[0]
            return digest_answer(question, summary, note=f"Read as a request for a summary of {about}.")
        summary = pipeline.digest(chosen)
        return digest_answer(question, summary, note=f"Read as a request for a digest of {about}.")

    @maps_errors
    def restore(remembered: str | None):
        """On page load: the conversation this browser had open; the latest one on a first visit."""
        if remembered is None:
            listed = conversations.list()
            remembered = listed[0].id if listed else NEW
        return showing(open_conversation(remembered))

    @maps_errors
    def new_conversation():
        return [], ui.sources_html([], text_of), "", "", NEW, conversation_choices(NEW)

    @maps_errors
    def pick_conversation(conversation_id: str | None):
        if not conversation_id:
            return gr.skip()
        return showing(conversations.load(conversation_id))

    @maps_errors
    def delete_conversation(current: str):
        if not current or current == NEW:
            raise InputError("no conversation is open")
        conversations.delete(current)
        log.info("conversation %s deleted", current)
        return [], ui.sources_html([], text_of), NEW, conversation_choices(NEW), gr.Row(visible=False)

    @maps_errors
    def export_conversation(current: str):
        conversation = open_conversation(current)
        if conversation is None or not conversation.turns:
            raise InputError("nothing to export yet: ask a question first")
        path = exports / f"conversation-{conversation.id[:8]}.md"
        path.write_text(conversation.to_markdown(), encoding="utf-8")
        return gr.File(value=str(path), visible=True)

    # --- Articles -------------------------------------------------------------------------------

    def article_rows(query: str = "") -> list[list]:
        words = (query or "").lower().split()
        rows = []
        for a in pipeline.articles():
            seen = f"{a.date or ''} {a.title} {a.id}".lower()
            if all(w in seen for w in words):
                rows.append([a.date or "", a.title, a.chunks, a.id])
        return rows

    def article_choices():
        """The articles as choices for every picker, newest first."""
        listed = sorted(pipeline.articles(), key=lambda a: a.date or "", reverse=True)
        return [(f"{a.date or 'no date'} · {a.title[:80]}", a.id) for a in listed]

    def refreshed(*extra):
        """After the store changed: the table, each picker's choices, the status line."""
        choices = article_choices()
        pickers = [gr.Dropdown(choices=choices) for _ in range(3)]
        return (*extra, article_rows(), *pickers, status_html(pipeline))

    @maps_errors
    def filter_articles(query: str):
        return article_rows(query)

    @maps_errors
    def open_article(event: gr.SelectData):
        row = event.row_value
        if not row:
            return gr.skip()
        article_id = row[3]
        stored = pipeline.summarizer().stored(article_id)
        return article_id, *article_views(article_id, stored), gr.Row(visible=False)

    def article_views(article_id: str, summary) -> tuple[str, str]:
        article = pipeline.article(article_id)
        cited = [(c.start, c.end) for s in summary.sentences for c in s.citations] if summary else []
        return ui.article_html(article, highlights=cited), ui.summary_html(summary)

    @maps_errors
    def summarize_one(article_id: str):
        if not article_id:
            raise InputError("open an article first: select its row in the table")
        return article_views(article_id, pipeline.summarize([article_id]).summaries[0])

    @maps_errors
    def digest(chosen: list[str] | None):
        ids, note = choose_for_digest(pipeline, chosen)
        return ui.digest_html(pipeline.digest(ids), text_of, note=note)

    @maps_errors
    def ask_delete(article_id: str):
        if not article_id:
            raise InputError("open an article first: select its row in the table")
        title = pipeline.article(article_id).title
        return gr.Row(
            visible=True
        ), f"<b>Delete \u201c{ui.esc(title)}\u201d?</b> Its text, summary, vectors and keywords go."

    @maps_errors
    def delete_article(article_id: str):
        removed = pipeline.remove(article_id)
        log.info("article %s removed from the UI", removed.id)
        notice = f'<p class="qa-meta">Deleted \u201c{ui.esc(removed.title)}\u201d.</p>'
        return refreshed("", notice, "", gr.Row(visible=False))

    # --- Timeline -------------------------------------------------------------------------------

    @maps_errors
    def make_timeline(article_ids, since: str, until: str, query: str):
        timeline = pipeline.timeline(
            article_ids or None, query=(query or "").strip() or None, since=since or None, until=until or None
        )
        return ui.timeline_html(timeline)

    # --- Add articles ---------------------------------------------------------------------------

    @maps_errors
    def upload(files, progress=gr.Progress()):  # noqa: B008 - Gradio's way to show progress
        if not files:
            raise InputError("choose files to add first")
        rows = []
        for path in files:
            name = Path(path).name  # Gradio keeps the original file name as the upload's name
            if Path(path).stat().st_size > MAX_UPLOAD_MB * 1_000_000:
                rows.append((name, "", "refused", f"over the {MAX_UPLOAD_MB} MB limit"))
                continue

            def show(state, name=name) -> None:  # as qa ingest's bar: articles committed, rates, time left
                _, chunks = state.per_second()
                eta = state.eta()
                left = "" if eta is None else f", about {eta:.0f} s left"
                progress((state.done, state.total), desc=f"{name}: {chunks:.1f} chunks/s{left}", unit="articles")

            try:
                report = pipeline.ingest_upload(path, name, on_progress=show)
            except QAError as exc:
                rows.append((name, "", "refused", str(exc)))
                continue
            rows.extend(_report_rows(report))
        table = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
        report_html = f"<table><tr><th>file</th><th>article</th><th>result</th><th>why</th></tr>{table}</table>"
        return refreshed(report_html)

    with gr.Blocks(title="qa: news articles, cited", analytics_enabled=False) as app:
        gr.Markdown("### qa: ask the articles\nAnswers come only from the stored articles; every sentence is cited.")
        status = gr.HTML(maps_errors(lambda: status_html(pipeline)), elem_id="qa-status")
        current = gr.BrowserState(None, storage_key="qa-conversation")
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Conversation", render_markdown=False, sanitize_html=True, height=420,
                                      buttons=["copy", "copy_all"], elem_id="chat")  # fmt: skip
                    question = gr.Textbox(label="Question", placeholder="Ask about the articles", elem_id="question")
                    notice = gr.HTML(elem_id="notice")
                    with gr.Row():
                        ask = gr.Button("Ask", variant="primary", elem_id="ask")
                        new = gr.Button("New conversation", elem_id="new-conversation")
                    with gr.Accordion("Ask within: articles and dates", open=False):
                        within = gr.Dropdown(label="Only these articles", choices=article_choices(), multiselect=True,
                                             elem_id="ask-articles")  # fmt: skip
                        with gr.Row():
                            since = gr.Textbox(label="Articles dated from (YYYY-MM-DD)", elem_id="ask-since")
                            until = gr.Textbox(label="to (YYYY-MM-DD)", elem_id="ask-until")
                    with gr.Accordion("Conversations", open=False):
                        saved = gr.Dropdown(label="Saved conversations", choices=[], elem_id="conversations")
                        with gr.Row():
                            export = gr.Button("Export as Markdown", elem_id="export")
                            forget = gr.Button(
                                "Delete this conversation", variant="stop", elem_id="delete-conversation"
                            )
                        with gr.Row(visible=False) as confirm_forget:
                            gr.HTML("<b>Delete this conversation for good?</b>")
                            forget_yes = gr.Button("Yes, delete it", variant="stop", elem_id="delete-conversation-yes")
                            forget_no = gr.Button("Cancel")
                        exported = gr.File(label="Markdown export", visible=False, elem_id="exported")
                with gr.Column(scale=2):
                    gr.Markdown("#### Sources")
                    sources = gr.HTML(ui.sources_html([], text_of), elem_id="sources")
            asked = [question, chat, current, within, since, until]
            answered = [chat, sources, question, notice, current, saved]
            ask.click(respond, asked, answered, api_name="ask")
            question.submit(respond, asked, answered, api_name=False)
            new.click(new_conversation, None, [chat, sources, notice, question, current, saved], api_name="new")
            chat.clear(new_conversation, None, [chat, sources, notice, question, current, saved], api_name=False)
            app.load(restore, [current], [chat, sources, current, saved], api_name=False)
            saved.input(pick_conversation, [saved], [chat, sources, current, saved], api_name=False)
            forget.click(shows, None, [confirm_forget], api_name=False)
            forget_no.click(hides, None, [confirm_forget], api_name=False)
            forget_yes.click(delete_conversation, [current], [chat, sources, current, saved, confirm_forget],
                             api_name="delete_conversation")  # fmt: skip
            export.click(export_conversation, [current], [exported], api_name="export")
        with gr.Tab("Articles"):
            search = gr.Textbox(label="Filter by title, date or id", placeholder="e.g. 2024-12 or prison",
                                elem_id="article-filter")  # fmt: skip
            table = gr.Dataframe(headers=["date", "title", "chunks", "id"], value=maps_errors(article_rows),
                                 interactive=False, wrap=True, column_widths=["10%", "62%", "8%", "20%"],
                                 max_height=360, elem_id="qa-articles")  # fmt: skip
            opened = gr.Textbox(label="Open article id", interactive=False, elem_id="open-article")
            with gr.Row():
                summarize_button = gr.Button("Summarize this article", elem_id="summarize")
                delete_button = gr.Button("Delete this article", variant="stop", elem_id="delete-article")
            with gr.Row(visible=False) as confirm_delete:
                confirm_text = gr.HTML()
                delete_yes = gr.Button("Yes, delete it", variant="stop", elem_id="delete-article-yes")
                delete_no = gr.Button("Cancel")
            deleted = gr.HTML(elem_id="deleted")
            with gr.Row():
                article_view = gr.HTML(elem_id="article")
                summary_view = gr.HTML(elem_id="summary")
            with gr.Accordion("Digest across articles", open=True):
                digest_pick = gr.Dropdown(
                    label=f"Articles to digest (none chosen: all, or the {DIGEST_MAX_ARTICLES} most recent)",
                    choices=article_choices(), multiselect=True, max_choices=DIGEST_MAX_ARTICLES,
                    elem_id="digest-articles",
                )  # fmt: skip
                digest_button = gr.Button("Make the digest", elem_id="digest")
                digest_view = gr.HTML(elem_id="digest-view")
            search.change(filter_articles, [search], [table], api_name=False)
            table.select(open_article, None, [opened, article_view, summary_view, confirm_delete], api_name=False)
            summarize_button.click(summarize_one, [opened], [article_view, summary_view], api_name="summarize",
                                   concurrency_id=STORE_QUEUE)  # fmt: skip
            digest_button.click(digest, [digest_pick], [digest_view], api_name="digest", concurrency_id=STORE_QUEUE)
            delete_button.click(ask_delete, [opened], [confirm_delete, confirm_text], api_name=False)
            delete_no.click(hides, None, [confirm_delete], api_name=False)
        with gr.Tab("Timeline"):
            with gr.Row():
                timeline_pick = gr.Dropdown(label="Only these articles (none: all)", choices=article_choices(),
                                            multiselect=True, elem_id="timeline-articles", scale=3)  # fmt: skip
                timeline_query = gr.Textbox(label="Only passages about", placeholder="e.g. prison", scale=2,
                                            elem_id="timeline-query")  # fmt: skip
            with gr.Row():
                timeline_since = gr.Textbox(label="Events from (YYYY-MM-DD)", elem_id="timeline-since")
                timeline_until = gr.Textbox(label="Events to (YYYY-MM-DD)", elem_id="timeline-until")
            timeline_button = gr.Button("Show the timeline", variant="primary", elem_id="timeline-button")
            timeline_view = gr.HTML(elem_id="timeline")
            timeline_button.click(make_timeline, [timeline_pick, timeline_since, timeline_until, timeline_query],
                                  [timeline_view], api_name="timeline")  # fmt: skip
        with gr.Tab("Add articles"):
            kinds = ", ".join(SUPPORTED_SUFFIXES)
            files = gr.File(
                label=f"Article files ({kinds}; at most {MAX_UPLOAD_MB} MB each)",
                file_count="multiple",
                file_types=list(SUPPORTED_SUFFIXES),
            )
            add = gr.Button("Add to the collection", variant="primary", elem_id="add")
            results = gr.HTML(elem_id="added")
        changed = [table, within, digest_pick, timeline_pick, status]
        add.click(upload, [files], [results, *changed], api_name="add", concurrency_id=STORE_QUEUE)
        delete_yes.click(delete_article, [opened], [opened, deleted, article_view, confirm_delete, *changed],
                         api_name="delete", concurrency_id=STORE_QUEUE)  # fmt: skip
    app.queue(default_concurrency_limit=1)  # one model: model work runs one request at a time
    return app


def _report_rows(report) -> list[tuple[str, str, str, str]]:
    """A row per article read (a JSON-lines file has many: each is named by its title), then failures."""
    why = {"added": "", "unchanged": "already stored", "replaced": "a changed version replaced the old one"}
    rows = [(source, title, outcome, why[outcome]) for outcome, source, title in report.outcomes]
    rows += [(n.split(": ", 1)[0], n.split(": ", 1)[-1], "removed", "no longer in its file") for n in report.removed]
    rows += [(n, "", "refused", reason) for n, reason in report.failed]
    rows += [(n, "", "note", why) for n, why in report.notes]  # read with a loss, such as a date not understood
    return rows


def launch(app: gr.Blocks, *, port: int, block: bool = True):
    """Serve on loopback only, no share link, uploads capped."""
    return app.launch(
        server_name="127.0.0.1",
        server_port=port,
        share=False,
        css=ui.CSS,
        js=ui.FOLLOW_JS,
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
