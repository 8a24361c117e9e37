"""The facade: one object that owns the models and the store and does the user's jobs."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from qa.answer import Answerer
from qa.embed import Embedder, SentenceTransformerEmbedder, embed_sentences, sentence_vectors
from qa.errors import InputError
from qa.ingest import SourceFile, chunk_article, count_items, discover, drop_duplicate_chunks, iter_file
from qa.llm import LLM, LlamaCppLLM, OpenAIServerLLM, resolve_model
from qa.rank import Ranker
from qa.retrieve import Filters, check_query, hybrid_search
from qa.settings import Settings
from qa.stopping import Stopped, shielded
from qa.store import Store, connect_chroma
from qa.summarize import Summarizer, Summary, SummaryReport
from qa.timeline import Timeline, build_timeline
from qa.types import Answer, Article, ArticleInfo, Chunk, Hit, IngestProgress, IngestReport

MAX_QUERY_CHARS = 2000
_FETCHED = "fetched "  # catalogue meta key prefix: what a fetch learnt about a URL (see qa.fetch.Item.remember)
# Chunks gathered before one embedding call and one store write: big enough that the
# encoder runs full batches, small enough that an interrupted ingest loses little.
FLUSH_CHUNKS = 128


class Pipeline:
    """Ingest, search, list and remove articles.

    Build it with :meth:`from_settings`, the only place where the embedder and the Chroma
    client are constructed. Tests pass their own ``store`` and ``embedder``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        embedder: Embedder | None = None,
        embedder_factory: Callable[[], Embedder] | None = None,
        llm: LLM | None = None,
        llm_factory: Callable[[], LLM] | None = None,
    ):
        self.settings = settings
        self.store = store
        self._embedder = embedder
        self._embedder_factory = embedder_factory
        self._llm = llm
        self._llm_factory = llm_factory
        self._ranker: Ranker | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, embedder: Embedder | None = None, llm: LLM | None = None
    ) -> Pipeline:
        """Open the store the settings describe; the models load on first use."""
        settings = settings or Settings.from_env()
        client = connect_chroma(settings.data_dir, settings.chroma_url)
        store = Store(
            client,
            settings.data_dir,
            collection=settings.collection,
            embed_model=embedder.name if embedder else settings.embed_model,
            embed_dim=embedder.dim if embedder else None,
            lock_timeout=settings.lock_timeout,
            reconnect=None if settings.chroma_url else lambda: connect_chroma(settings.data_dir, None),
            shared=bool(settings.chroma_url),
        )
        return cls(
            settings,
            store=store,
            embedder=embedder,
            embedder_factory=lambda: SentenceTransformerEmbedder(settings.embed_model, batch_size=settings.embed_batch),
            llm=llm,
            llm_factory=lambda: load_llm(settings),
        )

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            assert self._embedder_factory is not None
            self._embedder = self._embedder_factory()
            self.store.record_model(self._embedder.dim)
        return self._embedder

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            assert self._llm_factory is not None
            self._llm = self._llm_factory()
        return self._llm

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- ingest --------------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        on_progress: Callable[[IngestProgress], None] | None = None,
        on_fetch: Callable[[str], None] | None = None,
    ) -> IngestReport:
        """Read files and folders, and fetch ``http(s)://`` URLs (pages and feeds), into the store,
        committing as it goes.

        Unchanged articles are skipped, changed files replace their old article, and a file
        or URL that cannot be read is reported and the rest still go in. Only the URLs given
        are fetched (:mod:`qa.fetch`), before the store is locked for writing. Articles are
        written every ``FLUSH_CHUNKS`` chunks, so an interruption keeps what was written and a
        re-run skips it. A stop by signal (:class:`qa.stopping.Stopped`, under
        :func:`qa.stopping.stop_on_signals`) ends the run after the write in progress; the
        report then says so in ``stopped``.

        Args:
            on_progress: called with an :class:`IngestProgress` once the files are counted,
                then after each article of a file and each write (fetched articles are
                written after the files, and not counted).
            on_fetch: called with each URL just before it is requested.
        """
        from qa.fetch import is_url

        paths = [str(p) for p in paths]
        urls = [p for p in paths if is_url(p)]
        files, problems = discover(p for p in paths if not is_url(p))
        report = IngestReport(failed=list(problems))
        try:
            max_bytes = self.settings.max_file_bytes
            progress = IngestProgress(total=sum(count_items(f, max_bytes=max_bytes) for f in files))
            if on_progress:
                on_progress(progress)
            items = self._fetch(urls, on_fetch) if urls else []
            if not files and not any(item.article for item in items):  # say so without loading the embedding model
                self._store_fetched(items, report, write=False)
                return report
            embedder = self.embedder
            with self.store.writing():
                self.store.recover()
                self.store.record_model(embedder.dim)
                tracker = _Progress(progress, on_progress)
                self._ingest(files, report, tracker)
                self._store_fetched(items, report, write=True, progress=tracker)
        except Stopped as exc:
            report.stopped = exc.name
        return report

    def _fetch(self, urls: list[str], on_fetch) -> list:
        """Fetch the URLs (pages, feeds and their items); nothing is written yet."""
        from qa.fetch import Fetcher, read_urls

        catalog = self.store.catalog

        class Memory:
            def stored(self, key: str) -> str | None:
                article_id = catalog.source_article(key)
                return article_id if article_id and catalog.is_ready(article_id) else None

            def recall(self, url: str) -> dict:
                return json.loads(catalog.get_meta(_FETCHED + url) or "{}")

        settings = self.settings
        with Fetcher(timeout=settings.fetch_timeout, max_bytes=settings.max_file_bytes,
                     delay=settings.fetch_delay, on_request=on_fetch) as fetcher:  # fmt: skip
            return list(read_urls(urls, fetcher=fetcher, memory=Memory()))

    def _store_fetched(
        self, items: list, report: IngestReport, *, write: bool, progress: _Progress | None = None
    ) -> None:
        """Store the fetched articles (``write``: under the store's write lock), report the rest, and
        keep what each fetch learnt once its article is written."""
        batch = _Batch()
        for item in items:
            report.notes.extend((item.where, note) for note in item.notes)
            if item.failure:
                report.failed.append((item.where, item.failure))
            elif item.unchanged:
                report.unchanged.append(item.where)
            elif item.article is not None and write:
                self._plan(item.article, batch, report, file=item.via)
                if batch.size >= FLUSH_CHUNKS:
                    self._flush(batch, report, progress)
                    batch = _Batch()
        if write:
            self._flush(batch, report, progress)
        learnt = {_FETCHED + url: json.dumps(state) for item in items for url, state in item.remember.items()}
        if learnt:
            self.store.catalog.set_meta(learnt)

    def _ingest(self, files: Sequence[SourceFile], report: IngestReport, progress: _Progress) -> None:
        batch = _Batch()
        for file in files:
            keys: set[str] = set()
            whole = True  # every line read: only then may a line gone from the file take its article
            for item in iter_file(file, max_bytes=self.settings.max_file_bytes, notes=report.notes):
                if isinstance(item, Article):  # a JSON-lines file may hold thousands: write as we go
                    keys.add(item.key)
                    self._plan(item, batch, report, file=str(file.path))
                    if item.id in batch.ids:  # done when the batch is written
                        batch.items += 1
                    else:  # stored already
                        progress.advance()
                else:
                    if item is not None:
                        report.failed.append(item)
                        whole = False
                    progress.advance()
                if batch.size >= FLUSH_CHUNKS:
                    self._flush(batch, report, progress)
                    batch = _Batch()
            if keys and whole:
                stale = self.store.catalog.file_keys(str(file.path)) - keys
                if stale:  # lines gone from a JSON-lines file: their articles go too
                    self._flush(batch, report, progress)  # first, so an article that only moved keeps a source
                    batch = _Batch()
                    report.removed.extend(f"{info.source}: {info.title}" for info in self.store.unlink(stale))
        self._flush(batch, report, progress)
        progress.finish()

    def _plan(self, article: Article, batch: _Batch, report: IngestReport, *, file: str) -> None:
        """Decide what one article means for the store: added, unchanged or replacing."""
        previous = self.store.catalog.source_article(article.key)
        stored = article.id in batch.ids or self.store.catalog.is_ready(article.id)
        batch.links[article.key] = article.id
        batch.files[article.key] = file  # recorded even when unchanged: the source may have moved file
        same = previous == article.id and stored
        if same:
            outcome = "unchanged"
        elif previous and previous != article.id:
            outcome = "replaced"
        else:  # stored: the same text came from another source
            outcome = "unchanged" if stored else "added"
        getattr(report, outcome).append(article.source)
        report.outcomes.append((outcome, article.source, article.title))
        if same:
            return
        if not stored:
            chunks, dropped = drop_duplicate_chunks(chunk_article(article, max_words=self.settings.chunk_words))
            if dropped:  # what is not indexed is not among the article's indexed sentences either
                article = dataclasses.replace(article, sentences=tuple(s for c in chunks for s in c.sentences))
                report.duplicates += dropped
            batch.articles.append(article)
            batch.chunks.extend(chunks)
            batch.ids.add(article.id)

    def _flush(self, batch: _Batch, report: IngestReport, progress: _Progress | None) -> None:
        """Embed the batch's sentences and write everything.

        Each sentence is embedded once: a chunk's vector is the normalised mean of its
        sentences' vectors, and the sentence vectors are kept for ranking answer sentences,
        so answering embeds only the question (and its asking clause).
        """
        if not batch.links:
            return
        per_chunk = embed_sentences(self.embedder, batch.chunks, {a.id: a.text for a in batch.articles})
        vectors = np.array([mean_vector(v) for v in per_chunk], dtype=np.float32).reshape(-1, self.embedder.dim)
        with shielded():  # a stop by signal takes effect after the write and its count, never between
            self.store.write(
                batch.articles, batch.chunks, vectors, links=batch.links, files=batch.files, sentence_vectors=per_chunk
            )
            report.chunks += len(batch.chunks)
            report.stored += len(batch.articles)
            if progress is not None:
                progress.written(batch.items, articles=len(batch.articles), chunks=len(batch.chunks))

    def ingest_upload(
        self, path: str | Path, name: str, *, on_progress: Callable[[IngestProgress], None] | None = None
    ) -> IngestReport:
        """Ingest one uploaded file under its original file ``name``, wherever the upload was put.

        An upload arrives at a temporary path of its own each time, so it is read from a copy
        at ``DATA_DIR/uploads/NAME``: the name, not the temporary path, is what the article is
        remembered by, and uploading an edited file again replaces its article (as ``qa ingest``
        does for a file at the same path). The copy is removed afterwards.
        """
        name = Path(name).name
        if not name or name.startswith("."):
            raise InputError(f"not a file name: {name!r}")
        staged = self.settings.data_dir / "uploads" / name
        staged.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(path, staged)
            return self.ingest([staged], on_progress=on_progress)
        finally:
            staged.unlink(missing_ok=True)

    # --- reading -------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        article_ids: Sequence[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> list[Hit]:
        """The best passages for ``query``, each with its article and exact span."""
        query = check_query(query, max_chars=MAX_QUERY_CHARS)
        k = self.settings.k if k is None else k
        if k < 1:
            raise InputError("k must be at least 1")
        ids = [self.store.resolve(a).id for a in article_ids] if article_ids else None
        filters = Filters.build(article_ids=ids, date_from=date_from, date_to=date_to)
        self.require_articles()
        vector = self.embedder.embed([query])[0]
        with self.store.catalog.snapshot():  # one state of the catalogue, while others write
            return hybrid_search(
                query,
                store=self.store,
                embedder=self.embedder,
                k=k,
                candidates=max(self.settings.candidates, k),
                per_article=self.settings.candidates_per_article,
                rrf_k=self.settings.rrf_k,
                filters=filters,
                vector=vector,
            )

    def answerer(self) -> Answerer:
        if self._ranker is None:
            self._ranker = Ranker.load()
        return Answerer(store=self.store, embedder=self.embedder, llm=self.llm, settings=self.settings,
                        ranker=self._ranker)  # fmt: skip

    def ask(self, question: str, **filters) -> Answer:
        """A checked, cited answer to ``question``, or a plain refusal."""
        *_, answer = self.ask_stream(question, **filters)
        return answer

    def ask_stream(
        self,
        question: str,
        *,
        article_ids: Sequence[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        history: Sequence[str] = (),
    ) -> Iterator[str | Answer]:
        """Partial model output as it is generated, then the checked :class:`Answer` last.

        ``history``: earlier questions of the same conversation, so a follow-up such as
        "Why did they take it?" can be read; the answer still comes only from the articles.
        """
        question = check_query(question, max_chars=MAX_QUERY_CHARS)
        ids = [self.store.resolve(a).id for a in article_ids] if article_ids else None
        filters = Filters.build(article_ids=ids, date_from=date_from, date_to=date_to)
        self.require_articles()
        return self.answerer().stream(question, filters=filters, history=history)

    def summarizer(self) -> Summarizer:
        return Summarizer(store=self.store, embedder=self.embedder)

    def summarize(self, article_ids: Sequence[str] | None = None, **options) -> SummaryReport:
        """Cited summaries of the given articles (all when None); stored ones are reused."""
        self.require_articles()
        ids = list(article_ids) if article_ids else [a.id for a in self.articles()]
        return self.summarizer().summarize(ids, **options)

    def digest(self, article_ids: Sequence[str] | None = None, *, force: bool = False) -> Summary:
        """Main story, agreements and single-source reports across articles (all when None)."""
        self.require_articles()
        return self.summarizer().digest(list(article_ids) if article_ids else None, force=force)

    def timeline(
        self,
        article_ids: Sequence[str] | None = None,
        *,
        query: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Timeline:
        """The dated events of the articles, each cited, merged across sources (see :mod:`qa.timeline`).

        Args:
            article_ids: only these articles (all when None).
            query: only the sentences of the passages ``qa search`` finds for this query (``QA_K`` of them).
            since, until: only events whose dates overlap this range (``YYYY-MM-DD``), not the
                articles' publication dates.
        """
        filters = Filters.build(date_from=since, date_to=until)
        self.require_articles()
        ids = [self.store.resolve(a).id for a in article_ids] if article_ids else None
        spans: dict[str, list] | None = None
        if query is not None:
            hits = self.search(query, article_ids=ids)  # the passages qa search shows (QA_K)
            spans = {}
            for hit in hits:
                spans.setdefault(hit.article.id, []).extend(hit.chunk.sentences)
            ids = list(spans)
        ids = ids if ids is not None else [a.id for a in self.articles()]
        articles = [self.store.article(i) for i in dict.fromkeys(ids)]
        vectors: dict[tuple[str, int], np.ndarray] = {}
        chunk_of: dict[tuple[str, int], Chunk] = {}
        for article in articles:
            chunks = self.store.catalog.article_chunks(article.id)
            per_chunk = sentence_vectors(self.embedder, self.store.catalog, chunks, {article.id: article.text})
            for chunk in chunks:
                for row, span in enumerate(chunk.sentences):
                    chunk_of[(article.id, span.start)] = chunk
                    vectors[(article.id, span.start)] = per_chunk[chunk.id][row]
        return build_timeline(
            articles, vectors=vectors, chunk_of=chunk_of, spans=spans, since=filters.date_from, until=filters.date_to
        )

    def require_articles(self) -> None:
        """Raise a clear :class:`InputError` when nothing has been ingested yet."""
        if not self.store.catalog.has_articles():
            raise InputError("no articles yet; add some first with 'qa ingest PATH' (e.g. 'qa ingest seeds')")

    def articles(self) -> list[ArticleInfo]:
        return self.store.articles()

    def article(self, article_id: str) -> Article:
        return self.store.article(article_id)

    def remove(self, article_id: str) -> ArticleInfo:
        with self.store.writing():
            return self.store.remove(article_id)


def mean_vector(vectors: np.ndarray) -> np.ndarray:
    """The unit-length mean of some unit vectors: a chunk's vector from its sentences'.

    Example: ``mean_vector(np.array([[1.0, 0.0], [0.0, 1.0]]))`` is ``[0.707, 0.707]``
    """
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean


def load_llm(settings: Settings) -> LLM:
    """The configured language model: a server if ``llm_url`` is set, else llama.cpp in process."""
    if settings.llm_url:
        return OpenAIServerLLM(
            settings.llm_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            n_ctx=settings.n_ctx,
            seed=settings.seed,
        )
    path = resolve_model(settings.model, cache_dir=settings.cache_dir)
    return LlamaCppLLM(path, n_ctx=settings.n_ctx, n_threads=settings.n_threads, seed=settings.seed)


class _Batch:
    """Articles waiting to be embedded and written together."""

    def __init__(self) -> None:
        self.articles: list[Article] = []
        self.chunks: list[Chunk] = []
        self.ids: set[str] = set()
        self.links: dict[str, str] = {}  # source key -> article id
        self.files: dict[str, str] = {}  # source key -> the file it was read from
        self.items = 0  # items of the input done once this batch is written

    @property
    def size(self) -> int:
        return len(self.chunks)


class _Progress:
    """An :class:`IngestProgress` kept up to date and handed to the caller's ``on_progress``."""

    def __init__(self, state: IngestProgress, callback: Callable[[IngestProgress], None] | None) -> None:
        self.state = state
        self.callback = callback
        self.started = time.monotonic()

    def _tell(self) -> None:
        self.state.seconds = time.monotonic() - self.started
        if self.callback:
            self.callback(self.state)

    def advance(self) -> None:
        """One item done without a write: found stored already, a repeat, or failed."""
        self.state.done += 1
        self._tell()

    def written(self, items: int, *, articles: int, chunks: int) -> None:
        self.state.done += items
        self.state.stored += articles
        self.state.chunks += chunks
        self._tell()

    def finish(self) -> None:
        """The end of the run: every item counted beforehand is done (a count may have been off by a blank line)."""
        self.state.done = self.state.total
        self._tell()
