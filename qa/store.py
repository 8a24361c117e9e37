"""The store: a Chroma collection for vectors and the SQLite catalogue beside it.

Embedded Chroma (``PersistentClient`` in the data directory) is the default; with a server
URL configured the same code talks to a Chroma server through ``HttpClient``. Either way the
catalogue and the keyword index stay in the local data directory. A server's collection may be
shared by several catalogues (machines): each tags the vectors it writes with its own id and
reads, recovers and removes only those.

Several processes may open one data directory (the UI, and ``qa ingest`` beside it). Embedded
Chroma keeps its vector index in memory and writes it back whole, so a process whose view is
older than the files would overwrite another process's vectors. Hence: every write holds the
data directory's lock, every write to Chroma counts one more *generation* in the catalogue,
and a process whose last view is older than the current generation reopens its Chroma client
before it reads or writes (docs/reliability.md, promise 2).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from qa.catalog import SCHEMA_VERSION, Catalog
from qa.errors import InputError, StoreError
from qa.stopping import shielded
from qa.types import Article, ArticleInfo, Chunk

CATALOG_FILE = "catalog.sqlite3"
CHROMA_DIR = "chroma"
LOCK_FILE = "write.lock"
# Chunks that problems() looks up by their own vector; a bigger store is checked on a sample.
SELF_QUERY_SAMPLE = 2000


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
        lock_timeout: seconds a writer waits for another process's write to finish.
        reconnect: makes a new client on the same files; given for embedded Chroma, whose
            view must be reopened after another process wrote (``None`` for a server).
        shared: the collection may hold other catalogues' vectors (a server): this store's
            vector ids are ``<chunk id>@<store id>`` with an ``owner`` metadata field, and it
            sees only those.
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
        reconnect: Callable[[], object] | None = None,
        shared: bool = False,
    ):
        self.data_dir = data_dir
        self.lock_timeout = lock_timeout
        self.catalog = Catalog(data_dir / CATALOG_FILE)
        self.client = client
        self.embed_model = embed_model
        self.collection_name = collection
        self._reconnect = reconnect
        # Chroma calls and reopening the client are serialised within a process, so that no
        # thread uses a client another thread is replacing.
        self._chroma = threading.RLock()
        self._check_catalog_model(embed_model, embed_dim)
        self.owner = self.catalog.store_id() if shared else None
        self._seen = self.catalog.generation()  # read before opening: a later write means reopen
        self._open_collection()

    def _open_collection(self) -> None:
        name, model = self.collection_name, self.embed_model
        try:
            self.collection = self.client.get_or_create_collection(
                name=name, metadata={"hnsw:space": "cosine", "embed_model": model}, embedding_function=None
            )
        except Exception as exc:
            raise StoreError(f"cannot open the Chroma collection {name!r}: {_reason(exc)}") from None
        recorded = (self.collection.metadata or {}).get("embed_model")
        if recorded and recorded != model:
            raise StoreError(
                f"the Chroma collection {name!r} was built with the embedding model {recorded!r},"
                f" not {model!r}; use that model, or another collection (QA_COLLECTION)"
            )

    def _current(self):
        """The collection, after reopening the client if another process wrote since we looked.

        Callers hold ``self._chroma``.
        """
        generation = self.catalog.generation()
        if generation != self._seen and self._reconnect is not None:
            self._reopen()
        self._seen = generation
        return self.collection

    def _reopen(self) -> None:
        """A new client on the files, and the collection through it (callers hold ``self._chroma``)."""
        with contextlib.suppress(Exception):
            self.client.close()
        self.client = self._reconnect()
        self._open_collection()

    def _mine(self, where: dict | None = None) -> dict | None:
        """``where``, narrowed to this store's own vectors when the collection is shared."""
        if self.owner is None:
            return where
        own = {"owner": self.owner}
        return own if where is None else {"$and": [where, own]}

    def _vector_ids(self, chunk_ids: Sequence[str]) -> list[str]:
        return [f"{c}@{self.owner}" for c in chunk_ids] if self.owner else list(chunk_ids)

    @staticmethod
    def _chunk_ids(vector_ids: Sequence[str]) -> list[str]:
        return [v.split("@", 1)[0] for v in vector_ids]

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
        with self._chroma, contextlib.suppress(Exception):
            self.client.close()  # releases embedded Chroma's in-memory index for a later reopen

    # --- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the data directory's writer lock: one writing process at a time.

        A second writer (``qa ingest`` while the UI adds files, say) waits up to
        ``lock_timeout`` seconds, then stops with a clear message; nothing is half-written.
        The lock is an OS file lock, so it is released when its holder exits or is killed.
        Holding it, the store first reopens its Chroma view if another process wrote since it
        last looked; each write to Chroma counts one more generation as soon as it is made.
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
                with self._chroma:
                    self._current()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def problems(self, *, sample: int = SELF_QUERY_SAMPLE) -> list[str]:
        """Ways the catalogue and Chroma disagree; empty for a consistent store.

        Beyond counting, every chunk (or ``sample`` of them, chosen at random, in a bigger
        store) must be found by a dense query for its own stored vector: a vector that Chroma
        keeps but its index no longer finds is lost to search all the same.
        """
        found = []
        unfinished = self.catalog.unfinished()
        if unfinished:
            found.append(f"{len(unfinished)} articles half-written or half-deleted")
        expected = self.catalog.ready_chunk_ids()
        with self._chroma:
            stored = set(self._chunk_ids(self._current().get(where=self._mine(), include=[])["ids"]))
        if stored - expected:
            found.append(f"{len(stored - expected)} vectors without a ready article")
        if expected - stored:
            found.append(f"{len(expected - stored)} chunks without a vector")
        checked = sorted(stored & expected)
        if len(checked) > sample:
            checked = sorted(random.Random(0).sample(checked, sample))
        lost = self.unfindable(checked)
        if lost:
            found.append(f"{len(lost)} of {len(checked)} chunks checked: not found by a dense query for their vector")
        return found

    def unfindable(self, chunk_ids: Sequence[str], *, depth: int = 10, batch: int = 200) -> list[str]:
        """Those of ``chunk_ids`` that a dense query for their own stored vector does not return.

        A chunk missing from the ``depth`` nearest is looked for again among its own article's
        chunks only: chunks of the same text (a line many articles repeat) share one vector,
        and more of them than ``depth`` can tie in front of it.
        """
        lost: list[str] = []
        with self._chroma:
            collection = self._current()
            depth = min(depth, collection.count())
            for i in range(0, len(chunk_ids), batch):
                ids = self._vector_ids(chunk_ids[i : i + batch])
                part = collection.get(ids=ids, include=["embeddings", "metadatas"])
                if not len(part["ids"]):
                    continue
                near = collection.query(
                    query_embeddings=part["embeddings"], n_results=depth, where=self._mine(), include=[]
                )["ids"]
                for vector_id, vector, meta, found in zip(
                    part["ids"], part["embeddings"], part["metadatas"], near, strict=True
                ):
                    if vector_id in found:
                        continue
                    own = self._mine({"article_id": meta["article_id"]})
                    again = collection.query(query_embeddings=[vector], n_results=depth, where=own, include=[])
                    if vector_id not in again["ids"][0]:
                        lost.extend(self._chunk_ids([vector_id]))
        return lost

    def recover(self) -> list[str]:
        """Finish what a crash interrupted: drop half-written and half-deleted articles.

        Returns the ids that were cleaned up. A half-written article is simply removed; the
        next ingest of its file adds it again.
        """
        unfinished = self.catalog.unfinished()
        if unfinished:
            with shielded():
                self._delete(unfinished)
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
        and have been deleted. A stop by signal waits for the end of it (:func:`qa.stopping.shielded`).
        """
        with shielded():
            if articles:
                self.catalog.begin(articles)
                self._add_vectors(articles, chunks, vectors)
            orphans = self.catalog.commit(articles, chunks, links=links, files=files, sentence_vectors=sentence_vectors)
            if orphans:
                self._delete(orphans)
        return orphans

    def _add_vectors(self, articles: Sequence[Article], chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        dates = {a.id: a.date for a in articles}
        with self._chroma:
            step = max(1, min(4000, self.client.get_max_batch_size()))
        try:
            for i in range(0, len(chunks), step):
                part = chunks[i : i + step]
                metadatas = []
                for c in part:
                    meta = {"article_id": c.article_id, "index": c.index, "start": c.start, "end": c.end}
                    if self.owner:
                        meta["owner"] = self.owner
                    if dates[c.article_id]:
                        meta["date"] = _date_number(dates[c.article_id])
                    metadatas.append(meta)
                with self._chroma:
                    self._current().upsert(
                        ids=self._vector_ids([c.id for c in part]),
                        embeddings=vectors[i : i + step],
                        documents=[c.text for c in part],
                        metadatas=metadatas,
                    )
                    self._seen = self.catalog.next_generation()  # readers elsewhere reopen now, not at the end
        except Exception as exc:
            raise StoreError(f"cannot write vectors to Chroma: {_reason(exc)}") from None

    def _delete(self, article_ids: Sequence[str]) -> None:
        """Delete articles: their vectors in Chroma, then their rows in the catalogue."""
        self._delete_vectors(article_ids)
        self.catalog.purge(article_ids)

    def _delete_vectors(self, article_ids: Sequence[str]) -> None:
        try:
            with self._chroma:
                for article_id in article_ids:
                    self._current().delete(where=self._mine({"article_id": article_id}))
                self._seen = self.catalog.next_generation()
        except Exception as exc:
            raise StoreError(f"cannot delete vectors from Chroma: {_reason(exc)}") from None

    def unlink(self, keys: Iterable[str]) -> list[ArticleInfo]:
        """Forget some sources, and delete the articles that no source points to any more."""
        keys = list(keys)
        infos = self.catalog.info(a for key in keys if (a := self.catalog.source_article(key)))
        with shielded():
            orphans = self.catalog.unlink(keys)
            if orphans:
                self._delete(orphans)
        return [infos[i] for i in orphans if i in infos]

    def remove(self, article_id: str) -> ArticleInfo:
        """Delete one article (id or unique id prefix) with its chunks and vectors."""
        info = self.resolve(article_id)
        with shielded():
            self.catalog.mark_deleting(info.id)
            self._delete([info.id])
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
        with self.catalog.snapshot():
            info = self.resolve(article_id)
            article = self.catalog.article(info.id)
        assert article is not None
        return article

    def count(self) -> int:
        with self._chroma:
            if self.owner:
                return len(self._current().get(where=self._mine(), include=[])["ids"])
            return self._current().count()

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
        where = self._mine(clauses[0] if len(clauses) == 1 else ({"$and": clauses} if clauses else None))
        for attempt in range(2):
            try:
                with self._chroma:
                    if attempt:
                        self._reopen()  # another process may be writing right now
                    result = self._current().query(
                        query_embeddings=[vector], n_results=limit, where=where, include=["distances"]
                    )
                break
            except Exception as exc:
                if attempt or self._reconnect is None:
                    raise StoreError(f"Chroma query failed: {_reason(exc)}") from None
        return list(zip(self._chunk_ids(result["ids"][0]), result["distances"][0], strict=True))
