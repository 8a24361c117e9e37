"""Conversations of the web UI, kept in the data directory so that they survive a reload.

One JSON file per conversation under ``DATA_DIR/conversations/``: its id, title (the first
question), times, and its turns. A turn is what was asked and the checked answer as
:meth:`qa.types.Answer.to_dict` gives it, without the retrieved passages (the citations
are what a reader needs to check it). Files are written whole through a temporary file and a
rename, so a reader never sees half a conversation.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import InputError
from qa.types import Answer

_ID = re.compile(r"^[0-9a-f]{32}$")
TITLE_CHARS = 60


@dataclass
class Conversation:
    """A conversation: its turns are ``{"question": ..., "answer": Answer.to_dict() minus passages}``."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    title: str = ""
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    turns: list[dict] = field(default_factory=list)

    def add(self, question: str, answer: Answer) -> dict:
        """Record one question and its answer; the first question names the conversation."""
        record = answer.to_dict()
        record.pop("passages", None)
        turn = {"question": question, "answer": record}
        self.turns.append(turn)
        if not self.title:
            words = " ".join(question.split())
            self.title = words if len(words) <= TITLE_CHARS else words[: TITLE_CHARS - 1].rstrip() + "\u2026"
        self.updated = time.time()
        return turn

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "created": self.created, "updated": self.updated,
                "turns": self.turns}  # fmt: skip

    def to_markdown(self) -> str:
        """The conversation as Markdown: each question, its answer, and its sources with the cited sentence."""
        lines = [f"# {self.title or 'Conversation'}", ""]
        for number, turn in enumerate(self.turns, start=1):
            answer = turn["answer"]
            lines += [f"## {number}. {turn['question']}", ""]
            if answer.get("note"):
                lines += [f"_{answer['note']}_", ""]
            lines += [answer["answer"], ""]
            cited = answer["citations"] or ([answer["closest"]] if answer.get("closest") else [])
            if cited:
                lines += ["Sources:" if answer["citations"] else "Closest passage (not an answer):", ""]
            for c in cited:
                place = f"{c['source']}, {c['article_id']} chars {c['start']}-{c['end']}"
                where = f"{c['title']} ({c['date'] or 'no date'}, {place})"
                lines.append(f"- [{c['number']}] {where}: \u201c{' '.join(c['sentence'].split())}\u201d")
            lines.append("")
        return "\n".join(lines)


class Conversations:
    """The conversations of one data directory: list, load, save, delete."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _path(self, conversation_id: str) -> Path:
        if not _ID.match(conversation_id or ""):
            raise InputError(f"not a conversation id: {conversation_id!r}")
        return self.directory / f"{conversation_id}.json"

    def list(self) -> list[Conversation]:
        """Every stored conversation, the most recently updated first; unreadable files are passed over."""
        found = []
        for path in self.directory.glob("*.json"):
            try:
                found.append(self.load(path.stem))
            except InputError:
                continue
        return sorted(found, key=lambda c: c.updated, reverse=True)

    def load(self, conversation_id: str) -> Conversation:
        path = self._path(conversation_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Conversation(data["id"], data["title"], data["created"], data["updated"], list(data["turns"]))
        except FileNotFoundError:
            raise InputError("that conversation no longer exists") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"cannot read conversation {conversation_id}: {exc}") from None

    def save(self, conversation: Conversation) -> None:
        path = self._path(conversation.id)
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")  # unique per writer
        partial.write_text(json.dumps(conversation.to_dict(), ensure_ascii=False), encoding="utf-8")
        os.replace(partial, path)

    def delete(self, conversation_id: str) -> None:
        self._path(conversation_id).unlink(missing_ok=True)
