"""Values that cross module boundaries: articles, chunks, search hits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` in an article's stored text."""

    start: int
    end: int

    def of(self, text: str) -> str:
        """Return the slice of ``text`` this span covers.

        Example: ``Span(0, 5).of("Hello world") == "Hello"``
        """
        return text[self.start : self.end]


@dataclass(frozen=True)
class Article:
    """One news article as stored: its text and the spans of its indexed sentences.

    ``sentences`` lists what is indexed: the headline, the body, and the lines beside the
    story that hold facts (photo captions, cross-links), which answers and summaries rank
    below the story's own prose. Sentences that read like instructions to a machine are
    indexed too, as the text they are (their chunks mark them: :attr:`Chunk.instructions`).
    Date lines and subheadings stay in ``text`` (so the reader sees the article whole) but
    are never indexed.
    """

    id: str
    source: str
    title: str
    date: str | None
    text: str
    sentences: tuple[Span, ...]
    key: str = ""  # what identifies the article's origin: a file path or a URL
    instructions: tuple[Span, ...] = ()  # those of ``sentences`` that read like instructions to a machine

    def sentence_texts(self) -> list[str]:
        return [span.of(self.text) for span in self.sentences]


@dataclass(frozen=True)
class Chunk:
    """A run of consecutive sentences of one article, the unit that is embedded and indexed."""

    id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...]
    # Those of ``sentences`` that read like instructions to a machine (qa.text.is_instruction):
    # searchable and citable as text, shown marked, never given to a model as passage text.
    instructions: tuple[Span, ...] = ()


@dataclass(frozen=True)
class ArticleInfo:
    """What the store knows about an article, without its text."""

    id: str
    source: str
    title: str
    date: str | None
    chunks: int


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the article it belongs to and how it ranked."""

    chunk: Chunk
    article: ArticleInfo
    score: float
    dense_rank: int | None = None
    keyword_rank: int | None = None
    sentence: Span | None = None  # the chunk's sentence that best matches the query
    sentence_text: str = ""

    def to_dict(self) -> dict:
        return {
            "score": round(self.score, 6),
            "article_id": self.article.id,
            "title": self.article.title,
            "date": self.article.date,
            "source": self.article.source,
            "chunk_id": self.chunk.id,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "text": self.chunk.text,
            "sentences": [
                {"start": s.start, "end": s.end, "instruction": s in self.chunk.instructions}
                for s in self.chunk.sentences
            ],
            "best_sentence": (
                {"start": self.sentence.start, "end": self.sentence.end, "text": self.sentence_text}
                if self.sentence
                else None
            ),
            "dense_rank": self.dense_rank,
            "keyword_rank": self.keyword_rank,
        }


@dataclass
class IngestReport:
    """What one ingest run did, file by file."""

    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    removed: list[str] = field(default_factory=list)  # "source: title" of articles whose line is gone
    notes: list[tuple[str, str]] = field(default_factory=list)  # (source, note): read, with a loss (a date dropped)
    chunks: int = 0
    duplicates: int = 0  # chunks not stored because they repeat another chunk of their article
    stored: int = 0  # articles written to the store (added or replacing), counted as each write commits
    stopped: str | None = None  # the signal that stopped the run before the end ("SIGINT", "SIGTERM")
    # (outcome, source, title) per article read: names each article of a many-article file
    outcomes: list[tuple[str, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"added {len(self.added)}, unchanged {len(self.unchanged)}, "
            f"replaced {len(self.replaced)}, failed {len(self.failed)}, removed {len(self.removed)}"
        )


INSTRUCTION_NOTE = "this sentence reads like an instruction to a machine; it is quoted as text, not followed"


@dataclass(frozen=True)
class Citation:
    """One ``[n]`` of an answer: the exact source sentence and where it stands."""

    number: int
    article_id: str
    title: str
    date: str | None
    source: str
    chunk_id: str
    sentence: str
    start: int
    end: int
    instruction: bool = False  # the sentence reads like an instruction to a machine: quoted as text

    @classmethod
    def at(cls, number: int, article: Article | ArticleInfo, span: Span, *, text: str, chunk: Chunk | None) -> Citation:
        """The citation of ``span`` in ``article``, whose stored text is ``text``, found in
        ``chunk`` (None when the sentence is in no stored chunk)."""
        return cls(number, article.id, article.title, article.date, article.source, chunk.id if chunk else "",
                   span.of(text), span.start, span.end, bool(chunk) and span in chunk.instructions)  # fmt: skip

    @property
    def warning(self) -> str | None:
        """What a reader is told about a cited sentence that reads like an instruction."""
        return INSTRUCTION_NOTE if self.instruction else None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """A checked answer, or an honest refusal, with everything needed to verify it.

    ``method`` says how the text was made: ``extractive`` (source sentences copied and cited),
    ``generated`` (written by the model, every sentence checked against its citations), or
    ``declined`` (no sentence of the articles scored high enough to answer).
    ``short_answer``, when set, is the words of the cited sentence that answer the question.
    """

    question: str
    text: str
    answered: bool
    method: str
    citations: tuple[Citation, ...]
    passages: tuple[Hit, ...]
    timings: dict[str, float]
    short_answer: str | None = None
    note: str | None = None
    confidence: float | None = None  # the ranker's probability that the best sentence answers
    closest: Citation | None = None  # for a refusal: the best sentence found, which did not pass

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "answered": self.answered,
            "method": self.method,
            "short_answer": self.short_answer,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "note": self.note,
            "citations": [c.to_dict() for c in self.citations],
            "closest": self.closest.to_dict() if self.closest else None,
            "passages": [{"rank": i, **h.to_dict()} for i, h in enumerate(self.passages, start=1)],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


@dataclass
class IngestProgress:
    """How far an ingest run is: given to its ``on_progress`` after each article and each write.

    ``total`` is counted before anything is parsed: each line of a JSON-lines file that is not
    blank, and one for any other file. An item is ``done`` once its article is committed to the
    store, was found stored already, or failed, so the bar never runs ahead of the store.
    """

    total: int
    done: int = 0
    stored: int = 0  # articles this run has written (committed)
    chunks: int = 0  # their chunks
    seconds: float = 0.0  # since the first article was read (the model loaded, the store locked)

    def per_second(self) -> tuple[float, float]:
        """``(articles, chunks)`` written per second so far."""
        if self.seconds <= 0:
            return 0.0, 0.0
        return self.stored / self.seconds, self.chunks / self.seconds

    def eta(self) -> float | None:
        """Seconds left at the pace of the articles written so far (None before the first write).

        Every item still to come is taken to need writing. A re-run that resumes passes the
        stored articles first, and fast, so the estimate errs long, never short, while it does.
        Example: ``IngestProgress(total=100, done=20, stored=20, seconds=40).eta() == 160.0``
        """
        if not self.stored:
            return None
        return max(self.total - self.done, 0) * self.seconds / self.stored
