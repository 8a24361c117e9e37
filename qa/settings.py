"""One settings object for the whole library; the only module that reads the environment.

Every field can be set by a ``QA_<NAME>`` environment variable (``QA_DATA_DIR``,
``QA_CHROMA_URL``, ...); the CLI's flags override those, and library calls take a
:class:`Settings` so tests can shrink any of it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import InputError


def _default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("qa", appauthor=False))


def _default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("qa", appauthor=False))


def _setting(
    default: Any = None, *, help: str, factory: Any = None, least: float | None = None, choices: tuple = ()
) -> Any:
    """A settings field: its help, and the least value (``least``) or the values (``choices``) it may take."""
    metadata = {"help": help, "least": least, "choices": choices}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Everything that can be configured, with its default."""

    data_dir: Path = _setting(
        factory=_default_data_dir,
        help="where the store lives: Chroma's files, the keyword index, summaries",
    )
    cache_dir: Path = _setting(
        factory=_default_cache_dir,
        help="where the packaged language model is assembled and verified",
    )
    chroma_url: str | None = _setting(
        None,
        help="a Chroma server, e.g. http://127.0.0.1:8000; unset means embedded Chroma in data_dir",
    )
    collection: str = _setting("articles", help="name of the Chroma collection")
    embed_model: str = _setting(
        "all-MiniLM-L6-v2",
        help="sentence-transformers model: the packaged all-MiniLM-L6-v2 by default, or a local folder",
    )
    embed_batch: int = _setting(64, help="texts per embedding batch", least=1)
    chunk_words: int = _setting(80, help="most words in one chunk (sentences are never split)", least=1)
    max_file_mb: float = _setting(
        20.0, help="largest article file accepted, in MB; also the largest page or feed fetched", least=0.001
    )
    fetch_timeout: float = _setting(
        20.0, help="seconds a fetched page, feed or robots.txt has to arrive in full (qa ingest URL)", least=0.1
    )
    fetch_delay: float = _setting(
        1.0, help="seconds between two requests to one host (more if its robots.txt asks)", least=0
    )
    k: int = _setting(5, help="passages returned by a search", least=1)
    candidates: int = _setting(40, help="candidates each retriever contributes before fusion", least=1)
    candidates_per_article: int = _setting(
        16,
        help="most dense candidates one article may take, so no article crowds out the others (0: no limit)",
        least=0,
    )
    rrf_k: int = _setting(60, help="reciprocal rank fusion constant: score = sum 1/(rrf_k + rank)", least=0)
    model: str | None = _setting(
        None, help="a GGUF file to answer with; unset: models/*.gguf, then the packaged Gemma 3 270M"
    )
    llm_url: str | None = _setting(
        None, help="an OpenAI-compatible model server (e.g. http://127.0.0.1:8080) instead of the in-process model"
    )
    llm_model: str | None = _setting(None, help="model name to send to the model server")
    llm_api_key: str | None = _setting(None, help="bearer token for the model server")
    n_ctx: int = _setting(2048, help="context window in tokens; every prompt is fitted into it", least=256)
    n_threads: int = _setting(0, help="CPU threads for llama.cpp (0: its default)", least=0)
    seed: int = _setting(0, help="sampling seed; answers are greedy (temperature 0) in any case")
    answer_mode: str = _setting(
        "auto",
        help="extractive (copy a checked source sentence), generative (model writes, checker filters), "
        "or auto: generative when the model has a chat template, else extractive",
        choices=("auto", "extractive", "generative"),
    )
    answer_chunks: int = _setting(20, help="retrieved chunks whose sentences compete to answer", least=1)
    answer_threshold: float | None = _setting(
        None,
        help="least score (0-1) the best sentence needs to be given as the answer; below it the answer is "
        "'the articles don't say'. Unset: the fitted default in qa/ranker.json (see README, Evaluation)",
    )
    max_answer_tokens: int = _setting(120, help="most tokens the model may generate for one answer", least=1)
    lock_timeout: float = _setting(30.0, help="seconds a writer waits for another process's write to finish", least=0)
    port: int = _setting(7860, help="port of the web UI (app.py), always bound to 127.0.0.1", least=1)
    debug: bool = _setting(False, help="show full tracebacks for unexpected errors")

    def __post_init__(self) -> None:
        for name in ("data_dir", "cache_dir"):
            object.__setattr__(self, name, Path(getattr(self, name)).expanduser())
        if self.answer_threshold is not None and not 0.0 <= self.answer_threshold <= 1.0:
            raise InputError(f"QA_ANSWER_THRESHOLD={self.answer_threshold} is not between 0 and 1")
        for f in dataclasses.fields(self):
            value, least, choices = getattr(self, f.name), f.metadata["least"], f.metadata["choices"]
            if least is not None and not value >= least:  # "not >=" also refuses NaN
                raise InputError(f"QA_{f.name.upper()}={value} is too small: it must be at least {least}")
            if choices and value not in choices:
                raise InputError(f"QA_{f.name.upper()}={value!r} is not one of {', '.join(choices)}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``QA_*`` variables, then apply non-None ``overrides``.

        Example: ``Settings.from_env({"QA_K": "3"}).k == 3``
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f"QA_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _convert(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1_000_000)

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """``(environment variable, default, help)`` for every field, for docs and ``--help``."""
        rows = []
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else "(per user)"
            rows.append((f"QA_{f.name.upper()}", str(default), f.metadata["help"]))
        return rows


def _convert(f: dataclasses.Field, raw: str) -> Any:
    kind = str(f.type)
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("bool"):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
    except ValueError:
        raise InputError(f"QA_{f.name.upper()}={raw!r} is not a valid {kind.split()[0]}") from None
    return raw
