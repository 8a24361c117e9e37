"""The same code against a real `chroma run` server process on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from qa.errors import StoreError
from qa.pipeline import Pipeline
from qa.settings import Settings
from tests.conftest import SEEDS
from tests.servers import free_port, serving
from tests.test_reliability import synthetic_corpus

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


def test_two_machines_on_one_server_keep_their_own_articles_and_vectors(chroma_url, tmp_path, embedder) -> None:
    """Two data directories (two machines) on one Chroma server: each writes, reads, recovers and
    removes only its own vectors, even for an article both hold; each answers from its own."""
    files = sorted(synthetic_corpus(tmp_path / "corpus", 6).iterdir())
    one = Settings(data_dir=tmp_path / "one", cache_dir=tmp_path / "cache", chroma_url=chroma_url)
    two = one.replace(data_dir=tmp_path / "two")
    with Pipeline.from_settings(one, embedder=embedder) as a, Pipeline.from_settings(two, embedder=embedder) as b:
        a.ingest([SEEDS, files[4], files[5]])
        b.ingest([*files[:4], files[5]])  # files[4] and files[5]: the same articles on both machines
        b.ingest([files[4]])
        shared = next(x for x in b.articles() if x.source.endswith(files[4].name))
        assert shared.id in {x.id for x in a.articles()}
        # a crash on machine two while it rewrites the shared article leaves it pending there
        b.store.catalog.begin([b.article(shared.id)])
        assert b.store.recover() == [shared.id]
        b.remove(next(x.id for x in b.articles() if x.source.endswith(files[5].name)))
        for machine in (a, b):
            assert machine.store.problems() == []
            own = {x.id for x in machine.articles()}
            for query in ("Sednaya prison", "Report 4 from Daraa", "residents gathered near the market"):
                vector = machine.embedder.embed([query])[0]
                assert {c.rsplit("-", 1)[0] for c, _ in machine.store.dense_search(vector, limit=200)} <= own
                assert {h.article.id for h in machine.search(query, k=20)} <= own
        assert {x.source.rsplit("/", 1)[-1] for x in a.articles()} >= {files[4].name, files[5].name}
        assert len(a.articles()) == 4 and len(b.articles()) == 4
        assert a.store.count() + b.store.count() == sum(x.chunks for m in (a, b) for x in m.articles())
