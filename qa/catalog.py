"""The local catalogue: articles, their sources, their chunks, and the BM25 keyword index.

It lives in one SQLite file beside Chroma's data. Chroma holds the vectors; this file holds
the text and the spans, and an FTS5 index over the chunks, because Chroma has no keyword
search in its local mode.

An article is written in two steps so that a crash never leaves it half-present: its row
goes in as ``pending`` before its vectors are written to Chroma, and its chunks, its index
entries and the ``ready`` mark go in one transaction after. Articles being replaced or
removed are marked ``deleting`` until their vectors are gone. :meth:`Catalog.unfinished`
lists what a crash left behind so the store can finish the job.

Each thread gets its own SQLite connection (the UI runs events on a pool of threads), so one
thread's transaction never takes in another thread's statements. A ``generation`` number in
the meta table counts the writes to Chroma, so a process can tell that another one wrote.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from qa.errors import StoreError
from qa.types import Article, ArticleInfo, Chunk, Span
from qa.words import index_terms, lemmatiser, query_terms

SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles(
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    date TEXT,
    text TEXT NOT NULL,
    sentences TEXT NOT NULL,
    instructions TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'deleting')),
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sources(key TEXT PRIMARY KEY, article_id TEXT NOT NULL, file TEXT);
CREATE INDEX IF NOT EXISTS sources_article ON sources(article_id);
CREATE TABLE IF NOT EXISTS chunks(
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    sentences TEXT NOT NULL,
    vectors BLOB,
    terms TEXT,
    instructions TEXT
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS summaries(
    key TEXT NOT NULL,
    method TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (key, method)
);
"""

# The keyword index: FTS5 over each chunk's words as qa.words.index_terms makes them (its
# ``terms`` column), split by the plain unicode61 tokenizer. FTS5 cannot call a Python
# lemmatiser, so the lemmas are written beside the text and queries are lemmatised the same way.
_KEYWORD_INDEX = (
    "DROP TRIGGER IF EXISTS chunks_ai",
    "DROP TRIGGER IF EXISTS chunks_ad",
    "DROP TABLE IF EXISTS chunks_vocab",
    "DROP TABLE IF EXISTS chunks_fts",
    "CREATE VIRTUAL TABLE chunks_fts USING fts5("
    " terms, content='chunks', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row')",
    "CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN"
    " INSERT INTO chunks_fts(rowid, terms) VALUES (new.rowid, new.terms); END",
    "CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN"
    " INSERT INTO chunks_fts(chunks_fts, rowid, terms) VALUES ('delete', old.rowid, old.terms); END",
    "INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')",
)


def keyword_query(text: str) -> str | None:
    """Turn free text into a safe FTS5 query: its distinct content words as the index holds
    them (:func:`qa.words.query_terms`), OR-ed, quoted.

    Example: ``keyword_query("Who shut Leeds bridges?") == '"shut" OR "leeds" OR "bridge"'``
    """
    words = query_terms(text)
    return " OR ".join(f'"{w}"' for w in words) if words else None


def _terms(text: str) -> str:
    return " ".join(index_terms(text))


def _spans(raw: str | None) -> tuple[Span, ...]:
    return tuple(Span(s, e) for s, e in json.loads(raw)) if raw else ()


_CHUNK_COLUMNS = "id, article_id, idx, start, end, text, sentences, instructions"


def _chunk(row: tuple) -> Chunk:
    """A chunk from a row of :data:`_CHUNK_COLUMNS`."""
    return Chunk(*row[:6], sentences=_spans(row[6]), instructions=_spans(row[7]))


def _vectors_blob(vectors: np.ndarray) -> bytes:
    return np.asarray(vectors, dtype=np.float16).tobytes()


def _spans_json(spans: Iterable[Span]) -> str:
    return json.dumps([[s.start, s.end] for s in spans], separators=(",", ":"))


