"""``sapient ingest`` and ``sapient search``: build and query a named document index."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sapient.core.errors import SapientError

from . import _store

__all__ = ["configure_ingest", "run_ingest", "configure_search", "run_search"]


def _console(args: argparse.Namespace) -> Any:
    from rich.console import Console

    return Console(stderr=False, highlight=False, no_color=getattr(args, "no_color", False))


def _error(console: Any, message: object) -> None:
    """One line: the message is text, never markup (it may quote a file's content)."""
    console.print("[red]error:[/red] ", end="")
    console.print(str(message), markup=False, highlight=False)


def _resolver(host: Any, override: str | None) -> Any:
    def resolve(spec: str | None) -> Any:
        return host.embedder(override or spec)

    return resolve


def configure_ingest(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="files or folders to index (txt, md, html, pdf)")
    parser.add_argument("--index", default=None, metavar="NAME",
                        help="index name under SAPIENT_HOME/indexes (default: settings.index)")
    parser.add_argument("--embedder", default=None, metavar="SPEC",
                        help="embedding model for a new index, e.g. "
                             "sentence-transformers:all-MiniLM-L6-v2")
    parser.add_argument("--chunk-size", type=int, default=None, help="characters per chunk")
    parser.add_argument("--chunk-overlap", type=int, default=None,
                        help="characters shared by neighbouring chunks")
    parser.add_argument("--index-type", choices=("auto", "flat", "hnsw"), default=None,
                        help="FAISS index kind (auto: exact when small, HNSW when large)")
    parser.add_argument("--no-sync", action="store_true",
                        help="keep documents whose files disappeared from the given folders")
    parser.add_argument("--loader", default=None, metavar="CLASS",
                        help="read each file with a LangChain document loader, e.g. "
                             "langchain_community.document_loaders.CSVLoader")
    parser.add_argument("--loader-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword argument for the loader (repeatable; VALUE may be JSON)")


def run_ingest(args: argparse.Namespace, host: Any) -> int:
    from rich.table import Table
    from rich.text import Text

    from ._index import DocumentIndex

    console = _console(args)
    settings = host.settings
    name = args.index or settings.index
    path = settings.index_dir(name)
    options = {k: v for k, v in (("chunk_size", args.chunk_size),
                                 ("chunk_overlap", args.chunk_overlap),
                                 ("index_type", args.index_type)) if v is not None}
    try:
        # One writer at a time over the whole load-modify-save: a second `sapient
        # ingest` into this index waits, then adds to what the first one saved.
        with _writing(path, console):
            if _store.exists(path):
                index = DocumentIndex.open(path, args.embedder, settings=settings,
                                           embedder_resolver=_resolver(host, None), **options)
            else:
                index = DocumentIndex.create(path, args.embedder or settings.embedder,
                                             settings=settings,
                                             embedder_resolver=_resolver(host, None), **options)
            summary = _ingest(index, args)
            if summary.changed or not _store.exists(path):
                index.save()
    except SapientError as exc:
        _error(console, exc)
        return 1
    table = Table(title=Text(f"index '{name}'  ({path})"))
    for col in ("files", "added", "updated", "skipped", "deleted", "embedded", "chunks",
                "seconds"):
        table.add_column(col, justify="right")
    table.add_row(*(str(v) for v in (summary.files, summary.added, summary.updated,
                                     summary.skipped, summary.deleted, summary.embedded,
                                     len(index), f"{summary.seconds:.1f}")))
    console.print(table)
    for err in summary.errors:
        console.print("[yellow]skipped:[/yellow] ", end="")
        console.print(str(err), markup=False, highlight=False)
    return 1 if summary.errors else 0


def _writing(path: Any, console: Any) -> Any:
    """The index's writer lock (nothing to lock when the path is not a folder: opening
    it will say what is wrong)."""
    import contextlib

    if path.exists() and not path.is_dir():
        return contextlib.nullcontext()
    return _store.writer_lock(path, on_wait=lambda: console.print(
        f"Another process is writing the index at {path}; waiting for it to finish...",
        markup=False))


def _ingest(index: Any, args: argparse.Namespace) -> Any:
    """Read the files (or run the loader) into ``index``; an empty run is an error."""
    if args.loader:
        summary = _ingest_with_loader(index, args)
    else:
        summary = index.ingest(args.paths, sync=not args.no_sync, show_progress=True)
    if not (summary.files or summary.errors or summary.changed):
        raise SapientError(
            f"Found no file to index in {', '.join(map(str, args.paths))}; give files or "
            "folders holding .txt, .md, .rst, .html or .pdf files.")
    return summary


def _ingest_with_loader(index: Any, args: argparse.Namespace) -> Any:
    """Files read by a LangChain loader: every file is loaded before the index changes."""
    from sapient.connectors.langchain import ingest_langchain_documents, load_documents

    loader_args: dict[str, Any] = {}
    for item in args.loader_arg:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SapientError(f"--loader-arg takes KEY=VALUE, got {item!r}.")
        try:
            loader_args[key] = json.loads(raw)
        except json.JSONDecodeError:
            loader_args[key] = raw
    docs = load_documents(args.loader, args.paths, **loader_args)
    summary = ingest_langchain_documents(index, docs, show_progress=True)
    summary.files = len(args.paths)
    return summary


def _parse_filter(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SapientError(f"--filter takes KEY=VALUE, got {item!r}.")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def configure_search(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="what to look for")
    parser.add_argument("--index", default=None, metavar="NAME", help="index name")
    parser.add_argument("-k", "--top", type=int, default=5, dest="k", help="number of hits")
    parser.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="metadata condition (repeatable; VALUE may be JSON, e.g. "
                             "'year={\"$gte\": 2020}')")
    parser.add_argument("--json", action="store_true", help="print hits as JSON lines")


def run_search(args: argparse.Namespace, host: Any) -> int:
    from rich.table import Table

    from ._index import DocumentIndex

    console = _console(args)
    settings = host.settings
    name = args.index or settings.index
    path = settings.index_dir(name)
    # Text from the command line may hold bytes that are not UTF-8 (surrogate escapes).
    query = args.query.encode("utf-8", "replace").decode("utf-8").strip()
    if not query:
        _error(console, "The query is empty; say what to look for, e.g. "
                        "sapient search \"warranty period\".")
        return 1
    try:
        index = DocumentIndex.open(path, settings=settings,
                                   embedder_resolver=_resolver(host, None))
        hits = index.search(query, k=args.k, mode=args.mode,
                            filters=_parse_filter(args.filter) or None)
    except SapientError as exc:
        _error(console, exc)
        return 1
    if args.json:
        for h in hits:
            print(json.dumps({"rank": h.rank, "id": h.id, "score": h.score,
                              "dense_score": h.dense_score, "bm25_score": h.bm25_score,
                              "text": h.text, "metadata": h.metadata}, ensure_ascii=False))
        return 0
    if not hits:
        console.print(f"No matches in index '{name}'.", markup=False)
        return 0
    from rich.text import Text

    # Passages, ids and the query are data: Text keeps "[/b]" and the like literal.
    table = Table(title=Text(f"{query!r} in index '{name}' ({args.mode})"))
    table.add_column("#", justify="right")
    table.add_column("id", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("cosine", justify="right")
    table.add_column("passage", overflow="fold")
    for h in hits:
        snippet = " ".join(h.text.split())
        table.add_row(str(h.rank), Text(h.id), f"{h.score:.4f}",
                      "" if h.dense_score is None else f"{h.dense_score:.3f}",
                      Text(snippet[:160] + ("…" if len(snippet) > 160 else "")))
    console.print(table)
    return 0
