"""qa: answer questions about news articles from the articles alone, citing the source sentence."""

from qa.errors import InputError, ModelError, QAError, StoreError
from qa.pipeline import Pipeline
from qa.settings import Settings
from qa.types import Answer, Article, ArticleInfo, Chunk, Citation, Hit, IngestReport, Span

__all__ = [
    "Answer",
    "Article",
    "ArticleInfo",
    "Chunk",
    "Citation",
    "Hit",
    "IngestReport",
    "InputError",
    "ModelError",
    "Pipeline",
    "QAError",
    "Settings",
    "Span",
    "StoreError",
]
__version__ = "0.1.0"