class Catalog:
    """The SQLite catalogue of one store."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        try:
            db = self.db
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(chunks)")}
            if "vectors" not in columns:  # a store written before sentence vectors were kept
                db.execute("ALTER TABLE chunks ADD COLUMN vectors BLOB")
            for table in ("articles", "chunks"):  # written when instruction-like sentences were not indexed
                if "instructions" not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN instructions TEXT")
            if "file" not in {row[1] for row in db.execute("PRAGMA table_info(sources)")}:
                db.execute("ALTER TABLE sources ADD COLUMN file TEXT")  # written before files were recorded
            db.execute("CREATE INDEX IF NOT EXISTS sources_file ON sources(file)")
            self._index_keywords()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the catalogue {path}: {exc}") from None

    def _index_keywords(self) -> None:
        """Build the keyword index over lemmas if this store has none, or one made by another
        lemmatiser (a store written with FTS5's Porter stemmer, or an older lemminflect)."""
        made_by = f"lemmas, {lemmatiser()}"
        if self.get_meta("keyword_index") == made_by:
            return
        with self._transaction() as db:
            if self.get_meta("keyword_index") == made_by:  # another process built it meanwhile
                return
            if "terms" not in {row[1] for row in db.execute("PRAGMA table_info(chunks)")}:
                db.execute("ALTER TABLE chunks ADD COLUMN terms TEXT")
            rows = db.execute("SELECT rowid, text FROM chunks").fetchall()
            db.executemany("UPDATE chunks SET terms = ? WHERE rowid = ?", [(_terms(t), r) for r, t in rows])
            for statement in _KEYWORD_INDEX:  # one by one: executescript would commit first
                db.execute(statement)
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('keyword_index', ?)", (made_by,))

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        db = getattr(self._local, "db", None)
        if db is None:
            # check_same_thread=False only so that close() may close every thread's connection.
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            with self._connections_lock:
                self._connections.append(db)
            self._local.db = db
        return db

    def close(self) -> None:
        with self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read one state of the catalogue throughout, whatever other threads and processes
        commit meanwhile (a read transaction; WAL lets writers go on). Nests; write nothing inside."""
        db = self.db
        if db.in_transaction:
            yield
            return
        db.execute("BEGIN")
        try:
            yield
        finally:
            db.execute("COMMIT")

    # --- meta ----------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, values: dict[str, str]) -> None:
        with self._transaction():
            self.db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", values.items())

    def store_id(self) -> str:
        """This catalogue's own id, made on first use: it tags the vectors it writes to a shared server."""
        with self._transaction():
            self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('store_id', ?)", (uuid.uuid4().hex[:12],))
        value = self.get_meta("store_id")
        assert value is not None
        return value

    def generation(self) -> int:
        """How many times any process has written to this store's vectors (0 for a new store)."""
        return int(self.get_meta("generation") or 0)

    def next_generation(self) -> int:
        """Count one more write and return the new generation."""
        with self._transaction():
            self.db.execute(
                "INSERT INTO meta(key, value) VALUES ('generation', '1')"
                " ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
            return self.generation()

    # --- writing -------------------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self.db)

    def begin(self, articles: Sequence[Article]) -> None:
        """Record new articles as ``pending`` before their vectors are written."""
        now = time.time()
        with self._transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO articles(id, source, title, date, text, sentences, instructions, state,"
                " added_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                [
                    (
                        a.id,
                        a.source,
                        a.title,
                        a.date,
                        a.text,
                        _spans_json(a.sentences),
                        _spans_json(a.instructions),
                        now,
                    )
                    for a in articles
                ],
            )

    def commit(
        self,
        articles: Sequence[Article],
        chunks: Sequence[Chunk],
        *,
        links: dict[str, str],
        files: dict[str, str] | None = None,
        sentence_vectors: Sequence[np.ndarray] | None = None,
    ) -> list[str]:
        """Make pending articles ``ready`` with their chunks, and point sources at articles.

        ``links`` maps source keys to article ids, ``files`` each key to the file it was read
        from (so that a line gone from a JSON-lines file can be found); ``sentence_vectors``
        holds, for each chunk, the embeddings of its sentences (one row each). Returns the ids
        of articles that no source points to any more; they are marked ``deleting`` in the
        same transaction.
        """
        blobs = [_vectors_blob(v) for v in sentence_vectors] if sentence_vectors is not None else [None] * len(chunks)
        with self._transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO chunks(id, article_id, idx, start, end, text, sentences, vectors, terms,"
                " instructions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        c.id,
                        c.article_id,
                        c.index,
                        c.start,
                        c.end,
                        c.text,
                        _spans_json(c.sentences),
                        blob,
                        _terms(c.text),
                        _spans_json(c.instructions),
                    )  # fmt: skip
                    for c, blob in zip(chunks, blobs, strict=True)
                ],
            )
            self.db.executemany("UPDATE articles SET state = 'ready' WHERE id = ?", [(a.id,) for a in articles])
            old = {
                row[0]
                for key in links
                for row in self.db.execute("SELECT article_id FROM sources WHERE key = ?", (key,))
            }
            self.db.executemany(
                "INSERT OR REPLACE INTO sources(key, article_id, file) VALUES (?, ?, ?)",
                [(key, article_id, (files or {}).get(key)) for key, article_id in links.items()],
            )
            orphans = [
                article_id
                for article_id in sorted(old - set(links.values()))
                if not self.db.execute("SELECT 1 FROM sources WHERE article_id = ?", (article_id,)).fetchone()
            ]
            self.db.executemany("UPDATE articles SET state = 'deleting' WHERE id = ?", [(i,) for i in orphans])
        return orphans

    def unlink(self, keys: Iterable[str]) -> list[str]:
        """Forget some sources; returns the ids of articles no source points to any more,
        marked ``deleting`` in the same transaction."""
        keys = [(key,) for key in keys]
        with self._transaction():
            select = "SELECT article_id FROM sources WHERE key = ?"
            ids = {row[0] for key in keys for row in self.db.execute(select, key)}
            self.db.executemany("DELETE FROM sources WHERE key = ?", keys)
            orphans = [
                article_id
                for article_id in sorted(ids)
                if not self.db.execute("SELECT 1 FROM sources WHERE article_id = ?", (article_id,)).fetchone()
            ]
            self.db.executemany("UPDATE articles SET state = 'deleting' WHERE id = ?", [(i,) for i in orphans])
        return orphans

    def mark_deleting(self, article_id: str) -> None:
        with self._transaction():
            self.db.execute("UPDATE articles SET state = 'deleting' WHERE id = ?", (article_id,))
            self.db.execute("DELETE FROM sources WHERE article_id = ?", (article_id,))

    def purge(self, article_ids: Iterable[str]) -> None:
        """Delete articles, their chunks and sources (after their vectors are gone)."""
        ids = [(i,) for i in article_ids]
        with self._transaction():
            self.db.executemany("DELETE FROM chunks WHERE article_id = ?", ids)
            self.db.executemany("DELETE FROM sources WHERE article_id = ?", ids)
            self.db.executemany("DELETE FROM articles WHERE id = ?", ids)
            self.db.executemany("DELETE FROM summaries WHERE key = ?", ids)

    def unfinished(self) -> list[str]:
        """Ids of articles a crash left ``pending`` or ``deleting``."""
        rows = self.db.execute("SELECT id FROM articles WHERE state != 'ready' ORDER BY id")
        return [r[0] for r in rows]

    def put_summary(self, key: str, method: str, body: str) -> None:
        """Store a summary (JSON) under an article id or a digest key; one commit each."""
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO summaries(key, method, body, created) VALUES (?, ?, ?, ?)",
                (key, method, body, time.time()),
            )

    def get_summary(self, key: str, method: str) -> str | None:
        row = self.db.execute("SELECT body FROM summaries WHERE key = ? AND method = ?", (key, method)).fetchone()
        return row[0] if row else None

    # --- reading -------------------------------------------------------------------------

    def source_article(self, key: str) -> str | None:
        row = self.db.execute("SELECT article_id FROM sources WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def file_keys(self, file: str) -> set[str]:
        """The source keys last read from ``file`` (and, in a store written before files were
        recorded, the ``file#line`` keys of its JSON lines)."""
        rows = self.db.execute(
            "SELECT key FROM sources WHERE file = ? OR (file IS NULL AND substr(key, 1, ?) = ?)",
            (file, len(file) + 1, file + "#"),
        )
        return {row[0] for row in rows}

    def is_ready(self, article_id: str) -> bool:
        row = self.db.execute("SELECT state FROM articles WHERE id = ?", (article_id,)).fetchone()
        return bool(row) and row[0] == "ready"

    def has_articles(self) -> bool:
        return self.db.execute("SELECT 1 FROM articles WHERE state = 'ready' LIMIT 1").fetchone() is not None

    def articles(self) -> list[ArticleInfo]:
        rows = self.db.execute(
            "SELECT a.id, a.source, a.title, a.date, COUNT(c.id) FROM articles a"
            " LEFT JOIN chunks c ON c.article_id = a.id WHERE a.state = 'ready'"
            " GROUP BY a.id ORDER BY a.date IS NULL, a.date, a.title, a.id"
        )
        return [ArticleInfo(*row) for row in rows]

    def info(self, article_ids: Iterable[str]) -> dict[str, ArticleInfo]:
        ids = sorted(set(article_ids))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT a.id, a.source, a.title, a.date, COUNT(c.id) FROM articles a"
            f" LEFT JOIN chunks c ON c.article_id = a.id WHERE a.state = 'ready' AND a.id IN ({marks})"
            f" GROUP BY a.id",
            ids,
        )
        return {row[0]: ArticleInfo(*row) for row in rows}

    def article(self, article_id: str) -> Article | None:
        row = self.db.execute(
            "SELECT id, source, title, date, text, sentences, instructions FROM articles"
            " WHERE id = ? AND state = 'ready'",
            (article_id,),
        ).fetchone()
        if row is None:
            return None
        return Article(
            id=row[0],
            source=row[1],
            title=row[2],
            date=row[3],
            text=row[4],
            sentences=_spans(row[5]),
            instructions=_spans(row[6]),
        )

    def texts(self, article_ids: Iterable[str]) -> dict[str, str]:
        """The stored text of each given article."""
        ids = sorted(set(article_ids))
        if not ids:
            return {}
        rows = self.db.execute(f"SELECT id, text FROM articles WHERE id IN ({','.join('?' * len(ids))})", ids)
        return dict(rows.fetchall())

    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id IN ({marks})",
            list(chunk_ids),
        )
        return {r[0]: _chunk(r) for r in rows}

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embeddings of each chunk's sentences (chunks stored without them are left out)."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(
            f"SELECT id, sentences, vectors FROM chunks WHERE id IN ({marks}) AND vectors IS NOT NULL", list(chunk_ids)
        )
        out = {}
        for chunk_id, spans, blob in rows:
            count = len(json.loads(spans))
            out[chunk_id] = np.frombuffer(blob, dtype=np.float16).reshape(count, -1).astype(np.float32)
        return out

    def article_chunks(self, article_id: str) -> list[Chunk]:
        rows = self.db.execute(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE article_id = ? ORDER BY idx",
            (article_id,),
        )
        return [_chunk(r) for r in rows]

    def ready_chunk_ids(self) -> set[str]:
        rows = self.db.execute(
            "SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE a.state = 'ready'"
        )
        return {r[0] for r in rows}

    def resolve_id(self, prefix: str) -> list[str]:
        """Ready article ids that start with ``prefix`` (ids may be abbreviated, like git's)."""
        rows = self.db.execute(
            "SELECT id FROM articles WHERE state = 'ready' AND id >= ? AND id < ? ORDER BY id LIMIT 2",
            (prefix, prefix + "\uffff"),
        )
        return [r[0] for r in rows]

    def term_frequencies(self, words: Iterable[str]) -> tuple[int, dict[str, int]]:
        """``(chunks in the index, {word: chunks containing it})``, for rarity weights (a
        hyphenated word counts as its rarest part)."""
        total = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        found = {}
        for word in words:
            counts = []
            for term in index_terms(word):
                row = self.db.execute("SELECT doc FROM chunks_vocab WHERE term = ?", (term,)).fetchone()
                counts.append(row[0] if row else 0)
            found[word] = min(counts, default=0)
        return total, found

    def mentions(self, word: str) -> bool:
        """Whether a stored article holds ``word`` as the keyword index reads it: its index
        terms as one phrase, split by the index's own tokenizer ("O'Brien", "Erdoğan", "1.5"
        and "NATO" are found as they were indexed). A word with no index terms counts as held.

        Example: after storing "Rain fell on Leeds.", ``mentions("Leeds")`` and not ``mentions("Paris")``
        """
        terms = index_terms(word)
        if not terms:
            return True
        phrase = '"' + " ".join(terms).replace('"', '""') + '"'
        row = self.db.execute(
            "SELECT 1 FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid "
            "JOIN articles a ON a.id = c.article_id WHERE chunks_fts MATCH ? AND a.state = 'ready' LIMIT 1",
            (phrase,),
        ).fetchone()
        return row is not None

    def keyword_search(
        self,
        query: str,
        *,
        limit: int,
        article_ids: Sequence[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> list[str]:
        """Chunk ids ranked by BM25 for the query's content words, best first."""
        match = keyword_query(query)
        if match is None:
            return []
        sql = [
            "SELECT c.id FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid",
            "JOIN articles a ON a.id = c.article_id",
            "WHERE chunks_fts MATCH ? AND a.state = 'ready'",
        ]
        params: list = [match]
        if article_ids is not None:
            sql.append(f"AND a.id IN ({','.join('?' * len(article_ids))})")
            params.extend(article_ids)
        if date_from:
            sql.append("AND a.date >= ?")
            params.append(date_from)
        if date_to:
            sql.append("AND a.date <= ?")
            params.append(date_to)
        sql.append("ORDER BY bm25(chunks_fts) LIMIT ?")
        params.append(limit)
        return [row[0] for row in self.db.execute(" ".join(sql), params)]


class _Transaction:
    """``with`` block around BEGIN IMMEDIATE ... COMMIT, rolled back on error."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, tb) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")
