"""Every ``sapient`` command given bad input: the cases of ``test_robust_cli.py``.

Each case names a command line (``{d}`` is a folder of prepared files, ``{home}`` the
Sapient home) and what must happen: ``"error"`` (non-zero exit, one plain sentence,
no traceback), ``"ok"`` (exit 0: the input is odd but usable, e.g. one bad byte) or
``"any"`` (the option is not used by that command: only no traceback).
The files are made by :func:`make_files`; a small document index ``docs`` and a graph
``people`` are built once by the test before the cases run.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Case:
    command: str
    problem: str
    argv: tuple[str, ...]
    expect: str = "error"
    stdin: str | None = None

    @property
    def id(self) -> str:
        return f"{self.command}: {self.problem}"


def _blob(n: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(n)) + b"\x00\xff\x00"


def _textless_pdf() -> bytes:
    """A valid one-page PDF with no text on it (like a scanned page without OCR)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        b"<< /Length 0 >>\nstream\n\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def make_files(d: Path) -> None:
    """The bad (and odd) inputs, written into ``d``."""
    files: dict[str, bytes | str] = {
        "empty.txt": b"", "empty.tsv": b"", "empty.csv": b"", "empty.jsonl": b"",
        "empty.cypher": b"", "empty.toml": b"",
        "blob.txt": _blob(3000), "blob.tsv": _blob(3000), "blob.csv": _blob(3000),
        "blob.pdf": _blob(3000), "blob.cypher": _blob(3000), "blob.jsonl": _blob(3000),
        "blob.toml": _blob(3000), "blob.html": _blob(3000),
        "fake.pdf": b"%PDF-1.4\nthis is not really a pdf\n%%EOF\n",
        "textless.pdf": _textless_pdf(),
        "one_bad_byte.txt": "Le café est très bon. Naïve résumé.\n".encode() * 20 + b"\xff\n",
        "markup.txt": "Use [/b] to close bold and [bold red]this[/] and [link=x]y[/link] too.",
        "bad_utf8.tsv": b"Alice\tKNOWS\tBob\nCaf\xe9\tLIKES\t\xff\xfe\n",
        "bad_utf8.cypher": b"CREATE (:Person {name: 'Caf\xe9 \xff'});\n",
        "unicode_labels.tsv": "Zoë\tKENNT_ÄHNLICH\tJosé\tPersönlichkeit\t人物\n"
                              "Ωmega\tΣΧΕΣΗ\tAlpha\n",
        "bad_columns.tsv": "only_one_column\nAlice\tKNOWS\n",
        "malformed.jsonl": '{"head": "A", "relation": "R", "tail": "B"}\n{not json\n',
        "malformed.cypher": "MATCH (n RETURN n;;; CREATE (",
        "malformed.csv": 'value,timestamp\n"1,2\n3,"x\n',
        "words.csv": "timestamp,value\n2024-01-01,abc\n2024-01-02,def\n",
        "header_only.csv": "timestamp,value\n",
        "trace_bad.jsonl": "{not json}\n[1, 2\n",
        "config_bad.toml": "[serve\nport = 'x'\n",
        "config_bad_values.toml": "[serve]\nport = 'not a number'\nsessions = 12\n",
        "note.txt": "Alice met Bob in Paris.",
    }
    for name, data in files.items():
        path = d / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    (d / "empty_dir").mkdir()
    (d / "only_unsupported").mkdir()
    (d / "only_unsupported" / "image.png").write_bytes(_blob(100))
    _huge_files(d)


