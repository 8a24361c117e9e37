"""Ingest and search end to end: the real embedding model, a real Chroma directory, the seeds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import numpy as np
import pytest

from qa.errors import InputError, StoreError
from qa.pipeline import Pipeline
from tests.conftest import SEED_000, SEED_003, SEEDS

pytestmark = pytest.mark.slow

SEDNAYA = (
    "Early on Sunday, the rebel forces took over the Sednaya prison in the outskirts of Damascus"
    " to free all the prisoners."
)


def test_search_sednaya_returns_the_exact_sentence(seeded: Pipeline) -> None:
    hits = seeded.search("Sednaya prison")
    top = hits[0]
    assert top.article.source == f"seeds/{SEED_000.name}"
    assert top.sentence_text == SEDNAYA
    text = seeded.article(top.article.id).text
    assert text[top.sentence.start : top.sentence.end] == SEDNAYA
    assert text == SEED_000.read_text(encoding="utf-8")
    assert top.sentence in top.chunk.sentences
    assert top.dense_rank is not None and top.keyword_rank is not None


def test_every_hit_sentence_slices_its_article(seeded: Pipeline) -> None:
    for query in ("Who left the country?", "border crossings", "airport evacuated", "HTS"):
        for hit in seeded.search(query, k=5):
            text = seeded.article(hit.article.id).text
            for span in hit.chunk.sentences:
                assert span.of(text).strip() == span.of(text) != ""
            assert hit.sentence.of(text) == hit.sentence_text


def test_reingesting_adds_nothing(seeded: Pipeline) -> None:
    before = seeded.store.count()
    report = seeded.ingest([SEEDS])
    assert (len(report.added), len(report.unchanged), len(report.replaced)) == (0, 2, 0)
    assert report.chunks == 0
    assert seeded.store.count() == before
    assert len(seeded.articles()) == 2


def test_a_changed_file_replaces_its_old_chunks(pipeline: Pipeline, tmp_path) -> None:
    folder = tmp_path / "news"
    shutil.copytree(SEEDS, folder)
    pipeline.ingest([folder])
    [old] = [a for a in pipeline.articles() if a.date is None]
    changed = folder / SEED_003.name
    changed.write_text(changed.read_text(encoding="utf-8") + "\nA ceasefire was announced in Aleppo on Monday.\n")

    report = pipeline.ingest([folder])

    assert (len(report.added), len(report.unchanged), len(report.replaced)) == (0, 1, 1)
    ids = {a.id for a in pipeline.articles()}
    assert old.id not in ids and len(ids) == 2
    assert pipeline.store.count() == sum(a.chunks for a in pipeline.articles())
    assert pipeline.store.collection.get(where={"article_id": old.id})["ids"] == []
    hit = pipeline.search("ceasefire announced in Aleppo", k=1)[0]
    assert hit.sentence_text == "A ceasefire was announced in Aleppo on Monday."


def test_a_folder_with_bad_files_ingests_the_good_ones(pipeline: Pipeline, tmp_path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(SEED_000, folder)
    (folder / "latin1.txt").write_bytes("Caf\u00e9 owners protested.".encode("latin-1"))
    (folder / "empty.txt").write_text("")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)

    report = pipeline.ingest([folder])

    assert report.added == [f"mixed/{SEED_000.name}"]
    reasons = dict(report.failed)
    assert set(reasons) == {"mixed/latin1.txt", "mixed/empty.txt", "mixed/image.txt"}
    assert reasons["mixed/latin1.txt"].startswith("not UTF-8 text")
    assert reasons["mixed/empty.txt"] == "empty file"
    assert reasons["mixed/image.txt"].startswith("binary file")
    assert len(pipeline.articles()) == 1


@pytest.mark.parametrize(
    "query, line",
    [
        ("Weapons Aid To Ukraine", "READ: U.S. Announces Nearly $1 Billion In Long-Term Weapons Aid To Ukraine"),
        ("leader of the Islamist alliance", "Abu Mohamed al-Jolani is the leader of the Islamist alliance"),
    ],
)
def test_captions_and_cross_links_are_searchable(seeded: Pipeline, query: str, line: str) -> None:
    [best] = seeded.search(query, k=1)
    assert line in best.chunk.text and line in best.sentence_text


@pytest.mark.slow
def test_a_fact_found_only_in_a_caption_can_answer(seeded: Pipeline) -> None:
    """Seed 000 names the alliance's leader only in a photo caption."""
    from qa.answer import Answerer
    from qa.question import Question
    from qa.retrieve import Filters

    answerer = Answerer(store=seeded.store, embedder=seeded.embedder, llm=None, settings=seeded.settings)
    answer = answerer.answer("Who is the leader of the Islamist alliance that spearheaded the offensive?")
    assert answer.answered and "Jolani" in answer.text
    ranked, _ = answerer.rank(Question.parse("Who leads the alliance?"), filters=Filters())
    captions = [c.features["aside"] for c in ranked if "(AFP)" in c.text]
    assert captions and set(captions) == {1.0}


