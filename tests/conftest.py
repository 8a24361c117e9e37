"""Shared fixtures: the real seed files, the real embedding model, a store in a temp dir."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_000 = SEEDS / "000_a82d1c47b728eca4.txt"
SEED_003 = SEEDS / "003_5854147c5e47e255.txt"
SHARED = ROOT.parent / "shared"
OFFLINE = Path(__file__).resolve().parent / "offline"

# Offline proof: no connection leaves loopback, in this process or in any Python process a
# test starts; attempts are logged and fail the run at the end (see pytest_sessionfinish).
sys.path.insert(0, str(OFFLINE))
import qa_offline_guard  # noqa: E402

qa_offline_guard.install()


def pytest_configure(config) -> None:
    log = Path(config.rootpath) / ".pytest-offline.log"
    log.unlink(missing_ok=True)
    os.environ[qa_offline_guard.LOG_VARIABLE] = str(log)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OFFLINE), os.environ.get("PYTHONPATH")]))


def pytest_sessionfinish(session, exitstatus) -> None:
    log = Path(os.environ[qa_offline_guard.LOG_VARIABLE])
    if log.exists() and log.read_text().strip():
        print(f"\noffline guard: non-loopback connections were attempted:\n{log.read_text()}", file=sys.stderr)
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's real data or cache folders."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("QA_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("QA_CACHE_DIR", str(home / "cache"))
    for name in ("QA_CHROMA_URL", "QA_COLLECTION", "QA_EMBED_MODEL", "QA_K"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def embedder():
    """The real default embedding model, loaded once per test session."""
    from qa.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def llm(tmp_path_factory):
    """The real default language model: the packaged GGUF, assembled and verified in a temp cache."""
    from qa.llm import LlamaCppLLM, resolve_model

    path = resolve_model(None, cache_dir=tmp_path_factory.mktemp("model-cache"))
    return LlamaCppLLM(path, n_ctx=2048, seed=0)


@pytest.fixture
def settings(tmp_path):
    from qa.settings import Settings

    return Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")


@pytest.fixture
def pipeline(settings, embedder):
    """A pipeline over an empty, real Chroma directory under tmp_path."""
    from qa.pipeline import Pipeline

    with Pipeline.from_settings(settings, embedder=embedder) as p:
        yield p


@pytest.fixture
def seeded(pipeline):
    """The pipeline with the two seed articles ingested."""
    report = pipeline.ingest([SEEDS])
    assert len(report.added) == 2 and not report.failed
    return pipeline


@pytest.fixture
def served(settings, embedder, llm):
    """The web app over the seeds, served on a free loopback port: ``(url, pipeline)``."""
    import app as web
    from qa.pipeline import Pipeline
    from tests.servers import free_port

    with Pipeline.from_settings(settings, embedder=embedder, llm=llm) as pipeline:
        pipeline.ingest([SEEDS])
        ui = web.create_app(pipeline)
        port = free_port()
        web.launch(ui, port=port, block=False)
        try:
            yield f"http://127.0.0.1:{port}/", pipeline
        finally:
            ui.close()
