"""Reading files into text sections and splitting them into chunks.

Supported files: ``.txt``/``.text``/``.rst`` (plain), ``.md``/``.markdown``
(markdown-aware: split on headings first, the heading path kept as ``section``
metadata), ``.html``/``.htm`` (BeautifulSoup, scripts and styles dropped, the page
title kept as ``title``) and ``.pdf`` (pypdf, one section per page with ``page``
metadata). Splitting uses ``langchain-text-splitters``.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sapient.connectors.docstore import RetrievalError

__all__ = ["Section", "Chunker", "SUPPORTED_SUFFIXES", "iter_files", "read_file", "text_hash"]

log = logging.getLogger("sapient.retrieval")

SUPPORTED_SUFFIXES = {".txt": "text", ".text": "text", ".rst": "text", ".md": "markdown",
                      ".markdown": "markdown", ".html": "html", ".htm": "html", ".pdf": "pdf"}


def text_hash(text: str) -> str:
    """Content hash of the text that gets embedded (decides whether to re-embed)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass
class Section:
    """A piece of a document before splitting (a whole text file, a PDF page)."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    markdown: bool = False


def iter_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, Path]]:
    """Yield (file, root) for every supported file under the given files/folders.

    Hidden files and folders are skipped. A named file with an unsupported suffix or a
    missing path raises, so a typo is never silently ignored.
    """
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            raise RetrievalError(f"No such file or folder: {str(raw)!r}. Check the path.")
        if p.is_file():
            if p.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise RetrievalError(
                    f"Cannot ingest {str(raw)!r}: unsupported file type '{p.suffix}'. "
                    f"Supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}."
                )
            yield p.resolve(), p.resolve().parent
            continue
        root = p.resolve()
        for f in sorted(root.rglob("*")):
            rel = f.relative_to(root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES:
                yield f, root


def _read_html(path: Path) -> Section:
    from bs4 import BeautifulSoup

    data = path.read_bytes()
    _refuse_binary(data, repr(str(path)))
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()
    lines = [ln.strip() for ln in soup.get_text("\n").splitlines()]
    text = "\n".join(ln for ln in lines if ln).replace("\x00", "")
    meta = {"title": title} if title else {}
    return Section(text, meta)


def _read_pdf(path: Path) -> list[Section]:
    try:
        from pypdf import PdfReader
    except ImportError as exc:  # pragma: no cover
        raise RetrievalError("Reading PDF files needs pypdf: pip install 'sapient[retrieval]'"
                             ) from exc
    try:
        reader = PdfReader(str(path))
        sections = [Section(page.extract_text() or "", {"page": i + 1})
                    for i, page in enumerate(reader.pages)]
    except Exception as exc:  # pypdf raises many types on damaged files
        raise RetrievalError(f"Cannot read PDF {str(path)!r} ({type(exc).__name__}: {exc}); "
                             "check that it opens in a PDF viewer.", path=path) from exc
    if not any(s.text.strip() for s in sections):
        raise RetrievalError(
            f"PDF {str(path)!r} has no text layer ({len(sections)} page(s) of images or "
            "nothing); run OCR on it first (e.g. ocrmypdf) or leave it out.", path=path)
    return sections


def _refuse_binary(data: bytes, name: str) -> None:
    if b"\x00" in data and not data.startswith(tuple(bom for bom, _ in _BOMS)):
        raise RetrievalError(f"{name} looks like a binary file, not text (it contains NUL "
                             "bytes); convert it to text or leave it out.")


_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
         (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def decode_text(data: bytes, name: str) -> str:
    """The text of a file's bytes, refusing binary data.

    A byte-order mark names the encoding. Without one, a NUL byte means binary (the
    rule git and grep use). Otherwise UTF-8; when some bytes are not valid UTF-8, the
    file is still read as UTF-8 (bad bytes become U+FFFD, with a warning) if at least
    as many of its non-ASCII characters decode as fail, and as windows-1252 (what the WHATWG
    encoding standard reads for "latin-1") when most fail: a legacy 8-bit file.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace").replace("\x00", "")
    _refuse_binary(data, name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    if good and good >= bad:
        log.warning("%s: %d byte sequence(s) are not valid UTF-8 and were replaced by "
                    "U+FFFD; the rest was read as UTF-8.", name, bad)
        return text
    return data.decode("cp1252", errors="replace")


def read_file(path: Path) -> list[Section]:
    """Read one supported file into sections (one for text formats, one per PDF page)."""
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind == "pdf":
        return _read_pdf(path)
    sections = [_read_html(path)] if kind == "html" else [
        Section(decode_text(path.read_bytes(), repr(str(path))), {}, markdown=kind == "markdown")]
    if not sections[0].text.strip():
        raise RetrievalError(f"{str(path)!r} is empty: there is no text to index.", path=path)
    return sections


class Chunker:
    """Split sections into chunks with langchain-text-splitters.

    Markdown is first cut at headings (``#`` to ``###``) with
    ``MarkdownHeaderTextSplitter`` (headings kept in the text, their path stored as
    ``section``), then every piece goes through ``RecursiveCharacterTextSplitter``
    (paragraphs, lines, sentences, words). Sizes are in characters; the default 800
    fits all-MiniLM-L6-v2's 256-token window for English prose.
    """

    def __init__(self, chunk_size: int = 800, chunk_overlap: int = 100) -> None:
        if chunk_size < 50:
            raise RetrievalError(f"chunk_size must be at least 50 characters, got {chunk_size}.")
        if not 0 <= chunk_overlap < chunk_size:
            raise RetrievalError(
                f"chunk_overlap must be between 0 and chunk_size ({chunk_size}), "
                f"got {chunk_overlap}."
            )
        self.chunk_size, self.chunk_overlap = chunk_size, chunk_overlap
        self._splitters: tuple[Any, Any] | None = None

    def _built(self) -> tuple[Any, Any]:
        """The (markdown, recursive) splitters, built on first use: opening an index
        to search it does not import the splitting library."""
        if self._splitters is None:
            from langchain_text_splitters import (
                MarkdownHeaderTextSplitter,
                RecursiveCharacterTextSplitter,
            )

            recursive = RecursiveCharacterTextSplitter(
                chunk_size=self.chunk_size, chunk_overlap=self.chunk_overlap,
                separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
                keep_separator="end",
            )
            markdown = MarkdownHeaderTextSplitter(
                headers_to_split_on=[("#", "h1"), ("##", "h2"), ("###", "h3")],
                strip_headers=False,
            )
            self._splitters = (markdown, recursive)
        return self._splitters

    @property
    def config(self) -> dict[str, Any]:
        return {"chunk_size": self.chunk_size, "chunk_overlap": self.chunk_overlap}

    def split(self, section: Section) -> list[tuple[str, dict[str, Any]]]:
        """(text, metadata) chunks of one section, empty ones dropped."""
        markdown, recursive = self._built()
        pieces: list[tuple[str, dict[str, Any]]] = []
        if section.markdown:
            for doc in markdown.split_text(section.text):
                heads = [doc.metadata[h] for h in ("h1", "h2", "h3") if h in doc.metadata]
                meta = dict(section.metadata)
                if heads:
                    meta["section"] = " > ".join(heads)
                pieces.append((doc.page_content, meta))
        else:
            pieces.append((section.text, dict(section.metadata)))
        out: list[tuple[str, dict[str, Any]]] = []
        for text, meta in pieces:
            for chunk in recursive.split_text(text):
                chunk = chunk.strip()
                if chunk:
                    out.append((chunk, dict(meta)))
        return out