def test_filters_by_article_and_date(seeded: Pipeline) -> None:
    dated = [a for a in seeded.articles() if a.date][0]
    undated = [a for a in seeded.articles() if not a.date][0]
    only = seeded.search("Assad left Damascus", article_ids=[undated.id[:8]], k=10)
    assert only and {h.article.id for h in only} == {undated.id}
    recent = seeded.search("Assad left Damascus", date_from="2024-12-01", date_to="2024-12-31", k=10)
    assert recent and {h.article.id for h in recent} == {dated.id}
    assert seeded.search("Assad left Damascus", date_to="2024-01-01") == []
    with pytest.raises(InputError, match="date range is empty"):
        seeded.search("Assad", date_from="2024-12-09", date_to="2024-12-01")


def test_remove_deletes_vectors_and_keywords(seeded: Pipeline) -> None:
    target = [a for a in seeded.articles() if a.date][0]
    seeded.remove(target.id)
    assert [a.id for a in seeded.articles()] != [target.id] and len(seeded.articles()) == 1
    assert seeded.store.collection.get(where={"article_id": target.id})["ids"] == []
    assert seeded.store.catalog.keyword_search("Sednaya", limit=5) == []
    with pytest.raises(InputError, match="no article with id"):
        seeded.remove(target.id)


def test_keyword_search_matches_dictionary_forms(seeded: Pipeline) -> None:
    catalog = seeded.store.catalog
    for query, sentence in [("taking over prisons", SEDNAYA), ("falls", "as many as four cities fell out")]:
        found = catalog.chunks(catalog.keyword_search(query, limit=3))
        assert any(sentence in c.text for c in found.values()), query  # Porter has "take", "took"; "fall", "fell"


# A store written before the keyword index held lemmas (FTS5's Porter tokenizer over the text)
# and before instruction-like sentences were indexed and marked.
_PORTER_INDEX = """
DROP TRIGGER chunks_ai; DROP TRIGGER chunks_ad; DROP TABLE chunks_vocab; DROP TABLE chunks_fts;
ALTER TABLE chunks DROP COLUMN terms;
ALTER TABLE chunks DROP COLUMN instructions;
ALTER TABLE articles DROP COLUMN instructions;
DELETE FROM meta WHERE key = 'keyword_index';
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, content='chunks', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row');
CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild');
"""


def test_a_store_with_the_old_keyword_index_is_reindexed_on_open(seeded: Pipeline, settings, embedder, tmp_path):
    import sqlite3

    chunks = seeded.store.count()
    seeded.close()
    with sqlite3.connect(settings.data_dir / "catalog.sqlite3") as db:
        db.executescript(_PORTER_INDEX)
        assert db.execute("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'flee'").fetchone()[0] == 0
    with Pipeline.from_settings(settings, embedder=embedder) as reopened:
        catalog = reopened.store.catalog
        assert reopened.store.count() == chunks
        assert len(catalog.keyword_search("flee", limit=20)) >= 2  # "fled", in both seeds
        assert reopened.search("Sednaya prison")[0].keyword_rank == 1
        assert all(a.instructions == () for a in map(reopened.article, [i.id for i in reopened.articles()]))
        (tmp_path / "new.txt").write_text("Dam repairs\n\nWorkers fled the flooded dam on Monday.\n")
        reopened.ingest([tmp_path / "new.txt"])
        [new] = [a for a in reopened.articles() if a.title == "Dam repairs"]
        found = catalog.chunks(catalog.keyword_search("flood dams", limit=5))
        assert {c.article_id for c in found.values()} == {new.id}
        reopened.remove(new.id)
        assert catalog.keyword_search("flood dams", limit=5) == []


@pytest.mark.parametrize("query", ["", "   ", "a\x00b", "x" * 100_000])
def test_bad_queries_are_refused(seeded: Pipeline, query: str) -> None:
    with pytest.raises(InputError):
        seeded.search(query)


def test_search_before_ingest_says_so(pipeline: Pipeline) -> None:
    with pytest.raises(InputError, match="no articles yet"):
        pipeline.search("Who fled?")


class _OtherEmbedder:
    name = "some-other-model"
    dim = 8

    def embed(self, texts):
        return np.ones((len(texts), self.dim), dtype=np.float32)


def test_a_store_refuses_another_embedding_model(seeded: Pipeline, settings) -> None:
    seeded.close()
    catalog_before = (settings.data_dir / "catalog.sqlite3").read_bytes()
    with pytest.raises(StoreError, match="built with the embedding model 'all-MiniLM-L6-v2'"):
        Pipeline.from_settings(settings, embedder=_OtherEmbedder())
    assert (settings.data_dir / "catalog.sqlite3").read_bytes() == catalog_before


