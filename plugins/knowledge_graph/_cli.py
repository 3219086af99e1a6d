"""``sapient graph ...``: ingest, schema, query, ask, extract.

Examples::

    sapient graph ingest people.tsv --graph people
    sapient graph schema --graph people
    sapient graph query "MATCH (n:Person)-[:KNOWS]->(m) RETURN n.name, m.name" --graph people
    sapient graph ask "Who does Alice know?" --graph people
    sapient graph extract notes.txt --graph people --llm openai:gpt-4o-mini
"""

from __future__ import annotations

import argparse
from typing import Any

from sapient.core.errors import SapientError

from ._guard import check_cypher
from ._ingest import extract_triples, ingest_file, ingest_triples, read_text
from ._toolkit import GraphToolkit, open_store

__all__ = ["configure", "run"]

#: Actions that only read: their graph opens read-only, so they never create or
#: rewrite a graph file.
READ_ONLY_ACTIONS = frozenset({"schema", "query", "ask"})


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="graph_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--graph", default=None, metavar="NAME",
                       help="graph name under SAPIENT_HOME/graphs, or a store spec "
                            "(ladybug:PATH, neo4j:bolt://HOST:7687); default: settings")

    p = sub.add_parser("ingest", help="load triples (.tsv/.csv/.jsonl) or a .cypher script")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--batch-size", type=_positive, default=5000)
    p.add_argument("--allow-destructive", action="store_true",
                   help="let a .cypher script delete data, drop tables or call procedures")
    p.add_argument("--allow-file-access", action="store_true",
                   help="let a .cypher script read or write files (COPY, LOAD, EXPORT...)")
    common(p)
    p = sub.add_parser("schema", help="show labels, relationship types and counts")
    common(p)
    p = sub.add_parser("query", help="run a read-only Cypher query (guarded, bounded)")
    p.add_argument("cypher")
    p.add_argument("--limit", type=_positive, default=100)
    common(p)
    p = sub.add_parser("ask", help="answer a question with graph retrieval (no LLM)")
    p.add_argument("question")
    p.add_argument("-k", type=_positive, default=5)
    p.add_argument("--hops", type=_positive, default=3)
    common(p)
    p = sub.add_parser("extract", help="extract triples from a text file with the LLM")
    p.add_argument("text_file")
    p.add_argument("--llm", default=None, help="LLM spec (default SAPIENT_LLM)")
    common(p)


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _error(message: str) -> None:
    """One plain line on stderr; the message is shown as text, never as markup."""
    con = _console(stderr=True)
    con.print("[red]error:[/] ", end="")
    con.print(message, markup=False, soft_wrap=True)


def run(args: argparse.Namespace, host: Any) -> int:
    """Run one ``sapient graph`` action; returns the exit code."""
    action = args.graph_command
    try:
        store = open_store(getattr(args, "graph", None), host,
                           read_only=action in READ_ONLY_ACTIONS)
    except SapientError as exc:
        _error(str(exc))
        return 2
    try:
        return _ACTIONS[action](args, host, store, _console())
    except SapientError as exc:
        _error(str(exc))
        return 1
    except OSError as exc:
        _error(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return 1
    finally:
        store.close()


def _ingest(args: argparse.Namespace, host: Any, store: Any, console: Any) -> int:
    for file in args.files:
        report = ingest_file(store, file, batch_size=args.batch_size, progress=True,
                             allow_destructive=args.allow_destructive,
                             allow_file_access=args.allow_file_access)
        if report.triples == 0:
            _error(f"{file} holds no triples or statements; nothing was written. Give a file "
                   "with one 'head<TAB>relation<TAB>tail' per line (or a .jsonl/.cypher file).")
            return 1
        console.print(f"{file}: {report.triples} items in {report.seconds:.2f}s "
                      f"({report.triples_per_s:,.0f}/s) into {store.spec}", markup=False)
    return 0


def _schema(args: argparse.Namespace, host: Any, store: Any, console: Any) -> int:
    console.print(GraphToolkit(store, host=host).graph_schema(), markup=False)
    return 0


def _query(args: argparse.Namespace, host: Any, store: Any, console: Any) -> int:
    schema = store.schema()
    if schema.empty:
        _error("The graph is empty; load data first with: sapient graph ingest FILE")
        return 1
    verdict = check_cypher(args.cypher, schema, max_limit=args.limit)
    if not verdict.ok:
        _error(f"refused ({verdict.kind}): {verdict.feedback()}")
        return 1
    rows = store.read_query(verdict.query, max_rows=args.limit)
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for column in rows.columns:
        table.add_column(Text(str(column)))
    for row in rows.rows:
        table.add_row(*(Text(str(v)) for v in row))
    console.print(table)
    return 0


def _ask(args: argparse.Namespace, host: Any, store: Any, console: Any) -> int:
    if not args.question.strip():
        _error("The question is empty; ask something, e.g. sapient graph ask \"Who knows Bob?\"")
        return 1
    if store.schema().empty:
        _error("The graph is empty; load data first with: sapient graph ingest FILE")
        return 1
    out = GraphToolkit(store, host=host).graph_retrieve(args.question, k=args.k,
                                                        hops=args.hops)
    console.print(out.content, markup=False)
    return 0


def _extract(args: argparse.Namespace, host: Any, store: Any, console: Any) -> int:
    llm = host.llm(args.llm)
    text = read_text(args.text_file, "text file")
    if not text.strip():
        _error(f"{args.text_file} is empty; there is no text to extract facts from.")
        return 1
    triples = extract_triples(llm, text, known=store.node_names())
    report = ingest_triples(store, triples, source=args.text_file)
    for t in triples:
        console.print(f"({t.head})-[{t.relation}]->({t.tail})", markup=False)
    console.print(f"{report.triples} triples merged into {store.spec}", markup=False)
    return 0


_ACTIONS = {"ingest": _ingest, "schema": _schema, "query": _query, "ask": _ask,
            "extract": _extract}
