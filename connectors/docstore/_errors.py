"""Errors of the retrieval plugin; all derive from :class:`sapient.SapientError`."""

from __future__ import annotations

from pathlib import Path

from sapient.core.errors import SapientError

__all__ = [
    "RetrievalError",
    "IndexNotFoundError",
    "IndexCorruptError",
    "IndexFormatError",
    "IndexConflictError",
    "EmbedderMismatchError",
    "FilterError",
]


class RetrievalError(SapientError):
    """Something went wrong building, saving, loading or searching a document index.

    Attributes:
        path: the index folder concerned, when there is one.
    """

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None


class IndexNotFoundError(RetrievalError):
    """No index exists at the given folder yet."""


class IndexCorruptError(RetrievalError):
    """An index file is damaged: a checksum, a size or a count does not match the manifest.

    Nothing from a damaged index is used; the message says which file is at fault.
    """


class IndexConflictError(RetrievalError):
    """Another process saved the index after this one loaded it; saving would lose its
    changes, so nothing was saved."""


class IndexFormatError(RetrievalError):
    """The folder holds something that is not a Sapient index, or a newer format version."""


class EmbedderMismatchError(RetrievalError):
    """The index was built with another embedding model than the one given to open it."""


class FilterError(RetrievalError):
    """A metadata filter is malformed (unknown operator, wrong value type)."""
