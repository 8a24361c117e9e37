"""Summaries: what a reader of the seeds must learn, every sentence checked, resumable batches."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from qa.cite import support
from qa.pipeline import Pipeline
from qa.summarize import Summary, select, summary_length
from tests.conftest import ROOT, SEEDS


def assert_verified(summary: Summary, pipeline: Pipeline) -> None:
    """Each sentence has citations; each citation slices its article exactly and supports it."""
    assert summary.sentences
    for sentence in summary.sentences:
        assert sentence.citations
        for c in sentence.citations:
            text = pipeline.article(c.article_id).text
            assert text[c.start : c.end] == c.sentence
        cited = " ".join(c.sentence for c in sentence.citations)
        assert support(sentence.text, cited).supported


def joined(*summaries: Summary) -> str:
    return " ".join(s.text for s in summaries).lower()


@pytest.mark.slow
def test_seed_summaries_carry_what_a_reader_must_know(seeded: Pipeline) -> None:
    report = seeded.summarize()
    assert report.computed == 2 and len(report.summaries) == 2
    for summary in report.summaries:
        assert 3 <= len(summary.sentences) <= 5
        assert_verified(summary, seeded)
    text = joined(*report.summaries)
    assert "assad had left the country" in text or "assad has reportedly fled the country" in text
    assert "entering damascus" in text or "advanced into the capital" in text  # the rebels entered Damascus
    assert any(word in text for word in ("swift", "lightning-fast", "rapid"))  # the offensive's speed
    assert "hayat tahrir" in text or "(hts)" in text  # who led it


@pytest.mark.slow
def test_digest_shows_agreement_and_single_sources(seeded: Pipeline) -> None:
    digest = seeded.digest()
    assert_verified(digest, seeded)
    sections = [s.section for s in digest.sentences]
    assert sections[0] == "main" and "agree" in sections and "single" in sections
    assert sections == sorted(sections, key=["main", "agree", "single"].index)
    for s in digest.sentences:
        if s.section == "agree":
            assert len({c.article_id for c in s.citations}) == 2
            for c in s.citations:  # each source backs the words on its own
                assert support(s.text, c.sentence).supported
    singles = {s.citations[0].article_id for s in digest.sentences if s.section == "single"}
    assert singles == {a.id for a in seeded.articles()}
    markdown = digest.to_markdown()
    assert "### The sources agree" in markdown and "(only in: " in markdown


@pytest.mark.slow
def test_an_interrupted_batch_resumes_without_redoing_work(seeded: Pipeline) -> None:
    ids = [a.id for a in seeded.articles()]

    def crash_after_first(article_id: str, computed: bool) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        seeded.summarize(ids, on_article=crash_after_first)
    report = seeded.summarize(ids)
    assert (report.computed, report.reused) == (1, 1)
    again = seeded.summarize(ids)
    assert (again.computed, again.reused) == (0, 2)
    assert [s.to_dict() for s in again.summaries] == [s.to_dict() for s in report.summaries]


@pytest.mark.slow
def test_a_long_article_is_summarised_map_reduce(pipeline: Pipeline, tmp_path) -> None:
    lines = [f"Report {i}: the council of district {i} voted on budget item {i} on Monday." for i in range(120)]
    lines[3] = "The Northern Alliance (NA) took the city of Marib after a week of fighting."
    lines[70] = "The NA said it would hold Marib until talks began."
    (tmp_path / "long.txt").write_text("Long day of votes\n\n" + "\n\n".join(lines))
    pipeline.ingest([tmp_path / "long.txt"])
    [summary] = pipeline.summarize().summaries
    assert len(summary.sentences) == 5
    assert_verified(summary, pipeline)
    assert "Northern Alliance (NA)" in summary.text  # the actor, met where it is introduced


@pytest.mark.slow
def test_the_cli_writes_jsonl_and_markdown(tmp_path) -> None:
    data = tmp_path / "data"
    run = [sys.executable, "-m", "qa"]
    subprocess.run([*run, "ingest", str(SEEDS), "--quiet", "--data-dir", str(data)], check=True, cwd=ROOT)
    out = tmp_path / "out" / "summaries.jsonl"
    done = subprocess.run(
        [*run, "summarize", "--all", "--digest", "--out", str(out), "--data-dir", str(data)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["kind"] for r in records] == ["article", "article", "digest"]
    assert not list(out.parent.glob(".*.part"))  # written atomically: no partial file left
    md = tmp_path / "s.md"
    again = subprocess.run(
        [*run, "summarize", "--all", "--out", str(md), "--data-dir", str(data)], capture_output=True, text=True
    )
    assert again.returncode == 0 and "reused 2 stored" in again.stderr and md.read_text().startswith("## ")
    bad = subprocess.run([*run, "summarize", "--data-dir", str(data)], capture_output=True, text=True)
    assert bad.returncode == 2 and "--all" in bad.stderr and "Traceback" not in bad.stderr
    wrong = subprocess.run(
        [*run, "summarize", "--all", "--out", str(tmp_path / "x.txt"), "--data-dir", str(data)],
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 2 and ".jsonl or .md" in wrong.stderr


def test_summary_length() -> None:
    assert [summary_length(n) for n in (1, 2, 10, 18, 40, 400)] == [1, 2, 3, 4, 5, 5]


def test_select_by_hand() -> None:
    rows = np.array([[1.0, 0.0], [1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    # centroid (0.868, 0.496): row 2 is closest (0.99); then rows 0/1 score 0.868 - 0.5 * 0.8
    # = 0.468 against row 3's 0.496 - 0.5 * 0.6 = 0.196, and row 0 wins the tie by order.
    assert select(rows, 2, lead_weight=0.0) == [2, 0]
    # A name not yet covered tips the balance: row 3 gains 0.6 * 1/1 = 0.6 (1.096 > 0.99);
    # then row 2 (0.99 - 0.5 * 0.6 = 0.69) loses to row 0 (0.868 - 0.5 * 0 = 0.868).
    assert select(rows, 2, lead_weight=0.0, names=[{}, {}, {}, {"HTS": 1.0}]) == [3, 0]
