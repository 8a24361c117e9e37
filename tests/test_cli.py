"""The command line as a person runs it: a real process, real exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SEED_000, SEEDS

pytestmark = pytest.mark.slow


def qa(*args: str, data_dir, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "QA_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout
    )


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, words: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr


def test_ingest_search_list_remove(tmp_path) -> None:
    data = tmp_path / "data"
    first = qa("ingest", str(SEEDS), data_dir=data)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("added 2, unchanged 0, replaced 0, failed 0")
    again = qa("ingest", str(SEEDS), "--quiet", data_dir=data)
    assert again.returncode == 0 and again.stdout.startswith("added 0, unchanged 2, replaced 0, failed 0")

    found = qa("search", "Sednaya prison", "--k", "2", "--json", data_dir=data)
    assert found.returncode == 0, found.stderr
    payload = json.loads(found.stdout)
    assert len(payload["hits"]) == 2
    top = payload["hits"][0]
    text = SEED_000.read_text(encoding="utf-8")
    sentence = top["best_sentence"]
    assert text[sentence["start"] : sentence["end"]] == sentence["text"]
    assert sentence["text"].startswith("Early on Sunday, the rebel forces took over the Sednaya prison")

    listing = qa("list", "--json", data_dir=data)
    rows = json.loads(listing.stdout)
    assert {r["date"] for r in rows} == {"2024-12-08", None} and all(r["chunks"] > 0 for r in rows)

    shown = qa("show", top["article_id"][:6], "--json", data_dir=data)
    assert json.loads(shown.stdout)["text"] == text

    removed = qa("remove", top["article_id"], data_dir=data)
    assert removed.returncode == 0 and removed.stdout.startswith(f"removed {top['article_id']}")
    assert len(json.loads(qa("list", "--json", data_dir=data).stdout)) == 1


def test_a_bad_file_is_reported_and_the_rest_ingested(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text("Rebels take Aleppo\n\nRebels took Aleppo on Friday.")
    (folder / "bad.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (folder / "wide.txt").write_text("Rebels take Homs\n\nRebels took Homs on Saturday.", encoding="utf-16")
    result = qa("ingest", str(folder), "--quiet", data_dir=tmp_path / "data")
    assert result.returncode == 2
    assert "failed: in/bad.txt: binary file, not text" in result.stderr
    assert result.stdout.startswith("added 2, unchanged 0, replaced 0, failed 1")  # UTF-16 is read
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["search", "anything"], 2, "no articles yet"),
        (["ask", "Who fled?"], 2, "no articles yet"),
        (["ask", "a\x02b"], 2, "control characters"),
        (["remove", "deadbeef"], 2, "no article with id 'deadbeef'"),
        (["search", "   "], 2, "the question is empty"),
        (["search", "x" * 5000], 2, "the limit is 2,000"),
        (["search", "a\x01b"], 2, "control characters"),
        (["frobnicate"], 2, "invalid choice"),
        (["search", "q", "--k", "many"], 2, "invalid int value"),
        (["search", "q", "--since", "last week"], 2, "not an ISO date (YYYY-MM-DD"),
        (["search", "q", "--since", "2024-12-08garbage"], 2, "'2024-12-08garbage' is not an ISO date"),
        (["ask", "q", "--until", "2024-12-08garbage"], 2, "'2024-12-08garbage' is not an ISO date"),
        # a bad flag value is named by the flag the user typed, not by its environment variable
        (["ask", "q", "--threshold", "1.5"], 2, "--threshold=1.5 is not between 0 and 1"),
        (["search", "q", "--k", "0"], 2, "--k=0 is too small"),
        (["remove", "abc"], 2, "ids are 4 to 16 lower-case hex characters"),
        (["show", "B86F2FD3"], 2, "ids are 4 to 16 lower-case hex characters"),
        (["search", "q", "--article", "b8"], 2, "ids are 4 to 16 lower-case hex characters"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(tmp_path, args, code, words) -> None:
    if args[0] == "search" and args[1:] and args[1] in ("q",):
        assert qa("ingest", str(SEEDS), "--quiet", data_dir=tmp_path / "data").returncode == 0
    assert_one_line_error(qa(*args, data_dir=tmp_path / "data"), code, words)


def test_a_bad_variable_is_not_blamed_on_a_good_flag(tmp_path, monkeypatch) -> None:
    assert qa("ingest", str(SEEDS), "--quiet", data_dir=tmp_path / "data").returncode == 0
    monkeypatch.setenv("QA_K", "abc")  # a bad variable for the very setting the flag gives
    result = qa("search", "rebels", "--k", "2", data_dir=tmp_path / "data")
    assert_one_line_error(result, 2, "QA_K='abc' is not a valid int")


def test_an_unreadable_data_dir_is_one_line_exit_1(tmp_path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    result = qa("list", data_dir=blocker)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_output_cannot_drive_the_terminal_and_json_stays_exact() -> None:
    from qa.cli import inert

    hostile = "Title\x1b]0;pwned\x07 \x1b[8mhidden\x9b2J\u202eevil\ud800 caf\u00e9\n\tok"
    shown = inert(hostile)
    assert not any(ord(ch) < 32 and ch not in "\n\t" or 0x7F <= ord(ch) <= 0x9F for ch in shown)
    assert "\u202e" not in shown and "\\u001b]0;pwned" in shown and "caf\u00e9\n\tok" in shown
    payload = {"title": hostile}
    assert json.loads(inert(json.dumps(payload, ensure_ascii=False))) == payload


def test_hostile_files_in_one_batch(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "esc.txt").write_text("Evil \x1b]0;pwned\x07 title\n\nThe \x1b[31mred\x1b[0m text is here.\n")
    (folder / "bulk.jsonl").write_text('{"text": "Fine article. It stays."}\n' + "[" * 100_000 + "\n")
    result = qa("ingest", str(folder), "--quiet", data_dir=tmp_path / "data")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "failed: in/bulk.jsonl:2:" in result.stderr
    assert result.stdout.startswith("added 2, unchanged 0, replaced 0, failed 1")
    listed = qa("list", data_dir=tmp_path / "data").stdout
    assert "\x1b" not in listed and "Evil ]0;pwned title" in listed


def test_reingesting_a_changed_jsonl_file(tmp_path) -> None:
    data = tmp_path / "data"
    path = tmp_path / "bulk.jsonl"
    records = [
        {"title": "Bridge reopens", "text": "The old bridge in Hama reopened on Monday."},
        {"title": "Port closes", "text": "The port of Tartus closed on Tuesday.", "id": "port"},
        {"title": "Mayor resigns", "text": "The mayor of Idlib resigned on Wednesday."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert qa("ingest", str(path), "--quiet", data_dir=data).stdout.startswith("added 3,")
    # a line inserted at the top, one deleted: the others stay as they were, the deleted one goes
    edited = [{"title": "Market opens", "text": "A new market opened in Homs on Thursday."}, records[1], records[2]]
    path.write_text("".join(json.dumps(r) + "\n" for r in edited))
    result = qa("ingest", str(path), data_dir=data)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("added 1, unchanged 2, replaced 0, failed 0, removed 1")
    assert "removed: bulk.jsonl: Bridge reopens" in result.stderr
    listed = json.loads(qa("list", "--json", data_dir=data).stdout)
    assert sorted(r["title"] for r in listed) == ["Market opens", "Mayor resigns", "Port closes"]
    assert {r["source"] for r in listed} == {"bulk.jsonl", "bulk.jsonl#port"}
    # a line that turns bad removes nothing: what was stored is kept until the file reads cleanly
    path.write_text(path.read_text().replace(json.dumps(records[2]), "{broken"))
    result = qa("ingest", str(path), "--quiet", data_dir=data)
    assert result.returncode == 2 and "failed: bulk.jsonl:3: not valid JSON" in result.stderr
    assert result.stdout.startswith("added 0, unchanged 2, replaced 0, failed 1, removed 0")
    assert len(json.loads(qa("list", "--json", data_dir=data).stdout)) == 3


def test_nothing_to_read_is_said_without_loading_a_model(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path / "data"), "QA_EMBED_MODEL": str(tmp_path / "no-model")}
    result = subprocess.run([sys.executable, "-m", "qa", "ingest", str(tmp_path / "nope"), str(tmp_path / "empty")],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"failed: {tmp_path / 'nope'}: no such file or folder" in result.stderr
    assert f"failed: {tmp_path / 'empty'}: no article files" in result.stderr
    assert "embedding model" not in result.stderr  # it would have failed to load: it was never asked for
    assert result.stdout.startswith("added 0, unchanged 0, replaced 0, failed 2, removed 0")
