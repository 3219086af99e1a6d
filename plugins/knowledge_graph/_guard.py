"""Static guards for model-written Cypher, all in one place.

:func:`extract_cypher` pulls the query out of a model's reply (code fences, a
leading ``Cypher:``, stray tokens after it); :func:`check_cypher` refuses writes,
procedure calls, admin commands and file access (looking only at real keywords,
never inside string literals), checks labels, relationship types and properties
against the schema, and adds or caps ``LIMIT``. The store then runs what passes
under its own limits (one statement, no file access, read-only, time, memory and
rows: see the stores), so a query that slips past this list still cannot write.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from sapient.connectors.graph import (
    DESTRUCTIVE_KEYWORDS,
    FILE_ACCESS_KEYWORDS,
    CypherSyntaxError,
    GraphSchema,
    Token,
    keywords,
    tokenize,
)

__all__ = ["BLOCKED_KEYWORDS", "GuardResult", "check_cypher", "extract_cypher"]

_ADMIN = frozenset({"CALL", "SHOW", "GRANT", "REVOKE", "DENY", "TERMINATE", "START", "STOP",
                    "CHECKPOINT", "BEGIN", "COMMIT", "ROLLBACK", "ENABLE", "DISABLE"})
#: Keywords that write, change schema, call procedures, touch files or administer.
BLOCKED_KEYWORDS = frozenset({
    "CREATE", "MERGE", "SET", "FOREACH", "PERIODIC", "RENAME", "FINISH",
}) | DESTRUCTIVE_KEYWORDS | FILE_ACCESS_KEYWORDS | _ADMIN
#: Function namespaces that reach outside the query (plugins, admin, file access).
BLOCKED_NAMESPACES = frozenset({"apoc", "dbms", "db", "gds", "genai", "file", "tx", "sys"})
_STARTS = ("MATCH", "OPTIONAL", "WITH", "UNWIND", "RETURN")
_START_RE = re.compile(r"^\s*(MATCH|OPTIONAL\s+MATCH|WITH|UNWIND|RETURN|CALL|CREATE|MERGE|"
                       r"DETACH|DELETE|DROP|LOAD|SET|REMOVE|EXPLAIN|PROFILE|USE|SHOW|ALTER|"
                       r"COPY|FOREACH)\b", re.I | re.M)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n(.*?)(?:```|\Z)", re.S)


def extract_cypher(text: str) -> str:
    """The Cypher query inside a model reply, or ``""`` when there is none.

    Takes the first fenced block if any, else starts at the first line that begins
    with a Cypher clause; stops at a blank line or at a line that reads like prose
    (``Explanation:``, ``Note``...). Trailing ``;`` and stray backticks are dropped.
    """
    text = (text or "").strip()
    m = _FENCE.search(text)
    body = m.group(2) if m else re.sub(r"^\s*(cypher|query)\s*:\s*", "", text, flags=re.I)
    start = _START_RE.search(body)
    if not start:
        return ""
    lines: list[str] = []
    for line in body[start.start():].splitlines():
        stripped = line.strip()
        if not stripped and lines:
            break
        if re.match(r"^(explanation|note|this query|the query|answer)\b", stripped, re.I):
            break
        lines.append(line.rstrip())
    query = "\n".join(lines).strip().strip("`").strip()
    return query.rstrip(";").strip()


@dataclass
class GuardResult:
    """What the guard decided: ``ok`` with the (possibly LIMIT-ed) query, or problems."""

    ok: bool
    query: str
    problems: list[str] = field(default_factory=list)
    kind: str = ""  # "write", "file", "admin", "schema", "syntax", "empty" when refused

    def feedback(self) -> str:
        return "; ".join(self.problems)


def _refuse(query: str, kind: str, *problems: str) -> GuardResult:
    return GuardResult(False, query, list(problems), kind)


def _with_brackets(tokens: list[Token]) -> Iterator[tuple[int, Token, list[str]]]:
    """Each non-bracket token with its index and the stack of brackets open around it."""
    depth: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.kind == "op" and tok.value in "([{":
            depth.append(tok.value)
        elif tok.kind == "op" and tok.value in ")]}":
            if depth:
                depth.pop()
        else:
            yield i, tok, depth


def _labels_and_types(tokens: list[Token]) -> tuple[set[str], set[str]]:
    """Node labels (inside ``( )``) and relationship types (inside ``[ ]``)."""
    labels: set[str] = set()
    types: set[str] = set()
    for i, tok, depth in _with_brackets(tokens):
        if tok.kind == "op" and tok.value in (":", "|") and depth and depth[-1] in "([":
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if nxt is None or nxt.kind not in ("ident", "quoted"):
                continue
            # `{key: value}` maps are excluded by the innermost-bracket test above
            (labels if depth[-1] == "(" else types).add(nxt.value)
    return labels, types


def _property_keys(tokens: list[Token]) -> set[str]:
    keys: set[str] = set()
    for i in range(1, len(tokens) - 1):
        if (tokens[i].kind == "op" and tokens[i].value == "."
                and tokens[i - 1].kind in ("ident", "quoted")
                and tokens[i + 1].kind in ("ident", "quoted")):
            keys.add(tokens[i + 1].value)
    # keys in inline property maps: `{name: ...}` inside a node/rel pattern
    for i, tok, depth in _with_brackets(tokens):
        if (tok.kind in ("ident", "quoted") and len(depth) >= 2 and depth[-1] == "{"
              and depth[-2] in "(["
              and i + 1 < len(tokens) and tokens[i + 1].value == ":"
              and tokens[i - 1].value in ("{", ",")):
            keys.add(tok.value)
    return keys


def check_cypher(query: str, schema: GraphSchema | None = None, *,
                 max_limit: int = 100) -> GuardResult:
    """Refuse unsafe or schema-less Cypher; add or cap ``LIMIT``.

    Args:
        query: the candidate query (already extracted from the model's text).
        schema: labels, relationship types and properties it may use; ``None``
            skips the schema check.
        max_limit: rows at most; a missing or larger ``LIMIT`` becomes this.
    """
    query = (query or "").strip().rstrip(";").strip()
    if not query:
        return _refuse(query, "empty", "no Cypher query was found in the reply")
    try:
        tokens = tokenize(query)
    except CypherSyntaxError as exc:
        return _refuse(query, "syntax", str(exc))
    if not tokens:
        return _refuse(query, "empty", "the query is empty")
    if any(t.kind == "op" and t.value == ";" for t in tokens):
        return _refuse(query, "write", "only one statement is allowed (found ';')")
    words = keywords(tokens)
    blocked = sorted(words & BLOCKED_KEYWORDS)
    # `EXISTS { ... }` subqueries are fine; `CALL { ... }` and procedures are not
    if blocked:
        return _refuse(query, _blocked_kind(set(blocked)), f"the query uses "
                       f"{', '.join(blocked)}; only read queries (MATCH ... RETURN) are allowed")
    for i, tok in enumerate(tokens[:-1]):
        if (tok.kind == "ident" and tok.value.lower() in BLOCKED_NAMESPACES
                and tokens[i + 1].value == "."):
            return _refuse(query, "admin", f"procedures and functions under '{tok.value}.' "
                           "are not allowed")
    if tokens[0].upper in ("EXPLAIN", "PROFILE"):
        return _refuse(query, "admin", "EXPLAIN/PROFILE are not allowed; write the query itself")
    if tokens[0].upper not in _STARTS:
        return _refuse(query, "syntax", f"a read query starts with MATCH, OPTIONAL MATCH, WITH, "
                       f"UNWIND or RETURN, not {tokens[0].value!r}")
    if "RETURN" not in words:
        return _refuse(query, "syntax", "the query has no RETURN clause")
    if schema is not None:
        problems = _schema_problems(tokens, schema)
        if problems:
            return _refuse(query, "schema", *problems)
    return GuardResult(True, _apply_limit(query, tokens, max_limit))


def _blocked_kind(blocked: set[str]) -> str:
    """File access first, then writes, then administration (procedures, transactions)."""
    if blocked & FILE_ACCESS_KEYWORDS:
        return "file"
    return "write" if blocked - _ADMIN else "admin"


def _schema_problems(tokens: list[Token], schema: GraphSchema) -> list[str]:
    labels, types = _labels_and_types(tokens)
    problems: list[str] = []
    unknown = sorted(labels - set(schema.nodes))
    if unknown:
        problems.append(f"unknown node label(s) {', '.join(unknown)}; known labels: "
                        f"{', '.join(sorted(schema.nodes)) or 'none'}")
    unknown = sorted(types - set(schema.rels))
    if unknown:
        problems.append(f"unknown relationship type(s) {', '.join(unknown)}; known types: "
                        f"{', '.join(sorted(schema.rels)) or 'none'}")
    known_props = schema.property_names() | {"name"}
    unknown = sorted(_property_keys(tokens) - known_props)
    if unknown:
        problems.append(f"unknown propert(y/ies) {', '.join(unknown)}; known properties: "
                        f"{', '.join(sorted(known_props))}")
    return problems


def _apply_limit(query: str, tokens: list[Token], max_limit: int) -> str:
    # the last top-level LIMIT (not inside a subquery)
    depth = 0
    last = None
    for i, tok in enumerate(tokens):
        if tok.kind == "op" and tok.value in "([{":
            depth += 1
        elif tok.kind == "op" and tok.value in ")]}":
            depth -= 1
        elif depth == 0 and tok.upper == "LIMIT":
            last = i
    if last is not None and last + 1 < len(tokens) and tokens[last + 1].kind == "number":
        num = tokens[last + 1]
        if float(num.value) > max_limit:
            end = num.pos + len(num.value)
            return query[:num.pos] + str(max_limit) + query[end:]
        return query
    if last is not None:  # LIMIT $param or an expression: leave it, add none
        return query
    return f"{query}\nLIMIT {max_limit}"
