"""The same code against a real `chroma run` server process on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from qa.errors import StoreError
from qa.pipeline import Pipeline
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_url(tmp_path):
    """Start `chroma run` on 127.0.0.1 with its own data folder; stop it afterwards."""
    exe = Path(sys.executable).parent / "chroma"
    assert exe.exists(), f"chroma CLI not found beside {sys.executable}"
    port = free_port()
    log = (tmp_path / "chroma.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("chroma run did not start: " + (tmp_path / "chroma.log").read_text(errors="replace"))
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


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
