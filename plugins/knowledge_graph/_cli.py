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
from pathlib import Path
from typing import Any

from sapient.connectors.graph import GraphError

from ._guard import check_cypher
from ._ingest import extract_triples, ingest_file, ingest_triples
from ._toolkit import GraphToolkit, open_store

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="graph_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--graph", default=None, metavar="NAME",
                       help="graph name under SAPIENT_HOME/graphs, or a store spec "
                            "(ladybug:PATH, neo4j:bolt://HOST:7687); default: settings")

    p = sub.add_parser("ingest", help="load triples (.tsv/.csv/.jsonl) or a .cypher script")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--batch-size", type=int, default=5000)
    common(p)
    p = sub.add_parser("schema", help="show labels, relationship types and counts")
    common(p)
    p = sub.add_parser("query", help="run a read-only Cypher query (guarded)")
    p.add_argument("cypher")
    p.add_argument("--limit", type=int, default=100)
    common(p)
    p = sub.add_parser("ask", help="answer a question with graph retrieval (no LLM)")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--hops", type=int, default=2)
    common(p)
    p = sub.add_parser("extract", help="extract triples from a text file with the LLM")
    p.add_argument("text_file")
    p.add_argument("--llm", default=None, help="LLM spec (default SAPIENT_LLM)")
    common(p)


def _console() -> Any:
    from rich.console import Console

    return Console()


def run(args: argparse.Namespace, host: Any) -> int:
    """Run one ``sapient graph`` action; returns the exit code."""
    console = _console()
    try:
        store = open_store(getattr(args, "graph", None), host)
    except GraphError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    try:
        return _run(args, host, store, console)
    except GraphError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 1
    finally:
        store.close()


def _run(args: argparse.Namespace, host: Any, store: Any, console: Any) -> int:
    action = args.graph_command
    if action == "ingest":
        for file in args.files:
            report = ingest_file(store, file, batch_size=args.batch_size, progress=True)
            console.print(f"{file}: {report.triples} items in {report.seconds:.2f}s "
                          f"({report.triples_per_s:,.0f}/s) into {store.spec}")
        return 0
    if action == "schema":
        console.print(GraphToolkit(store, host=host).graph_schema(), markup=False)
        return 0
    if action == "query":
        verdict = check_cypher(args.cypher, store.schema(), max_limit=args.limit)
        if not verdict.ok:
            console.print(f"[red]refused ({verdict.kind}):[/] {verdict.feedback()}")
            return 1
        rows = store.read_query(verdict.query, max_rows=args.limit)
        from rich.table import Table

        table = Table(*rows.columns)
        for row in rows.rows:
            table.add_row(*(str(v) for v in row))
        console.print(table)
        return 0
    if action == "ask":
        out = GraphToolkit(store, host=host).graph_retrieve(args.question, k=args.k,
                                                                 hops=args.hops)
        console.print(out.content, markup=False)
        return 0
    if action == "extract":
        llm = host.llm(args.llm)
        text = Path(args.text_file).read_text(encoding="utf-8")
        triples = extract_triples(llm, text, known=store.node_names())
        report = ingest_triples(store, triples, source=args.text_file)
        for t in triples:
            console.print(f"({t.head})-[{t.relation}]->({t.tail})", markup=False)
        console.print(f"{report.triples} triples merged into {store.spec}")
        return 0
    console.print(f"[red]unknown action {action}[/]")
    return 2
