"""Ingest and search end to end: the real embedding model, a real Chroma directory, the seeds."""

from __future__ import annotations

import shutil

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
