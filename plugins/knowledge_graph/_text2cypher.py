"""Text2Cypher: questions to read-only Cypher, guarded and self-repairing.

Flow: schema-grounded prompt with few-shot examples built from the graph's own
schema -> model reply -> :func:`extract_cypher` -> :func:`check_cypher`
(blocklist, schema check, LIMIT) -> the store's bounded read-only execution. A
refusal or a database error is fed back to the model for at most ``max_repairs``
more tries; a query that hit a limit (time, memory) ends the loop, and a query
already tried is never run again, so one expensive query costs one timeout.
The result says honestly whether the question was answered, is unanswerable from
the schema, or failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sapient.connectors.graph import GraphError, GraphSchema, GraphStore, QueryLimitError
from sapient.core.messages import Message

from ._guard import check_cypher, extract_cypher

__all__ = ["Attempt", "Text2Cypher", "Text2CypherResult", "build_prompt"]

Status = Literal["answered", "unanswerable", "failed"]

_RULES = """You translate questions into ONE read-only Cypher query for the graph below.
Rules:
- Use only the node labels, relationship types and properties listed in the schema.
- Every node has a `name` property. Match names exactly as written in the question.
- Only read: MATCH, OPTIONAL MATCH, WHERE, WITH, RETURN, ORDER BY, LIMIT. Never
  CREATE, MERGE, SET, DELETE, REMOVE, CALL or LOAD.
- Reply with the query in a ```cypher code block and nothing else.
- If the schema cannot answer the question, reply exactly: UNANSWERABLE: <reason>"""


def _examples(schema: GraphSchema, k: int = 3) -> list[tuple[str, str]]:
    """Few-shot pairs made from the graph's own relationship patterns."""
    out: list[tuple[str, str]] = []
    for rel in sorted(schema.rels.values(), key=lambda r: -r.count):
        if not rel.endpoints:
            continue
        a, b = rel.endpoints[0]
        words = rel.name.replace("_", " ").lower()
        out.append((
            f"Which {b} does the {a} named 'X' have a '{words}' relationship to?",
            f"MATCH (a:{a} {{name: 'X'}})-[:{rel.name}]->(b:{b})\nRETURN b.name\nLIMIT 20",
        ))
        if len(out) == 1:
            out.append((
                f"How many {a} nodes have a '{words}' relationship?",
                f"MATCH (a:{a})-[:{rel.name}]->(:{b})\nRETURN count(DISTINCT a) AS n",
            ))
        if len(out) >= k:
            break
    return out


def build_prompt(question: str, schema: GraphSchema) -> list[Message]:
    """The messages sent to the model: rules, schema, examples, question."""
    system = f"{_RULES}\n\nSchema:\n{schema.to_text()}"
    messages = [Message.system(system)]
    for q, cypher in _examples(schema):
        messages.append(Message.user(q))
        messages.append(Message.assistant(f"```cypher\n{cypher}\n```"))
    messages.append(Message.user(question))
    return messages


@dataclass
class Attempt:
    """One model reply and what happened to it."""

    reply: str
    query: str
    error: str = ""
    stage: str = ""  # "guard", "database" or "limit" (time, memory) when it failed


@dataclass
class Text2CypherResult:
    status: Status
    question: str
    query: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    reason: str = ""
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        return self.status == "answered" and len(self.attempts) > 1

    def to_text(self, max_rows: int = 50) -> str:
        if self.status == "unanswerable":
            return f"status: unanswerable\nreason: {self.reason}"
        if self.status == "failed":
            tried = "\n".join(f"- {a.query or a.reply!r}: {a.error}" for a in self.attempts)
            return f"status: failed\nreason: {self.reason}\nattempts:\n{tried}"
        lines = [f"status: answered ({len(self.rows)} rows)", f"cypher: {self.query}",
                 " | ".join(self.columns)]
        lines += [" | ".join(str(v) for v in row) for row in self.rows[:max_rows]]
        if len(self.rows) > max_rows:
            lines.append(f"... {len(self.rows) - max_rows} more rows")
        return "\n".join(lines)


class Text2Cypher:
    """Answer questions over a graph store with guarded, model-written Cypher.

    Args:
        store: any graph store (its ``read_query`` enforces read-only execution).
        llm: an object with ``complete(messages, **options)``.
        max_repairs: extra model calls after a refusal or a database error.
        max_rows: LIMIT added to or capped in every query.
        timeout_s: per-query time limit in the database.
    """

    def __init__(self, store: GraphStore, llm: Any, *, max_repairs: int = 2,
                 max_rows: int = 100, timeout_s: float = 10.0) -> None:
        self.store = store
        self.llm = llm
        self.max_repairs = max_repairs
        self.max_rows = max_rows
        self.timeout_s = timeout_s

    def ask(self, question: str, schema: GraphSchema | None = None) -> Text2CypherResult:
        schema = schema or self.store.schema()
        result = Text2CypherResult("failed", question)
        if schema.empty:
            result.status = "unanswerable"
            result.reason = "the graph is empty; ingest data first (sapient graph ingest FILE)"
            return result
        messages = build_prompt(question, schema)
        for _ in range(self.max_repairs + 1):
            reply = self.llm.complete(messages, temperature=0.0).text or ""
            if reply.strip().upper().startswith("UNANSWERABLE"):
                result.status = "unanswerable"
                result.reason = reply.split(":", 1)[-1].strip() or "not answerable from the schema"
                result.attempts.append(Attempt(reply, ""))
                return result
            attempt = self._attempt(reply, schema, result)
            if result.status == "answered":
                return result
            if attempt.stage == "limit":
                break
            messages = [*messages, Message.assistant(reply), Message.user(
                f"That query was not run: {attempt.error}. Write a corrected read-only query "
                "in a ```cypher block, or reply UNANSWERABLE: <reason>.")]
        result.reason = (f"no valid read-only query after {len(result.attempts)} attempt(s); "
                         f"last problem: {result.attempts[-1].error}")
        return result

    def _attempt(self, reply: str, schema: GraphSchema, result: Text2CypherResult) -> Attempt:
        """Check and run one reply's query; record it (and the answer) on ``result``."""
        verdict = check_cypher(extract_cypher(reply), schema, max_limit=self.max_rows)
        attempt = Attempt(reply, verdict.query)
        tried = {a.query for a in result.attempts if a.stage != "guard"}
        result.attempts.append(attempt)
        if not verdict.ok:
            attempt.error = f"refused ({verdict.kind}): {verdict.feedback()}"
            attempt.stage = "guard"
        elif verdict.query in tried:
            attempt.error = "this exact query was already run and failed; write a different one"
            attempt.stage = "guard"
        else:
            try:
                rows = self.store.read_query(verdict.query, timeout_s=self.timeout_s,
                                             max_rows=self.max_rows)
            except QueryLimitError as exc:
                attempt.error, attempt.stage = f"stopped at a limit: {exc}", "limit"
            except GraphError as exc:
                attempt.error, attempt.stage = f"database error: {exc}", "database"
            else:
                result.status, result.query = "answered", verdict.query
                result.columns, result.rows = rows.columns, rows.rows
        return attempt
