"""A small Cypher lexer, statement splitter and ``CREATE``-script reader.

The lexer knows string literals (with escapes), backtick identifiers, parameters and
comments, so guards can look at keywords and identifiers without being fooled by
text hidden inside a string literal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ._types import DEFAULT_LABEL, GraphError, Node, Triple, is_identifier_char

__all__ = [
    "DESTRUCTIVE_KEYWORDS",
    "FILE_ACCESS_KEYWORDS",
    "CypherSyntaxError",
    "Token",
    "keywords",
    "parse_create",
    "read_statement",
    "split_statements",
    "tokenize",
]

#: Clauses that read or write files, load code or reach other databases (LadybugDB:
#: ``COPY ... FROM/TO``, ``LOAD FROM``, ``LOAD EXTENSION``, ``INSTALL``,
#: ``EXPORT/IMPORT DATABASE``, ``ATTACH``, ``USE``; Neo4j: ``LOAD CSV``).
FILE_ACCESS_KEYWORDS = frozenset({
    "COPY", "LOAD", "EXPORT", "IMPORT", "ATTACH", "INSTALL", "UNINSTALL", "USE",
})
#: Statements that control transactions or the database's state, which only the store
#: itself may issue (``BEGIN TRANSACTION`` inside a read would let later statements of
#: the same connection write; ``CHECKPOINT`` rewrites the database file).
TRANSACTION_KEYWORDS = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "CHECKPOINT"})
#: Clauses that delete data or change the schema (``DETACH DELETE``, ``DROP TABLE``...).
DESTRUCTIVE_KEYWORDS = frozenset({"DELETE", "DETACH", "DROP", "REMOVE", "ALTER", "TRUNCATE"})


class CypherSyntaxError(GraphError):
    """The text is not lexically valid Cypher (e.g. an unterminated string)."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "ident", "quoted", "string", "number", "param", "op"
    value: str
    pos: int

    @property
    def upper(self) -> str:
        return self.value.upper() if self.kind == "ident" else ""


_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_DIGITS = frozenset("0123456789")


def _ident_end(text: str, i: int) -> int:
    """End of the identifier starting at ``i`` (letters of any script, digits, ``_``)."""
    j = i
    while j < len(text) and is_identifier_char(text[j]):
        j += 1
    return j
_OPS = ("<-", "->", "<>", "<=", ">=", "=~", "..", "+=")


