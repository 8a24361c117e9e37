"""The store: a Chroma collection for vectors and the SQLite catalogue beside it.

Embedded Chroma (``PersistentClient`` in the data directory) is the default; with a server
URL configured the same code talks to a Chroma server through ``HttpClient``. Either way the
catalogue and the keyword index stay in the local data directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from qa.catalog import SCHEMA_VERSION, Catalog
from qa.errors import InputError, StoreError
from qa.types import Article, ArticleInfo, Chunk

CATALOG_FILE = "catalog.sqlite3"
CHROMA_DIR = "chroma"
LOCK_FILE = "write.lock"


def connect_chroma(data_dir: Path, url: str | None):
    """Open a Chroma client: a server at ``url``, or embedded files under ``data_dir``.

    Telemetry is always off.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if url:
            parsed = urlparse(url if "://" in url else f"http://{url}")
            if not parsed.hostname:
                raise InputError(f"Chroma URL {url!r} has no host; use e.g. http://127.0.0.1:8000")
            return chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=settings,
            )
        path = data_dir / CHROMA_DIR
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except InputError:
        raise
    except Exception as exc:
        where = url or str(data_dir / CHROMA_DIR)
        raise StoreError(f"cannot open Chroma at {where}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _date_number(date: str) -> int:
    return int(date.replace("-", ""))


class Store:
    """Vectors in Chroma, text and keywords in the catalogue, kept in step.

    Args:
        client: a Chroma client from :func:`connect_chroma`.
        data_dir: where the catalogue lives.
        collection: the Chroma collection's name.
        embed_model: the embedding model's name, recorded with the collection.
        embed_dim: its dimension, or ``None`` when not yet known (the model is loaded lazily).
    """

    def __init__(
        self,
        client,
        data_dir: Path,
        *,
        collection: str,
        embed_model: str,
        embed_dim: int | None,
        lock_timeout: float = 30.0,
    ):
        self.data_dir = data_dir
        self.lock_timeout = lock_timeout
        self.catalog = Catalog(data_dir / CATALOG_FILE)
        self.client = client
        self.embed_model = embed_model
        self.collection_name = collection
        self._check_catalog_model(embed_model, embed_dim)
        try:
            self.collection = client.get_or_create_collection(
                name=collection,
                metadata={"hnsw:space": "cosine", "embed_model": embed_model},
                embedding_function=None,
            )
        except Exception as exc:
            raise StoreError(f"cannot open the Chroma collection {collection!r}: {_reason(exc)}") from None
        recorded = (self.collection.metadata or {}).get("embed_model")
        if recorded and recorded != embed_model:
            raise StoreError(
                f"the Chroma collection {collection!r} was built with the embedding model {recorded!r},"
                f" not {embed_model!r}; use that model, or another collection (QA_COLLECTION)"
            )

    def _check_catalog_model(self, model: str, dim: int | None) -> None:
        """Refuse to mix embedding models in one store, before anything is written."""
        recorded_model = self.catalog.get_meta("embed_model")
        recorded_dim = self.catalog.get_meta("embed_dim")
        if recorded_model is not None and recorded_model != model:
            raise StoreError(
                f"this store was built with the embedding model {recorded_model!r}"
                f" ({recorded_dim}-d), not {model!r}; use that model or another data directory (QA_DATA_DIR)"
            )
        if dim is not None and recorded_dim is not None and int(recorded_dim) != dim:
            raise StoreError(
                f"this store holds {recorded_dim}-d vectors but {model!r} makes {dim}-d ones;"
                " use another data directory (QA_DATA_DIR)"
            )

    def record_model(self, dim: int) -> None:
        """Write the embedding model's name and dimension into the catalogue (first write)."""
        self._check_catalog_model(self.embed_model, dim)
        if self.catalog.get_meta("embed_dim") is None:
            self.catalog.set_meta({"embed_model": self.embed_model, "embed_dim": str(dim), "schema": SCHEMA_VERSION})

    def close(self) -> None:
        self.catalog.close()

    # --- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the data directory's writer lock: one writing process at a time.

        A second writer (``qa ingest`` while the UI adds files, say) waits up to
        ``lock_timeout`` seconds, then stops with a clear message; nothing is half-written.
        The lock is an OS file lock, so it is released when its holder exits or is killed.
        """
        path = self.data_dir / LOCK_FILE
        with path.open("a") as handle:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreError(
                            f"another qa process is writing to {self.data_dir}; try again when it has finished"
                        ) from None
                    time.sleep(0.1)
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def problems(self) -> list[str]:
        """Ways the catalogue and Chroma disagree; empty for a consistent store."""
        found = []
        unfinished = self.catalog.unfinished()
        if unfinished:
            found.append(f"{len(unfinished)} articles half-written or half-deleted")
        expected = self.catalog.ready_chunk_ids()
        stored = set(self.collection.get(include=[])["ids"])
        if stored - expected:
            found.append(f"{len(stored - expected)} vectors without a ready article")
        if expected - stored:
            found.append(f"{len(expected - stored)} chunks without a vector")
        return found

    def recover(self) -> list[str]:
        """Finish what a crash interrupted: drop half-written and half-deleted articles.

        Returns the ids that were cleaned up. A half-written article is simply removed; the
        next ingest of its file adds it again.
        """
        unfinished = self.catalog.unfinished()
        if unfinished:
            self._delete_vectors(unfinished)
            self.catalog.purge(unfinished)
        return unfinished

    def write(
        self,
        articles: Sequence[Article],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        *,
        links: dict[str, str],
        files: dict[str, str] | None = None,
        sentence_vectors: Sequence[np.ndarray] | None = None,
    ) -> list[str]:
        """Add articles with their chunk vectors (to Chroma) and each chunk's sentence vectors
        (to the catalogue), and point sources at articles.

        Returns the ids of older articles that were replaced (no source points to them now)
        and have been deleted.
        """
        if articles:
            self.catalog.begin(articles)
            self._add_vectors(articles, chunks, vectors)
        orphans = self.catalog.commit(articles, chunks, links=links, files=files, sentence_vectors=sentence_vectors)
        if orphans:
            self._delete_vectors(orphans)
            self.catalog.purge(orphans)
        return orphans

    def _add_vectors(self, articles: Sequence[Article], chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        dates = {a.id: a.date for a in articles}
        step = max(1, min(4000, self.client.get_max_batch_size()))
        try:
            for i in range(0, len(chunks), step):
                part = chunks[i : i + step]
                metadatas = []
                for c in part:
                    meta = {"article_id": c.article_id, "index": c.index, "start": c.start, "end": c.end}
                    if dates[c.article_id]:
                        meta["date"] = _date_number(dates[c.article_id])
                    metadatas.append(meta)
                self.collection.upsert(
                    ids=[c.id for c in part],
                    embeddings=vectors[i : i + step],
                    documents=[c.text for c in part],
                    metadatas=metadatas,
                )
        except Exception as exc:
            raise StoreError(f"cannot write vectors to Chroma: {_reason(exc)}") from None

    def _delete_vectors(self, article_ids: Sequence[str]) -> None:
        try:
            for article_id in article_ids:
                self.collection.delete(where={"article_id": article_id})
        except Exception as exc:
            raise StoreError(f"cannot delete vectors from Chroma: {_reason(exc)}") from None

    def unlink(self, keys: Iterable[str]) -> list[ArticleInfo]:
        """Forget some sources, and delete the articles that no source points to any more."""
        keys = list(keys)
        infos = self.catalog.info(a for key in keys if (a := self.catalog.source_article(key)))
        orphans = self.catalog.unlink(keys)
        if orphans:
            self._delete_vectors(orphans)
            self.catalog.purge(orphans)
        return [infos[i] for i in orphans if i in infos]

    def remove(self, article_id: str) -> ArticleInfo:
        """Delete one article (id or unique id prefix) with its chunks and vectors."""
        info = self.resolve(article_id)
        self.catalog.mark_deleting(info.id)
        self._delete_vectors([info.id])
        self.catalog.purge([info.id])
        return info

    # --- reading -------------------------------------------------------------------------

    def resolve(self, article_id: str) -> ArticleInfo:
        """Find an article by id or unique prefix, or raise :class:`InputError`."""
        article_id = article_id.strip()
        if not re.fullmatch(r"[0-9a-f]{4,16}", article_id):
            raise InputError(
                f"{article_id!r} is not an article id: ids are 4 to 16 lower-case hex characters; see 'qa list'"
            )
        matches = self.catalog.resolve_id(article_id)
        if len(matches) > 1:
            raise InputError(f"article id {article_id!r} is ambiguous; give more of it")
        if not matches:
            raise InputError(f"no article with id {article_id!r}; see 'qa list'")
        return self.catalog.info(matches)[matches[0]]

    def articles(self) -> list[ArticleInfo]:
        return self.catalog.articles()

    def article(self, article_id: str) -> Article:
        info = self.resolve(article_id)
        article = self.catalog.article(info.id)
        assert article is not None
        return article

    def count(self) -> int:
        return self.collection.count()

    def dense_search(
        self,
        vector: np.ndarray,
        *,
        limit: int,
        article_ids: Sequence[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        exclude_articles: Sequence[str] = (),
    ) -> list[tuple[str, float]]:
        """``(chunk id, cosine distance)`` of the chunks nearest to ``vector``, best first."""
        clauses: list[dict] = []
        if article_ids is not None:
            clauses.append({"article_id": {"$in": list(article_ids)}})
        if exclude_articles:
            clauses.append({"article_id": {"$nin": list(exclude_articles)}})
        if date_from:
            clauses.append({"date": {"$gte": _date_number(date_from)}})
        if date_to:
            clauses.append({"date": {"$lte": _date_number(date_to)}})
        where = clauses[0] if len(clauses) == 1 else ({"$and": clauses} if clauses else None)
        try:
            result = self.collection.query(
                query_embeddings=[vector], n_results=limit, where=where, include=["distances"]
            )
        except Exception as exc:
            raise StoreError(f"Chroma query failed: {_reason(exc)}") from None
        return list(zip(result["ids"][0], result["distances"][0], strict=True))
