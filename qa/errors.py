"""Exceptions the library raises; the CLI and the UI turn them into one-line messages."""

from __future__ import annotations


class QAError(Exception):
    """Base class for every error a person can act on."""

    exit_code = 1


class InputError(QAError):
    """Bad input from the user: a file, a question, an id, an option."""

    exit_code = 2


class ArticleError(InputError):
    """One article file that cannot be read; the rest of a batch goes on."""


class StoreError(QAError):
    """The store cannot be opened or written as asked."""


class ModelError(QAError):
    """A model cannot be found, verified or loaded."""