def _read_string(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    j = i + 1
    out: list[str] = []
    while j < len(text):
        c = text[j]
        if c == "\\":
            if j + 1 >= len(text):
                break
            nxt = text[j + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
            j += 2
            continue
        if c == quote:
            return "".join(out), j + 1
        out.append(c)
        j += 1
    raise CypherSyntaxError(f"Unterminated string literal starting at character {i}.")


def tokenize(text: str) -> list[Token]:
    """Split Cypher into tokens; comments are dropped, literals kept as one token."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise CypherSyntaxError(f"Unterminated comment starting at character {i}.")
            i = j + 2
        elif c in "'\"":
            value, j = _read_string(text, i)
            tokens.append(Token("string", value, i))
            i = j
        elif c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise CypherSyntaxError(f"Unterminated `identifier` starting at character {i}.")
            tokens.append(Token("quoted", text[i + 1:j], i))
            i = j + 1
        elif c == "$":
            j = _ident_end(text, i + 1)
            tokens.append(Token("param", text[i + 1:j], i))
            i = max(j, i + 1)
        elif c in _DIGITS:
            m = _NUMBER.match(text, i)
            j = m.end() if m else i + 1
            tokens.append(Token("number", text[i:j], i))
            i = j
        elif c == "_" or c.isidentifier():
            j = _ident_end(text, i)
            tokens.append(Token("ident", text[i:j], i))
            i = j
        else:
            op = next((o for o in _OPS if text.startswith(o, i)), c)
            tokens.append(Token("op", op, i))
            i += len(op)
    return tokens


def keywords(text: str | list[Token]) -> set[str]:
    """The upper-cased words of a statement that can be clauses or functions.

    String literals, comments and `quoted` names are not words; a name right after
    ``.`` or ``:`` is a property key, label or type (``n.load``, ``(:Copy)``), which
    the database never reads as a clause either.
    """
    tokens = tokenize(text) if isinstance(text, str) else text
    out: set[str] = set()
    for i, tok in enumerate(tokens):
        if tok.kind != "ident":
            continue
        prev = tokens[i - 1] if i else None
        if prev is not None and prev.kind == "op" and prev.value in (".", ":"):
            continue
        out.add(tok.upper)
    return out


def read_statement(cypher: str) -> str:
    """The one statement of an untrusted read query, or :class:`GraphError`.

    Stores call this before running model-written Cypher, whatever checked it
    before: several statements (``RETURN 1; COMMIT; CREATE ...`` would end a
    read-only transaction and write) and clauses that touch files or load code
    (:data:`FILE_ACCESS_KEYWORDS`) are refused.
    """
    statements = split_statements(cypher)
    if not statements:
        raise GraphError("The query is empty; write one read query (MATCH ... RETURN ...).")
    if len(statements) > 1:
        raise GraphError(f"Only one statement may run at a time; found {len(statements)} "
                         "separated by ';'.")
    tokens = tokenize(statements[0])
    found = sorted(keywords(tokens) & FILE_ACCESS_KEYWORDS)
    if found:
        raise GraphError(f"Refused: {', '.join(found)} reads or writes files or loads code, "
                         "which a read query may not do.")
    first = next((t for t in tokens if t.kind == "ident"), None)
    if first is not None and first.upper in TRANSACTION_KEYWORDS:
        raise GraphError(f"Refused: {first.upper} controls transactions, which a read query "
                         "may not do; write one MATCH ... RETURN ... query.")
    return statements[0]


def split_statements(text: str) -> list[str]:
    """Split a script on top-level ``;`` (not inside strings or comments)."""
    tokens = tokenize(text)
    out: list[str] = []
    start = 0
    for tok in tokens:
        if tok.kind == "op" and tok.value == ";":
            piece = text[start:tok.pos].strip()
            if piece:
                out.append(piece)
            start = tok.pos + 1
    tail = text[start:].strip()
    if tail and tokenize(tail):
        out.append(tail)
    return out


# --- reading CREATE scripts -----------------------------------------------------------


class _Reader:
    def __init__(self, tokens: list[Token]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self, value: str | None = None) -> Token:
        tok = self.peek()
        if tok is None or (value is not None and tok.value != value):
            where = f"at character {tok.pos}" if tok else "at the end"
            raise CypherSyntaxError(f"Expected {value or 'more input'!r} {where}.")
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind in ("op", "ident") and tok.value.upper() == value

    def name(self) -> str:
        tok = self.take()
        if tok.kind not in ("ident", "quoted"):
            raise CypherSyntaxError(f"Expected a name at character {tok.pos}, got {tok.value!r}.")
        return tok.value

    def value(self) -> Any:
        tok = self.take()
        if tok.kind == "string":
            return tok.value
        if tok.kind == "number":
            return float(tok.value) if any(c in tok.value for c in ".eE") else int(tok.value)
        if tok.kind == "op" and tok.value == "-":
            v = self.value()
            if isinstance(v, int | float):
                return -v
        if tok.kind == "ident" and tok.value.lower() in ("true", "false", "null"):
            return json.loads(tok.value.lower())
        if tok.kind == "op" and tok.value == "[":
            items: list[Any] = []
            while not self.at("]"):
                items.append(self.value())
                if self.at(","):
                    self.take(",")
            self.take("]")
            return items
        raise CypherSyntaxError(
            f"Only literal values can be read from a CREATE script; got {tok.value!r} "
            f"at character {tok.pos}."
        )

    def props(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not self.at("{"):
            return out
        self.take("{")
        while not self.at("}"):
            key = self.name()
            self.take(":")
            out[key] = self.value()
            if self.at(","):
                self.take(",")
        self.take("}")
        return out


_KEYS = ("name", "title", "id")


def _node_name(props: dict[str, Any], label: str, var: str) -> str:
    for key in _KEYS:
        if props.get(key) is not None:
            return str(props[key])
    for value in props.values():
        if isinstance(value, str):
            return value
    raise CypherSyntaxError(
        f"Node ({var}:{label}) has no name: give it a 'name', 'title' or 'id' property."
    )


def parse_create(statement: str) -> tuple[list[Node], list[Triple]]:
    """Read one ``CREATE`` statement of node and relationship patterns.

    Supports the form of Neo4j's example datasets: ``CREATE (a:Person {name:'A'}),
    (b:Person {name:'B'}), (a)-[:KNOWS {since: 2010}]->(b)``. Node keys come from
    ``name``, ``title`` or ``id``. Raises :class:`CypherSyntaxError` for anything else.
    """
    r = _Reader(tokenize(statement))
    variables: dict[str, Node] = {}
    nodes: list[Node] = []
    triples: list[Triple] = []
    if not r.at("CREATE"):
        raise CypherSyntaxError("Not a CREATE statement.")
    while r.peek() is not None:
        if r.at("CREATE") or r.at(","):
            r.take()
            continue
        if r.at("MERGE") or r.at("MATCH") or r.at("WITH") or r.at("RETURN"):
            raise CypherSyntaxError("Only CREATE patterns are supported in scripts.")
        left = _read_node(r, variables, nodes)
        while r.at("-") or r.at("<-"):
            backwards = r.take().value == "<-"
            r.take("[")
            if r.peek() is not None and r.peek().kind in ("ident", "quoted") and not r.at(":"):
                r.take()  # relationship variable
            r.take(":")
            rel = r.name()
            props = r.props()
            r.take("]")
            arrow = r.take().value
            if backwards == (arrow == "->") or arrow not in ("-", "->"):
                raise CypherSyntaxError("Relationships in CREATE need exactly one direction.")
            right = _read_node(r, variables, nodes)
            a, b = (right, left) if backwards else (left, right)
            triples.append(Triple(a.name, rel, b.name, a.label, b.label, props))
            left = right
    return nodes, triples


def _read_node(r: _Reader, variables: dict[str, Node], nodes: list[Node]) -> Node:
    r.take("(")
    var = ""
    tok = r.peek()
    if tok is not None and tok.kind in ("ident", "quoted"):
        var = r.take().value
    label = ""
    while r.at(":"):
        r.take(":")
        name = r.name()
        label = label or name  # the first label is the node's table
    props = r.props()
    r.take(")")
    if var in variables and not label and not props:
        return variables[var]
    if not props and not label and var:
        raise CypherSyntaxError(f"Variable '{var}' is used before its node was created.")
    node = Node(_node_name(props, label, var), label or DEFAULT_LABEL, props)
    nodes.append(node)
    if var:
        variables[var] = node
    return node
