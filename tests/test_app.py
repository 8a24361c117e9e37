"""The web UI through real clients: Gradio's API client, and a headless Chromium."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3

import pytest

from qa.errors import InputError
from qa.types import Answer, Citation
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow
QUESTION = "Which prison did the rebel forces take over?"


def message_text(message: dict) -> str:
    import app as web

    return web.message_text(message)


def test_gradio_client_gets_a_cited_answer_and_a_follow_up(served) -> None:
    from gradio_client import Client

    url, _ = served
    client = Client(url, verbose=False)
    history, sources, cleared = client.predict(QUESTION, [], api_name="/ask")
    last = message_text(history[-1])
    assert cleared == "" and "Sednaya prison" in last and "[1]" in last
    assert "<mark>Early on Sunday, the rebel forces took over the Sednaya prison" in sources
    history, sources, _ = client.predict("When did they take it?", history, api_name="/ask")
    last = message_text(history[-1])
    assert "Read as a follow-up" in last
    # read in context, the follow-up finds the sentence that says when: as the answer, or as the
    # closest passage shown with a refusal when it scores under the threshold
    assert "free all the prisoners" in last + sources
    history, sources, _ = client.predict("What did Vladimir Putin say about Assad?", history, api_name="/ask")
    assert "The articles don't say" in message_text(history[-1]) and 'class="qa-declined"' in sources


def test_uploads_report_each_file(served, tmp_path) -> None:
    from gradio_client import Client, handle_file

    url, pipeline = served
    good = tmp_path / "aleppo.md"
    good.write_text("# Rebels hold Aleppo\n\nRebels said they held Aleppo on Friday.")
    bad = tmp_path / "scan.txt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    same = tmp_path / SEEDS.joinpath("000_a82d1c47b728eca4.txt").name
    shutil.copy(SEEDS / same.name, same)
    client = Client(url, verbose=False)
    report, rows = client.predict([handle_file(str(p)) for p in (good, bad, same)], api_name="/add")
    assert "aleppo.md</td><td>added" in report
    assert "scan.txt</td><td>refused</td><td>binary file" in report
    assert f"{same.name}</td><td>unchanged" in report
    assert len(pipeline.articles()) == 3


def test_an_upload_shows_progress_in_articles(pipeline, tmp_path) -> None:
    """Issue 11, item 5, in the UI: adding a JSON-lines file reports articles done of the
    articles counted, as they are committed, with the chunks per second."""
    import app as web

    path = tmp_path / "news.jsonl"
    lines = [json.dumps({"url": f"u{i}", "text": f"Report {i}. The council met on day {i}."}) for i in range(5)]
    path.write_text("\n".join(lines) + "\n")
    ui = web.create_app(pipeline)
    upload = next(f.fn for f in ui.fns.values() if f.api_name == "add")
    shown = []
    report, _ = upload([str(path)], progress=lambda done, desc, unit: shown.append((done, desc, unit)))
    assert "<td>u4</td><td>added" in report and len(pipeline.articles()) == 5
    assert shown[0][0] == (0, 5) and shown[-1][0] == (5, 5) and {unit for *_, unit in shown} == {"articles"}
    assert all(desc.startswith("news.jsonl: ") and "chunks/s" in desc for _, desc, _ in shown)


def test_rendering_is_inert() -> None:
    """Article text and model output never become markup: scripts, handlers, remote images."""
    import app as web

    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)> ![x](http://evil.test/x.png)"
    citation = Citation(1, "a", f"T {hostile}", None, "s.txt", "a-0000", hostile, 0, len(hostile))
    answer = Answer("q", f"{hostile} [1]", True, "extractive", (citation,), (), {})

    class Store:
        def article(self, _):
            return type("A", (), {"text": hostile})()

    html = web.render_sources(answer, Store())
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert "![x]" in web.answer_message(answer)  # plain text in a chat that renders no Markdown


@pytest.mark.parametrize("streams", [False, True])
@pytest.mark.parametrize(
    "error, user_sees, level",
    [
        (InputError("no article with id 'abcd'; see 'qa list'"), "no article with id 'abcd'; see 'qa list'", "INFO"),
        (AssertionError("article is not None"), "Something went wrong (error ", "ERROR"),
        (sqlite3.OperationalError("cannot start a transaction within a transaction"), "Something went wrong", "ERROR"),
    ],
)
def test_every_handler_error_is_one_line_for_the_user_and_the_detail_in_the_log(
    error, user_sees, level, streams, caplog
) -> None:
    import gradio as gr

    import app as web

    def handler():
        raise error

    def streaming():
        yield "partial"
        raise error

    wrapped = web.maps_errors(streaming if streams else handler)
    caplog.set_level(logging.INFO, logger="qa.app")
    with pytest.raises(gr.Error) as raised:
        list(wrapped()) if streams else wrapped()
    shown = raised.value.message
    assert shown.startswith(user_sees) and "\n" not in shown and "Traceback" not in shown
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    [record] = caplog.records
    assert record.levelname == level
    if level == "INFO":
        assert record.getMessage().endswith(str(error)) and record.exc_info is None
    else:
        error_id = shown.split("error ")[1].split(")")[0]
        assert error_id in record.getMessage() and record.exc_info[1] is error  # the traceback, in the log only


def test_every_event_of_the_app_maps_its_errors_and_store_changes_share_one_queue() -> None:
    import app as web

    class NoArticles:
        def articles(self):
            return []

    ui = web.create_app(NoArticles())
    handlers = [f for f in ui.fns.values() if f.fn is not None]
    assert len(handlers) >= 7 and all(getattr(f.fn, "maps_errors", False) for f in handlers), handlers
    queue = {f.api_name: f.concurrency_id for f in handlers}
    changing = {name: queue[name] for name in ("add", "summarize", "digest")}
    assert len(set(changing.values())) == 1 and "ask" not in changing, changing
    assert queue["ask"] != changing["add"]


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        if os.environ.get("CI") == "true":  # CI claims a browser test: missing Chromium fails it
            pytest.fail("CI=true but no chromium and chromedriver: the browser test cannot run")
        pytest.skip("no Chromium here; .ci/run installs Debian's chromium and chromium-driver")
    return browser, driver


@pytest.mark.parametrize("ci, outcome", [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_without_chromium_the_browser_test_fails_under_ci_and_skips_elsewhere(ci, outcome, monkeypatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome):
        _chromium()


def test_a_real_browser_asks_and_sees_the_highlighted_source(served, tmp_path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = _chromium()
    url, _ = served
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", f"--user-data-dir={tmp_path / 'profile'}",
                 "--window-size=1280,900"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 60)
        box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "textarea")))
        box.send_keys(QUESTION)
        driver.find_element(By.ID, "ask").click()
        mark = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#sources mark")))
        assert mark.text.startswith("Early on Sunday, the rebel forces took over the Sednaya prison")
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "[role=log], .bubble-wrap"), "Sednaya"))
        shot = tmp_path / "ui-answer.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
    finally:
        driver.quit()