def _huge_files(d: Path) -> None:
    """Big inputs that stay quick to process (repetitive text embeds once)."""
    sentence = "The same sentence about a quiet harbour, repeated. "
    (d / "huge.txt").write_text(sentence * 40_000)  # 2 MB
    (d / "huge_line.tsv").write_text("x" * 2_000_000 + "\tR\ty\n")
    pad = "p" * 500  # long names: megabytes of file, few thousand triples to store
    with (d / "huge.tsv").open("w") as f:
        for i in range(2_000):
            f.write(f"{pad}{i}\tLINKS\t{pad}{i + 1}\n")
    with (d / "huge.csv").open("w") as f:  # 2 MB, mostly a text column
        f.write("value,comment\n")
        for i in range(8_000):
            f.write(f"{(i * 7919) % 1000},{'c' * 250}\n")
    with (d / "small.csv").open("w") as f:
        f.write("value\n" + "".join(f"{(i * 37) % 11}\n" for i in range(200)))
    (d / "huge.jsonl").write_text(json.dumps({"x": "y" * 3_000_000}) + "\n")


def cases() -> list[Case]:
    """Every command x every bad input that applies to it."""
    out: list[Case] = []

    def add(command: str, problem: str, *argv: str, expect: str = "error",
            stdin: str | None = None) -> None:
        out.append(Case(command, problem, tuple(argv), expect, stdin))

    # sapient ingest (documents)
    for problem, path in [("missing file", "{d}/nope.txt"), ("binary .txt", "{d}/blob.txt"),
                          ("binary .pdf", "{d}/blob.pdf"), ("binary .html", "{d}/blob.html"),
                          ("malformed PDF", "{d}/fake.pdf"), ("text-less PDF", "{d}/textless.pdf"),
                          ("unsupported file type", "{d}/only_unsupported/image.png"),
                          ("folder with nothing to index", "{d}/only_unsupported"),
                          ("empty folder", "{d}/empty_dir"), ("empty file", "{d}/empty.txt")]:
        add("ingest", problem, "ingest", path, "--index", "scratch")
    add("ingest", "one bad byte in a text file", "ingest", "{d}/one_bad_byte.txt", "--index",
        "scratch", expect="ok")
    add("ingest", "huge file", "ingest", "{d}/huge.txt", "--index", "scratch", expect="ok")
    add("ingest", "chunk size 0", "ingest", "{d}/note.txt", "--index", "scratch",
        "--chunk-size", "0")
    add("ingest", "negative chunk overlap", "ingest", "{d}/note.txt", "--index", "scratch",
        "--chunk-overlap", "-1")
    add("ingest", "unknown embedder", "ingest", "{d}/note.txt", "--index", "scratch2",
        "--embedder", "nosuch:model")
    add("ingest", "bad loader class", "ingest", "{d}/note.txt", "--index", "scratch",
        "--loader", "no.such.Loader")
    add("ingest", "index name with a path", "ingest", "{d}/note.txt", "--index", "../../etc")
    # sapient search
    add("search", "missing index", "search", "harbour", "--index", "nope")
    add("search", "rich markup in a passage", "search", "bold close", "--index", "docs",
        expect="ok")
    add("search", "empty query", "search", "", "--index", "docs")
    add("search", "k 0", "search", "x", "--index", "docs", "-k", "0")
    add("search", "k -1", "search", "x", "--index", "docs", "-k", "-1")
    add("search", "malformed filter", "search", "x", "--index", "docs", "--filter", "nokey")
    add("search", "binary query", "search", "\udcff\x00\x01", "--index", "docs", expect="ok")
    add("search", "damaged index", "search", "x", "--index", "damaged")
    # sapient graph ingest
    for problem, path in [("missing file", "{d}/nope.tsv"), ("empty TSV", "{d}/empty.tsv"),
                          ("empty JSONL", "{d}/empty.jsonl"), ("empty Cypher", "{d}/empty.cypher"),
                          ("binary TSV", "{d}/blob.tsv"), ("binary CSV", "{d}/blob.csv"),
                          ("binary JSONL", "{d}/blob.jsonl"), ("binary Cypher", "{d}/blob.cypher"),
                          ("invalid UTF-8 in TSV", "{d}/bad_utf8.tsv"),
                          ("invalid UTF-8 in Cypher", "{d}/bad_utf8.cypher"),
                          ("wrong number of columns", "{d}/bad_columns.tsv"),
                          ("malformed JSONL", "{d}/malformed.jsonl"),
                          ("malformed Cypher", "{d}/malformed.cypher"),
                          ("huge JSONL line", "{d}/huge.jsonl"),
                          ("huge TSV line", "{d}/huge_line.tsv"),
                          ("unsupported file type", "{d}/note.txt")]:
        add("graph ingest", problem, "graph", "ingest", path, "--graph", "scratch")
    add("graph ingest", "non-ASCII labels and relations", "graph", "ingest",
        "{d}/unicode_labels.tsv", "--graph", "scratch", expect="ok")
    add("graph ingest", "huge TSV", "graph", "ingest", "{d}/huge.tsv", "--graph", "big",
        expect="ok")
    add("graph ingest", "batch size 0", "graph", "ingest", "{d}/unicode_labels.tsv",
        "--batch-size", "0", "--graph", "scratch")
    add("graph ingest", "batch size -1", "graph", "ingest", "{d}/unicode_labels.tsv",
        "--batch-size", "-1", "--graph", "scratch")
    add("graph ingest", "graph is a file", "graph", "ingest", "{d}/unicode_labels.tsv",
        "--graph", "ladybug:{d}/blob.txt")
    # sapient graph schema / query / ask / extract
    add("graph schema", "missing graph", "graph", "schema", "--graph", "nope")
    add("graph schema", "damaged graph file", "graph", "schema", "--graph", "ladybug:{d}/blob.txt")
    add("graph query", "missing graph", "graph", "query", "MATCH (n) RETURN n", "--graph", "nope")
    add("graph query", "malformed Cypher", "graph", "query", "MATCH (n RETURN", "--graph",
        "people")
    add("graph query", "empty query", "graph", "query", "", "--graph", "people")
    add("graph query", "a write", "graph", "query", "CREATE (:X {a: 1})", "--graph", "people")
    add("graph query", "two statements", "graph", "query", "RETURN 1; MATCH (n) DETACH DELETE n",
        "--graph", "people")
    add("graph query", "file access", "graph", "query", "COPY (MATCH (n) RETURN n) TO '/tmp/x.csv'",
        "--graph", "people")
    add("graph query", "limit 0", "graph", "query", "MATCH (n) RETURN n", "--limit", "0",
        "--graph", "people")
    add("graph query", "non-ASCII label", "graph", "query", "MATCH (n:人物) RETURN n.name",
        "--graph", "people")
    add("graph ask", "empty graph", "graph", "ask", "Who knows Bob?", "--graph", "emptygraph")
    add("graph ask", "missing graph", "graph", "ask", "Who knows Bob?", "--graph", "nope")
    add("graph ask", "empty question", "graph", "ask", "", "--graph", "people")
    add("graph ask", "k 0", "graph", "ask", "Who knows Bob?", "-k", "0", "--graph", "people")
    add("graph ask", "hops -1", "graph", "ask", "Who?", "--hops", "-1", "--graph", "people")
    add("graph ask", "rich markup in the question", "graph", "ask", "[/b] who [bold]is[/] Bob?",
        "--graph", "people", expect="ok")
    add("graph extract", "missing file", "graph", "extract", "{d}/nope.txt", "--llm",
        "scripted:echo", "--graph", "scratch")
    add("graph extract", "binary file", "graph", "extract", "{d}/blob.txt", "--llm",
        "scripted:echo", "--graph", "scratch")
    add("graph extract", "empty file", "graph", "extract", "{d}/empty.txt", "--llm",
        "scripted:echo", "--graph", "scratch")
    add("graph extract", "unknown LLM", "graph", "extract", "{d}/note.txt", "--llm",
        "nosuch:model", "--graph", "scratch")
    # sapient anomalies
    for problem, path in [("missing file", "{d}/nope.csv"), ("empty file", "{d}/empty.csv"),
                          ("binary file", "{d}/blob.csv"), ("malformed CSV", "{d}/malformed.csv"),
                          ("words instead of numbers", "{d}/words.csv"),
                          ("header only", "{d}/header_only.csv"), ("a folder", "{d}/empty_dir"),
                          ("invalid UTF-8", "{d}/bad_utf8.tsv")]:
        add("anomalies", problem, "anomalies", path)
    add("anomalies", "huge file", "anomalies", "{d}/huge.csv", expect="ok")
    add("anomalies", "unknown column", "anomalies", "{d}/small.csv", "--column", "nope")
    add("anomalies", "unknown method", "anomalies", "{d}/small.csv", "--method", "nope")
    add("anomalies", "negative sensitivity", "anomalies", "{d}/small.csv", "--sensitivity", "-1")
    add("anomalies", "plot into a missing folder (it is made)", "anomalies", "{d}/small.csv",
        "--plot", "{d}/no/such/dir/chart.png", expect="ok")
    add("anomalies", "plot onto a file's path", "anomalies", "{d}/small.csv", "--plot",
        "{d}/blob.txt/chart.png")
    # sapient trace show
    for problem, path in [("missing file", "{d}/nope.jsonl"), ("empty file", "{d}/empty.jsonl"),
                          ("binary file", "{d}/blob.jsonl"), ("malformed JSONL", "{d}/trace_bad.jsonl"),
                          ("huge line", "{d}/huge.jsonl")]:
        add("trace show", problem, "trace", "show", path)
    # sapient run / chat
    add("run", "empty prompt", "run", "", "--llm", "scripted:echo")
    add("run", "unknown LLM", "run", "hi", "--llm", "nosuch:model")
    add("run", "malformed LLM spec", "run", "hi", "--llm", "::")
    add("run", "unknown tool", "run", "hi", "--llm", "scripted:echo", "--tool", "nope")
    add("run", "max steps 0", "run", "hi", "--llm", "scripted:echo", "--max-steps", "0")
    add("run", "huge prompt", "run", "word " * 200_000, "--llm", "scripted:echo", "--no-tools",
        "--json", expect="ok")
    add("run", "rich markup in the answer", "run", "[/b] [bold]x[/] [link=y]z[/link]", "--llm",
        "scripted:echo", "--no-tools", expect="ok")
    add("chat", "unknown LLM", "chat", "--llm", "nosuch:model", stdin="hi\n")
    add("chat", "max steps 0", "chat", "--llm", "scripted:echo", "--max-steps", "0", stdin="hi\n")
    add("chat", "binary input", "chat", "--llm", "scripted:echo", "--no-tools",
        stdin="\x00\x01[/b]\udcff\n", expect="ok")
    # sapient serve / mcp (bad settings; they must refuse before serving)
    add("serve", "missing config", "serve", "--config", "{d}/nope.toml", "--llm", "scripted:echo")
    add("serve", "config is a folder", "serve", "--config", "{d}/empty_dir", "--llm",
        "scripted:echo")
    add("serve", "binary config", "serve", "--config", "{d}/blob.toml", "--llm", "scripted:echo")
    add("serve", "malformed config", "serve", "--config", "{d}/config_bad.toml", "--llm",
        "scripted:echo")
    add("serve", "wrong values in config", "serve", "--config", "{d}/config_bad_values.toml",
        "--llm", "scripted:echo")
    add("serve", "port -1", "serve", "--port", "-1", "--llm", "scripted:echo")
    add("serve", "unknown session store", "serve", "--sessions", "nosuch:x", "--llm",
        "scripted:echo")
    add("mcp", "unknown tool", "mcp", "--tool", "nope")
    add("mcp", "port -1", "mcp", "--http", "--port", "-1")
    # every command: a home that is a file, an unknown command, a bad option value
    add("tools", "home is a file (not used)", "tools", "--home", "{d}/blob.txt", expect="any")
    add("plugins", "home is a file (not used)", "plugins", "--home", "{d}/blob.txt",
        expect="any")
    add("ingest", "home is a file", "ingest", "{d}/note.txt", "--home", "{d}/blob.txt")
    add("graph ingest", "home is a file", "graph", "ingest", "{d}/unicode_labels.tsv", "--home",
        "{d}/blob.txt")
    add("sapient", "unknown command", "nosuch")
    return out
