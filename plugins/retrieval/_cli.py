"""``sapient ingest``, ``sapient search`` and ``sapient index copy``: build, query and
move a named document index."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sapient.core.errors import SapientError

from ._stores import index_store_spec, is_store_spec

__all__ = ["configure_ingest", "run_ingest", "configure_search", "run_search",
           "configure_index", "run_index"]


def _console(args: argparse.Namespace) -> Any:
    from rich.console import Console

    return Console(stderr=False, highlight=False, no_color=getattr(args, "no_color", False))


def _error(console: Any, message: object) -> None:
    """One line: the message is text, never markup (it may quote a file's content)."""
    console.print("[red]error:[/red] ", end="")
    console.print(str(message), markup=False, highlight=False)


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
    _store_argument(parser)
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: this process; ray: read, chunk and embed on Ray workers "
                             "(a local Ray instance, or the cluster at RAY_ADDRESS)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="embedding workers for --engine ray (default: CPUs - 1)")
    parser.add_argument("--loader", default=None, metavar="CLASS",
                        help="read each file with a LangChain document loader, e.g. "
                             "langchain_community.document_loaders.CSVLoader")
    parser.add_argument("--loader-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword argument for the loader (repeatable; VALUE may be JSON)")


def _store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default=None, metavar="SPEC",
                        help="document store instead of the FAISS folder, e.g. "
                             "milvus:./docs.db or milvus:http://127.0.0.1:19530 (the index "
                             "name is the collection)")


def run_ingest(args: argparse.Namespace, host: Any) -> int:
    from ._index import DocumentIndex

    console = _console(args)
    settings = host.settings
    name = args.index or settings.index
    target = index_store_spec(settings, name, args.store)
    options = {k: v for k, v in (("chunk_size", args.chunk_size),
                                 ("chunk_overlap", args.chunk_overlap),
                                 ("index_type", args.index_type)) if v is not None}
    try:
        # One writer at a time over the whole load-modify-save of a FAISS folder: a
        # second `sapient ingest` into it waits, then adds to what the first one saved.
        with _writing(target, console):
            index = DocumentIndex.open(target, args.embedder, create=True, settings=settings,
                                       host=host, **options)
            if index._embedder_spec is None:
                index._embedder_spec = settings.embedder
            existed = index.store.exists
            summary = _ingest(index, args)
            if summary.changed or not existed or index.modified:
                index.save()
            count = len(index)
            index.close()
    except SapientError as exc:
        _error(console, exc)
        return 1
    _print_summary(console, name, target, summary, count)
    return 1 if summary.errors else 0


def _writing(target: Any, console: Any) -> Any:
    """The writer lock of a FAISS index folder (other stores keep their own consistency;
    a path that is not a folder has nothing to lock: opening it says what is wrong)."""
    import contextlib
    from pathlib import Path

    from ._index import DocumentIndex

    if not isinstance(target, Path) or (target.exists() and not target.is_dir()):
        return contextlib.nullcontext()
    return DocumentIndex.lock(target, on_wait=lambda: console.print(
        f"Another process is writing the index at {target}; waiting for it to finish...",
        markup=False))


def _ingest(index: Any, args: argparse.Namespace) -> Any:
    """Read the files (local, on Ray, or through a loader); an empty run is an error."""
    if args.loader:
        summary = _ingest_with_loader(index, args)
    elif args.engine == "ray":
        from ._ray import ingest_with_ray

        summary = ingest_with_ray(index, args.paths, sync=not args.no_sync,
                                  workers=args.workers, show_progress=True)
    else:
        summary = index.ingest(args.paths, sync=not args.no_sync, show_progress=True)
    if not (summary.files or summary.errors or summary.changed):
        raise SapientError(
            f"Found no file to index in {', '.join(map(str, args.paths))}; give files or "
            "folders holding .txt, .md, .rst, .html or .pdf files.")
    return summary


def _print_summary(console: Any, name: str, target: Any, summary: Any, count: int) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"index '{name}'  ({target})"))
    for col in ("files", "added", "updated", "skipped", "deleted", "embedded", "chunks",
                "seconds"):
        table.add_column(col, justify="right")
    table.add_row(*(str(v) for v in (summary.files, summary.added, summary.updated,
                                     summary.skipped, summary.deleted, summary.embedded,
                                     count, f"{summary.seconds:.1f}")))
    console.print(table)
    for err in summary.errors:
        console.print("[yellow]skipped:[/yellow] ", end="")
        console.print(str(err), markup=False, highlight=False)


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
    _store_argument(parser)


def run_search(args: argparse.Namespace, host: Any) -> int:
    from rich.table import Table

    from ._index import DocumentIndex

    console = _console(args)
    settings = host.settings
    name = args.index or settings.index
    # Text from the command line may hold bytes that are not UTF-8 (surrogate escapes).
    query = args.query.encode("utf-8", "replace").decode("utf-8").strip()
    if not query:
        _error(console, "The query is empty; say what to look for, e.g. "
                        "sapient search \"warranty period\".")
        return 1
    try:
        index = DocumentIndex.open(index_store_spec(settings, name, args.store),
                                   settings=settings, host=host)
        hits = index.search(query, k=args.k, mode=args.mode,
                            filters=_parse_filter(args.filter) or None)
        index.close()
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


def configure_index(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("copy",),
                        help="copy: copy every chunk and vector of SRC into DST")
    parser.add_argument("source", metavar="SRC",
                        help="an index name (its FAISS folder) or a store spec")
    parser.add_argument("target", metavar="DST",
                        help="a store spec such as milvus:./docs.db?collection=NAME, or an "
                             "index name; a Milvus spec without a collection uses SRC's name")


def _endpoint(settings: Any, raw: str, host: Any, name: str) -> Any:
    if is_store_spec(raw, host):
        return index_store_spec(settings, name, raw)
    return settings.index_dir(raw)


def run_index(args: argparse.Namespace, host: Any) -> int:
    """``sapient index copy SRC DST``: migrate an index into another store."""
    from sapient.connectors.docstore import copy_store

    from ._index import DocumentIndex

    console = _console(args)
    settings = host.settings
    name = args.source if not is_store_spec(args.source, host) else settings.index
    try:
        source = DocumentIndex.open(_endpoint(settings, args.source, host, name),
                                    settings=settings, host=host)
        target = DocumentIndex.open(_endpoint(settings, args.target, host, name), create=True,
                                    settings=settings, host=host)
        copied = copy_store(source.store, target.store, show_progress=True)
        where = target.store.spec
        count = len(target)
        source.close()
        target.close()
    except SapientError as exc:
        _error(console, exc)
        return 1
    console.print(f"copied {copied} chunks into {where} (now {count} chunks)", markup=False)
    return 0