def test_recover_drops_a_half_written_article(pipeline: Pipeline, embedder) -> None:
    from qa.ingest import SourceFile, chunk_article, read_file

    [article], _ = read_file(SourceFile(SEED_003, SEED_003.name), max_bytes=10**7)
    chunks = chunk_article(article, max_words=80)
    pipeline.store.record_model(embedder.dim)
    # A crash after the vectors went in but before the catalogue was committed:
    pipeline.store.catalog.begin([article])
    pipeline.store._add_vectors([article], chunks, embedder.embed([c.text for c in chunks]))
    assert pipeline.articles() == []  # a pending article is invisible

    assert pipeline.store.recover() == [article.id]
    assert pipeline.store.count() == 0
    report = pipeline.ingest([SEED_003])
    assert len(report.added) == 1 and pipeline.store.count() == len(chunks)


def _jsonl(path, n: int, *, bad_line: bool = False):
    lines = [
        json.dumps(
            {"url": f"https://example.org/{i}", "text": f"Report {i}. The council met on day {i}. Repairs began."}
        )
        for i in range(n)
    ]
    if bad_line:
        lines.insert(3, "{not json")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ingest_progress_counts_articles_as_they_are_committed(pipeline: Pipeline, tmp_path, monkeypatch) -> None:
    """Issue 11, item 5: the progress counts articles (known before parsing) as they reach the
    store, never ahead of it, with what a bar needs for rates and the time left."""
    import qa.pipeline

    monkeypatch.setattr(qa.pipeline, "FLUSH_CHUNKS", 4)  # a write every few articles
    path = _jsonl(tmp_path / "news.jsonl", 12, bad_line=True)
    seen = []

    def on_progress(progress) -> None:
        ready = len(pipeline.store.catalog.articles())
        assert progress.done <= ready + 1  # the one bad line is done without a write
        assert progress.stored == ready
        seen.append((progress.total, progress.done, progress.stored, progress.chunks, progress.eta()))

    report = pipeline.ingest([path], on_progress=on_progress)
    assert report.stored == 12 and len(report.failed) == 1 and report.stopped is None
    assert {total for total, *_ in seen} == {13}
    assert seen[0][1:4] == (0, 0, 0) and seen[-1][1:3] == (13, 12)
    dones = [done for _, done, *_ in seen]
    assert dones == sorted(dones) and len({d for d in dones if 0 < d < 13}) >= 3  # moved several times mid-file
    assert seen[-1][3] == report.chunks and seen[-1][4] == 0
    again = []
    report = pipeline.ingest([path], on_progress=lambda p: again.append((p.done, p.stored)))
    assert len(report.unchanged) == 12 and report.stored == 0 and again[-1] == (13, 0)


def test_eta_is_the_pace_of_the_articles_written() -> None:
    from qa.types import IngestProgress

    assert IngestProgress(total=100, done=20, stored=20, seconds=40).eta() == 160.0
    assert IngestProgress(total=100, done=50, stored=10, seconds=20).eta() == 100.0  # 40 passed as stored already
    assert IngestProgress(total=100, done=30).eta() is None
    assert IngestProgress(total=100, done=20, stored=20, chunks=100, seconds=40).per_second() == (0.5, 2.5)


def test_a_stop_signal_during_a_write_takes_effect_after_it(pipeline: Pipeline, tmp_path, monkeypatch) -> None:
    """SIGTERM (or Ctrl-C) arriving while a batch is written to Chroma and the catalogue: the
    write completes, then ingest stops and says so; the store needs no recovery; a re-run resumes."""
    import qa.pipeline
    from qa.stopping import stop_on_signals

    monkeypatch.setattr(qa.pipeline, "FLUSH_CHUNKS", 3)  # writes of 3, 3, 3 and 1 articles
    path = _jsonl(tmp_path / "news.jsonl", 10)
    store = pipeline.store
    add_vectors = store._add_vectors
    writes = []

    def add_then_signal(*args, **kwargs):
        writes.append(1)
        if len(writes) == 2:  # in the middle of the second write: articles pending, vectors not yet in
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)  # the handler runs here, inside the write
        return add_vectors(*args, **kwargs)

    monkeypatch.setattr(store, "_add_vectors", add_then_signal)
    previous = signal.getsignal(signal.SIGTERM)
    with stop_on_signals():
        report = pipeline.ingest([path])
    assert signal.getsignal(signal.SIGTERM) is previous
    assert report.stopped == "SIGTERM" and len(writes) == 2
    assert report.stored == len(pipeline.articles()) == 6 and report.chunks == 6
    assert store.catalog.unfinished() == [] and store.problems() == []
    monkeypatch.setattr(store, "_add_vectors", add_vectors)
    again = pipeline.ingest([path])
    assert len(again.unchanged) == report.stored and len(again.added) == 10 - report.stored
    assert len(pipeline.articles()) == 10 and store.problems() == []


def test_a_stop_signal_outside_a_write_is_raised_at_once() -> None:
    from qa.stopping import Stopped, shielded, stop_on_signals

    with stop_on_signals():
        with pytest.raises(Stopped) as stopped:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
            pytest.fail("not stopped")
        assert stopped.value.exit_code == 130 and stopped.value.name == "SIGINT"
        reached = []
        with pytest.raises(Stopped):
            with shielded():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.1)
                reached.append("end of the section")
        assert reached == ["end of the section"]
    with shielded():  # without stop_on_signals a section changes nothing
        pass
