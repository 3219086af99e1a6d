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


def run_ingest(args: argparse.Namespace, host: Any) -> int:
    from rich.table import Table

    from ._index import DocumentIndex

    console = _console(args)
    settings = host.settings
    name = args.index or settings.index
    path = settings.index_dir(name)
    options = {k: v for k, v in (("chunk_size", args.chunk_size),
                                 ("chunk_overlap", args.chunk_overlap),
                                 ("index_type", args.index_type)) if v is not None}
    try:
        if _store.exists(path):
            index = DocumentIndex.open(path, args.embedder, settings=settings, host=host,
                                       **options)
        else:
            index = DocumentIndex.create(path, args.embedder or settings.embedder,
                                         settings=settings, host=host, **options)
        summary = index.ingest(args.paths, sync=not args.no_sync, show_progress=True)
        if summary.changed or not _store.exists(path):
            index.save()
    except SapientError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    table = Table(title=f"index '{name}'  ({path})")
    for col in ("files", "added", "updated", "skipped", "deleted", "embedded", "chunks",
                "seconds"):
        table.add_column(col, justify="right")
    table.add_row(*(str(v) for v in (summary.files, summary.added, summary.updated,
                                     summary.skipped, summary.deleted, summary.embedded,
                                     len(index), f"{summary.seconds:.1f}")))
    console.print(table)
    for err in summary.errors:
        console.print(f"[yellow]skipped:[/yellow] {err}")
    return 1 if summary.errors else 0


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
    try:
        index = DocumentIndex.open(path, settings=settings, host=host)
        hits = index.search(args.query, k=args.k, mode=args.mode,
                            filters=_parse_filter(args.filter) or None)
    except SapientError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    if args.json:
        for h in hits:
            print(json.dumps({"rank": h.rank, "id": h.id, "score": h.score,
                              "dense_score": h.dense_score, "bm25_score": h.bm25_score,
                              "text": h.text, "metadata": h.metadata}, ensure_ascii=False))
        return 0
    if not hits:
        console.print(f"No matches in index '{name}'.")
        return 0
    table = Table(title=f"{args.query!r} in index '{name}' ({args.mode})")
    table.add_column("#", justify="right")
    table.add_column("id", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("cosine", justify="right")
    table.add_column("passage", overflow="fold")
    for h in hits:
        snippet = " ".join(h.text.split())
        table.add_row(str(h.rank), h.id, f"{h.score:.4f}",
                      "" if h.dense_score is None else f"{h.dense_score:.3f}",
                      snippet[:160] + ("…" if len(snippet) > 160 else ""))
    console.print(table)
    return 0
