"""The web UI through a real client: the app served on loopback, asked over Gradio's API."""

from __future__ import annotations

import pytest

from qa.pipeline import Pipeline
from tests.conftest import SEEDS
from tests.servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def served(settings, embedder, llm):
    import app as web

    with Pipeline.from_settings(settings, embedder=embedder, llm=llm) as pipeline:
        pipeline.ingest([SEEDS])
        ui = web.create_app(pipeline)
        port = free_port()
        ui.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, share=False, quiet=True)
        try:
            yield f"http://127.0.0.1:{port}/"
        finally:
            ui.close()


def test_gradio_client_gets_a_cited_answer(served) -> None:
    from gradio_client import Client

    client = Client(served, verbose=False)
    answer_html, sources_html = client.predict("Which prison did the rebel forces take over?", api_name="/ask")
    assert "Sednaya prison" in answer_html and "[1]" in answer_html
    assert "<mark>Early on Sunday, the rebel forces took over the Sednaya prison" in sources_html
    declined, sources = client.predict("What did Vladimir Putin say about Assad?", api_name="/ask")
    assert "The articles don" in declined and sources == ""


def test_article_text_is_escaped() -> None:
    import app as web
    from qa.types import Answer

    answer = Answer("q", "<script>alert(1)</script> ![x](http://evil.test/x.png) [1]", True, "extractive", (), (), {})
    rendered = web.render_answer(answer)
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
