"""The packaged embedding model: the official weights, loaded offline, sensible vectors."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from qa.embed import DEFAULT_EMBED_SHA256, default_model_dir, resolve_model_dir
from qa.errors import ModelError

pytestmark = pytest.mark.slow


def test_the_installed_weights_are_the_official_ones() -> None:
    weights = default_model_dir() / "model.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == DEFAULT_EMBED_SHA256


def test_vectors_are_unit_length_and_meaningful(embedder) -> None:
    vectors = embedder.embed(
        ["Assad fled Syria as rebels took Damascus.", "The Syrian president left the country.", "Rain in Spain."]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert embedder.embed([]).shape == (0, 384)


def test_an_unknown_model_name_is_never_downloaded() -> None:
    with pytest.raises(ModelError, match="never downloaded"):
        resolve_model_dir("sentence-transformers/all-mpnet-base-v2")


def test_sentence_vectors_are_read_when_stored_and_embedded_when_not() -> None:
    """A store written before sentence vectors were kept still gets them, embedded as ingest would."""
    import numpy as np

    from qa.embed import sentence_vectors
    from qa.types import Chunk, Span

    text = "Rain fell.  Sun shone. Wind rose."
    old = Chunk("a-0000", "a", 0, 0, 22, text[:22], (Span(0, 10), Span(12, 22)))
    new = Chunk("a-0001", "a", 1, 23, 33, text[23:], (Span(23, 33),))

    class Catalog:
        def sentence_vectors(self, ids):
            return {"a-0001": np.array([[0.0, 1.0]])} if "a-0001" in ids else {}

    class Embedder:
        seen: list[str] = []

        def embed(self, texts):
            self.seen += texts
            return np.array([[1.0, 0.0]] * len(texts))

    embedder = Embedder()
    found = sentence_vectors(embedder, Catalog(), [old, new], {"a": text})
    assert embedder.seen == ["Rain fell.", "Sun shone."]
    assert found["a-0000"].tolist() == [[1.0, 0.0], [1.0, 0.0]] and found["a-0001"].tolist() == [[0.0, 1.0]]
