"""The same code against a real `chroma run` server process on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from qa.errors import StoreError
from qa.pipeline import Pipeline
from tests.conftest import SEEDS
from tests.servers import free_port, serving

pytestmark = pytest.mark.slow


@pytest.fixture
def chroma_url(tmp_path):
    """`chroma run` on 127.0.0.1 with its own data folder, for the length of one test."""
    exe = Path(sys.executable).parent / "chroma"
    assert exe.exists(), f"chroma CLI not found beside {sys.executable}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(exe), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)]
    with serving(command, ready_url=f"{url}/api/v2/heartbeat", log_path=tmp_path / "chroma.log"):
        yield url


def test_ingest_and_search_through_a_chroma_server(chroma_url, settings, embedder) -> None:
    remote = settings.replace(chroma_url=chroma_url)
    with Pipeline.from_settings(remote, embedder=embedder) as pipeline:
        report = pipeline.ingest([SEEDS])
        assert len(report.added) == 2
        top = pipeline.search("Sednaya prison")[0]
        assert "Sednaya prison" in top.sentence_text
        assert pipeline.article(top.article.id).text[top.sentence.start : top.sentence.end] == top.sentence_text
        again = pipeline.ingest([SEEDS])
        assert len(again.unchanged) == 2 and again.chunks == 0
        stored = pipeline.store.count()
        assert stored == sum(a.chunks for a in pipeline.articles()) > 0

    # The vectors live in the server, not in a local Chroma folder.
    assert not (settings.data_dir / "chroma").exists()
    import chromadb

    host, port = chroma_url.rsplit(":", 1)
    client = chromadb.HttpClient(host=host.removeprefix("http://"), port=int(port))
    assert client.get_collection("articles").count() == stored


class _OtherEmbedder:
    name = "another-model"
    dim = 384

    def embed(self, texts):
        return np.ones((len(texts), self.dim), dtype=np.float32)


def test_a_server_collection_refuses_another_embedding_model(chroma_url, settings, embedder, tmp_path) -> None:
    with Pipeline.from_settings(settings.replace(chroma_url=chroma_url), embedder=embedder) as pipeline:
        pipeline.ingest([SEEDS])
    # A second machine with its own (empty) catalogue but the same server collection:
    elsewhere = settings.replace(chroma_url=chroma_url, data_dir=tmp_path / "elsewhere")
    with pytest.raises(StoreError, match="built with the embedding model 'all-MiniLM-L6-v2'"):
        Pipeline.from_settings(elsewhere, embedder=_OtherEmbedder())
