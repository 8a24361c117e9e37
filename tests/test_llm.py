"""Model resolution and integrity, and the HTTP backend against a real llama-cpp-python server."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from qa.errors import ModelError
from qa.llm import OpenAIServerLLM, check_gguf_header, packaged_model, resolve_model, verify
from qa.pipeline import Pipeline
from tests.conftest import SEEDS
from tests.servers import free_port, serving

pytestmark = pytest.mark.slow


def test_an_explicit_path_must_exist_and_be_gguf(tmp_path) -> None:
    with pytest.raises(ModelError, match="no model file at"):
        resolve_model(str(tmp_path / "missing.gguf"), cache_dir=tmp_path)
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match=f"{fake} is not a GGUF model file"):
        resolve_model(str(fake), cache_dir=tmp_path)


def test_a_gguf_in_models_dir_wins_over_the_packaged_one(tmp_path, monkeypatch) -> None:
    (tmp_path / "models").mkdir()
    mine = tmp_path / "models" / "mine.gguf"
    mine.write_bytes(b"GGUF" + b"\0" * 16)
    monkeypatch.chdir(tmp_path)
    assert resolve_model(None, cache_dir=tmp_path / "cache") == mine


def test_verify_names_the_damaged_file(tmp_path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + b"x" * 100)
    with pytest.raises(ModelError, match=f"the model file {model} is damaged or altered"):
        verify(model, "0" * 64)


def test_the_packaged_model_is_verified_and_a_truncated_one_refused(tmp_path, llm) -> None:
    cache = tmp_path / "cache"
    path = packaged_model(cache)
    assert path.stat().st_size == llm.path.stat().st_size
    check_gguf_header(path)
    assert (path.parent / (path.name + ".verified")).is_file()
    with path.open("r+b") as f:  # a crash or a bad copy: the file is cut short
        f.truncate(path.stat().st_size // 2)
    with pytest.raises(ModelError, match="damaged or altered"):
        packaged_model(cache)


def test_a_damaged_model_is_a_one_line_cli_error(tmp_path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64)
    data = tmp_path / "data"
    env_run = [sys.executable, "-m", "qa"]
    subprocess.run(
        [*env_run, "ingest", str(SEEDS), "--quiet", "--data-dir", str(data)], check=True, capture_output=True
    )
    result = subprocess.run(
        [*env_run, "ask", "Which prison was taken?", "--model", str(bad), "--data-dir", str(data)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot load the model {bad}" in lines[0]


@pytest.fixture(scope="module")
def model_server(llm, tmp_path_factory):
    """llama-cpp-python's own OpenAI-compatible server on 127.0.0.1, serving the default model."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(llm.path), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "2048", "--seed", "0"]  # fmt: skip
    log = tmp_path_factory.mktemp("server") / "server.log"
    with serving(command, ready_url=f"{url}/v1/models", log_path=log):
        yield url


def test_the_http_backend_streams_and_honours_grammars(model_server, llm) -> None:
    remote = OpenAIServerLLM(model_server)
    prompt = "Question: What is the capital of France?\nAnswer:"
    parts = list(remote.complete(prompt, max_tokens=8, stop=["\n"]))
    assert len(parts) >= 2  # streamed, not one blob
    assert "".join(parts) == "".join(llm.complete(prompt, max_tokens=8, stop=["\n"]))
    constrained = "".join(remote.complete(prompt, max_tokens=8, grammar='root ::= " Lyon" | " Nice"'))
    assert constrained in (" Lyon", " Nice")
    # The server counts with its own tokenizer endpoint (which may add the BOS token).
    assert remote.count_tokens("Hello world") in (llm.count_tokens("Hello world"), llm.count_tokens("Hello world") + 1)
    assert remote._tokenize_ok is True


def test_answers_through_the_server_match_the_in_process_ones(model_server, llm, embedder, tmp_path) -> None:
    from qa.settings import Settings

    question = "Which radio station reported that the airport had been evacuated?"
    local_settings = Settings(data_dir=tmp_path / "local", cache_dir=tmp_path / "cache")
    with Pipeline.from_settings(local_settings, embedder=embedder, llm=llm) as local:
        local.ingest([SEEDS])
        expected = local.ask(question)
    shutil.copytree(tmp_path / "local", tmp_path / "remote")
    remote_settings = local_settings.replace(data_dir=tmp_path / "remote", llm_url=model_server)
    with Pipeline.from_settings(remote_settings, embedder=embedder) as remote:
        got = remote.ask(question)
    assert got.answered and "Sham FM" in got.text
    assert (got.text, got.short_answer, got.citations) == (expected.text, expected.short_answer, expected.citations)


def test_an_unreachable_server_is_a_model_error() -> None:
    remote = OpenAIServerLLM(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(ModelError, match="cannot reach the model server"):
        list(remote.complete("Hi", max_tokens=2))


def test_the_status_names_the_model_file_without_loading_it(tmp_path, monkeypatch) -> None:
    import qa.llm

    monkeypatch.setattr(qa.llm, "project_models_dirs", lambda: [tmp_path])
    assert qa.llm.model_name(str(tmp_path / "chosen.gguf")) == "chosen.gguf"  # named even before it exists
    assert qa.llm.model_name(None) == "gemma-3-270m-q4_k_m.gguf (packaged)"
    (tmp_path / "mine.gguf").write_bytes(b"GGUF")
    assert qa.llm.model_name(None) == "mine.gguf"  # a model dropped into models/ comes first
