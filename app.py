"""The Gradio UI: ask questions and read cited answers, browse the articles.

A thin layer over :class:`qa.Pipeline`: handlers call the library and format what it returns.
Everything shown is HTML-escaped here, so neither article text nor model output can run as
markup. Served on 127.0.0.1 only, with no share link and Gradio's analytics off.

Run: ``.venv/bin/python app.py`` (then open http://127.0.0.1:7860).
"""

from __future__ import annotations

import html
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import gradio as gr  # noqa: E402

from qa import Answer, Pipeline, QAError, Settings  # noqa: E402

SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
CSS = """
.qa-answer { font-size: 1.05rem; line-height: 1.5; }
.qa-declined { color: #8a4b00; }
.qa-source { border-left: 3px solid #c9c9c9; padding: 0.3rem 0.8rem; margin: 0.6rem 0; }
.qa-source mark { background: #fff1a8; padding: 0 2px; }
.qa-meta { color: #666; font-size: 0.85rem; }
"""


def _escape(text: str) -> str:
    return html.escape(" ".join(text.split()))


def render_answer(answer: Answer | None, partial: str = "") -> str:
    """The answer as safe HTML: the checked text, or the model's provisional output."""
    if answer is None:
        return f'<div class="qa-answer qa-meta">{_escape(partial) or "Thinking..."}</div>'
    css = "qa-answer" if answer.answered else "qa-answer qa-declined"
    note = f'<p class="qa-meta">{_escape(answer.note)}</p>' if answer.note else ""
    return f'<div class="{css}">{_escape(answer.text)}</div>{note}'


def render_sources(answer: Answer | None, pipeline: Pipeline) -> str:
    """Each citation: article title and date, and the cited sentence highlighted in its paragraph."""
    if answer is None or not answer.citations:
        return ""
    blocks = []
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


def create_app(pipeline: Pipeline) -> gr.Blocks:
    """Build the UI around an open pipeline."""

    def ask(question: str):
        try:
            for event in pipeline.ask_stream(question):
                if isinstance(event, Answer):
                    yield render_answer(event), render_sources(event, pipeline)
                else:
                    yield render_answer(None, event), ""
        except QAError as exc:
            raise gr.Error(str(exc)) from None

    def articles():
        return [[a.date or "", a.title, a.chunks, a.id] for a in pipeline.articles()]

    with gr.Blocks(title="qa: news articles, cited", analytics_enabled=False) as app:
        gr.Markdown("### Ask the articles\nAnswers come only from the stored articles, each sentence cited.")
        with gr.Tab("Ask"):
            question = gr.Textbox(label="Question", placeholder="Which prison did the rebel forces take over?")
            button = gr.Button("Ask", variant="primary")
            answer = gr.HTML(elem_id="answer")
            sources = gr.HTML(elem_id="sources")
            button.click(ask, inputs=question, outputs=[answer, sources], api_name="ask")
            question.submit(ask, inputs=question, outputs=[answer, sources])
        with gr.Tab("Articles"):
            table = gr.Dataframe(headers=["date", "title", "chunks", "id"], value=articles, interactive=False)
            gr.Button("Refresh").click(articles, outputs=table)
    app.queue(default_concurrency_limit=1)  # one model, one piece of model work at a time
    return app


def main() -> int:
    try:
        settings = Settings.from_env()
        pipeline = Pipeline.from_settings(settings)
        if not pipeline.articles():
            report = pipeline.ingest([SEEDS])
            print(f"first start: ingested seeds/ ({report.summary()})", file=sys.stderr)
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return exc.exit_code
    create_app(pipeline).launch(server_name="127.0.0.1", server_port=settings.port, share=False, css=CSS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
