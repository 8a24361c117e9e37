"""Settings: flag > QA_* variable > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import InputError
from qa.settings import Settings


def test_environment_then_overrides() -> None:
    env = {"QA_K": "3", "QA_DATA_DIR": "/tmp/x", "QA_CHROMA_URL": "http://127.0.0.1:9", "QA_DEBUG": "yes"}
    settings = Settings.from_env(env)
    assert (settings.k, settings.data_dir, settings.chroma_url, settings.debug) == (
        3,
        Path("/tmp/x"),
        "http://127.0.0.1:9",
        True,
    )
    assert Settings.from_env(env, k=7, chroma_url=None).k == 7
    assert Settings.from_env(env, chroma_url=None).chroma_url == "http://127.0.0.1:9"


def test_defaults_and_empty_variables() -> None:
    settings = Settings.from_env({"QA_K": ""})
    assert settings.k == 5 and settings.chroma_url is None and settings.chunk_words == 80


@pytest.mark.parametrize("name, value", [("QA_K", "five"), ("QA_MAX_FILE_MB", "big"), ("QA_DEBUG", "maybe")])
def test_bad_values_are_input_errors(name, value) -> None:
    with pytest.raises(InputError, match=name):
        Settings.from_env({name: value})


def test_every_field_is_described() -> None:
    rows = Settings.describe()
    assert all(help_text for _, _, help_text in rows)
    assert ("QA_K", "5") == rows[[r[0] for r in rows].index("QA_K")][:2]


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("QA_ANSWER_MODE", "foo", "is not one of auto, extractive, generative"),
        ("QA_K", "-3", "must be at least 1"),
        ("QA_N_CTX", "lots", "is not a valid int"),
        ("QA_CANDIDATES", "0", "must be at least 1"),
        ("QA_LOCK_TIMEOUT", "nan", "must be at least 0"),
    ],
)
def test_a_bad_setting_stops_the_cli_with_one_line_naming_it(name, value, says, monkeypatch, capsys) -> None:
    from qa import cli

    monkeypatch.setenv(name, value)
    with pytest.raises(InputError, match=f"^{name}="):
        Settings.from_env()
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"qa: error: {name}=") and says in err
