"""Getting facts into a graph: triple files, Cypher scripts and text via an LLM.

Files are read and checked completely before anything is written: a malformed
line is reported with its line number and nothing is stored. Writing is batched;
each batch is one transaction with MERGE semantics, so re-ingesting a file does not
duplicate anything and an interrupted run can simply be repeated.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sapient.connectors.graph import (
    DEFAULT_LABEL,
    DESTRUCTIVE_KEYWORDS,
    FILE_ACCESS_KEYWORDS,
    CypherSyntaxError,
    GraphError,
    GraphStore,
    IngestError,
    Node,
    Triple,
    cypher_identifier,
    keywords,
    tokenize,
)
from sapient.core.messages import Message

__all__ = [
    "IngestReport",
    "check_script",
    "extract_triples",
    "ingest_file",
    "ingest_triples",
    "normalize_name",
    "read_text",
    "read_triples",
]

_COLUMNS = ("head", "relation", "tail", "head_label", "tail_label")
_JSON_COLUMNS = ("properties", "head_properties", "tail_properties")


@dataclass
class IngestReport:
    triples: int
    nodes: int
    seconds: float
    source: str = ""

    @property
    def triples_per_s(self) -> float:
        return self.triples / self.seconds if self.seconds > 0 else 0.0


def normalize_name(text: str) -> str:
    """Case-, accent-, punctuation- and underscore-insensitive form of an entity name."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", " ", text).strip().lower()


def _triple(values: dict[str, Any], line: int) -> Triple:
    """One validated triple from a row's values; ``ValueError`` says what is wrong."""
    try:
        return _checked_triple(values, line)
    except GraphError as exc:
        raise ValueError(str(exc)) from exc


def _checked_triple(values: dict[str, Any], line: int) -> Triple:
    missing = [k for k in ("head", "relation", "tail") if not str(values.get(k) or "").strip()]
    if missing:
        raise ValueError(f"empty {', '.join(missing)}")
    props: dict[str, dict[str, Any]] = {}
    for key in _JSON_COLUMNS:
        raw = values.get(key)
        if raw in (None, ""):
            props[key] = {}
            continue
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{key} is not valid JSON ({exc.msg})") from exc
        if not isinstance(raw, dict):
            raise ValueError(f"{key} must be a JSON object")
        props[key] = {cypher_identifier(k, "property"): v for k, v in raw.items()}
    return Triple(
        head=str(values["head"]).strip(),
        relation=cypher_identifier(values["relation"], "relationship type"),
        tail=str(values["tail"]).strip(),
        head_label=cypher_identifier(values.get("head_label") or DEFAULT_LABEL, "label"),
        tail_label=cypher_identifier(values.get("tail_label") or DEFAULT_LABEL, "label"),
        properties=props["properties"], head_properties=props["head_properties"],
        tail_properties=props["tail_properties"], line=line,
    )


def read_text(path: str | Path, what: str = "file") -> str:
    """The text of a UTF-8 file (a BOM is dropped), or :class:`IngestError` in one sentence.

    Invalid UTF-8 is refused with the line of the first bad byte, never guessed as
    another encoding: a wrong guess would store garbled names without a word.
    """
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"No such {what}: {path}.")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise IngestError(
            f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
            "save it as UTF-8 and run again.", [(line, "not UTF-8")]) from None


def _jsonl_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """``(line, values)`` per non-empty line, or ``(line, problem)``."""
    for no, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            yield no, f"not valid JSON ({exc})"
            continue
        yield no, obj if isinstance(obj, dict) else "each line must be a JSON object"


def _delimited_rows(text: str, delimiter: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """``(line, values)`` per non-empty row of a TSV/CSV text, or ``(line, problem)``."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, f"unreadable row ({exc})"
            return
        no = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None and no == 1 and {"head", "relation", "tail"} <= {
                c.strip().lower() for c in row}:
            header = [c.strip().lower() for c in row]
        elif header is not None:
            yield no, (dict(zip(header, row, strict=True)) if len(row) == len(header)
                       else f"expected {len(header)} columns, found {len(row)}")
        else:
            yield no, (dict(zip(_COLUMNS, row, strict=False)) if 3 <= len(row) <= 5
                       else f"expected 3 to 5 columns (head, relation, tail[, head_label, "
                            f"tail_label]), found {len(row)}")


def read_triples(path: str | Path) -> list[Triple]:
    """Read and validate every triple of a ``.tsv``, ``.csv`` or ``.jsonl`` file.

    TSV/CSV: columns ``head, relation, tail[, head_label, tail_label]``, or a header
    row naming them (plus optional ``properties``/``head_properties``/
    ``tail_properties`` as JSON objects). JSONL: one object per line with those keys.
    Raises :class:`IngestError` listing every bad line; nothing is returned partly.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".tsv", ".txt", ".csv"):
        raise IngestError(f"Unknown triple file type '{suffix}'. Use .tsv, .csv or .jsonl "
                          "(or .cypher for a CREATE script).")
    text = read_text(path, "triple file (.tsv, .csv or .jsonl)")
    rows = (_jsonl_rows(text) if suffix in (".jsonl", ".ndjson")
            else _delimited_rows(text, "," if suffix == ".csv" else "\t"))
    problems: list[tuple[int, str]] = []
    triples: list[Triple] = []
    for no, values in rows:
        try:
            if isinstance(values, str):
                raise ValueError(values)
            triples.append(_triple(values, no))
        except (ValueError, TypeError) as exc:
            problems.append((no, str(exc)))
    if problems:
        shown = "\n".join(f"  line {no}: {msg}" for no, msg in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise IngestError(f"{path}: {len(problems)} malformed line(s); nothing was written. "
                          f"Fix them and run again:\n{shown}{more}", problems)
    return triples


def _batches(items: Sequence[Triple], size: int) -> Iterable[Sequence[Triple]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def ingest_triples(store: GraphStore, triples: Sequence[Triple], *, nodes: Sequence[Node] = (),
                   batch_size: int = 5000, progress: bool = False,
                   source: str = "") -> IngestReport:
    """Merge triples into ``store`` in batches (one transaction each), idempotently."""
    if batch_size < 1:
        raise IngestError(f"The batch size must be 1 or more (got {batch_size}).")
    start = time.perf_counter()
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover
            tqdm = None
        if tqdm is not None:
            bar = tqdm(total=len(triples), unit="triple", desc=f"ingest {source}".strip())
    if nodes:
        store.merge([], nodes)
    for batch in _batches(list(triples), batch_size):
        store.merge(batch)
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    names = {(t.head_label, t.head) for t in triples} | {(t.tail_label, t.tail) for t in triples}
    names |= {(n.label, n.name) for n in nodes}
    return IngestReport(len(triples), len(names), time.perf_counter() - start, source)


_SCRIPT_RISKS = (
    (FILE_ACCESS_KEYWORDS, "reads or writes files or loads code", "file_access"),
    (DESTRUCTIVE_KEYWORDS | {"CALL"}, "deletes data, changes the schema or calls a procedure",
     "destructive"),
)


def _statements_with_lines(text: str) -> list[tuple[int, str]]:
    """Each statement of a script with the line it starts on."""
    out: list[tuple[int, str]] = []
    start = None
    for tok in [*tokenize(text), None]:
        if tok is None or (tok.kind == "op" and tok.value == ";"):
            if start is not None:
                end = tok.pos if tok is not None else len(text)
                out.append((text.count("\n", 0, start) + 1, text[start:end].strip()))
            start = None
        elif start is None:
            start = tok.pos
    return out


def check_script(text: str, *, allow_destructive: bool = False,
                 allow_file_access: bool = False, source: str = "script") -> int:
    """Refuse a Cypher script that deletes, changes the schema or touches files.

    A script to load data creates and merges; a ``DETACH DELETE``, ``DROP``,
    ``CALL`` or ``COPY ... TO`` in one is refused unless explicitly allowed, before
    anything runs. Returns the number of statements.
    """
    allowed = {"destructive": allow_destructive, "file_access": allow_file_access}
    try:
        statements = _statements_with_lines(text)
    except CypherSyntaxError as exc:
        raise IngestError(f"{source}: {exc} Fix the script and run again.") from exc
    for i, (line, stmt) in enumerate(statements, 1):
        words = keywords(stmt)
        for risky, does, option in _SCRIPT_RISKS:
            found = sorted(words & risky)
            if found and not allowed[option]:
                flag = option.replace("_", "-")
                raise IngestError(
                    f"{source}: statement {i} (line {line}) uses {' '.join(found)}, which "
                    f"{does}; nothing was written. Check the script, then pass "
                    f"--allow-{flag} (allow_{option}=True in Python) to run it anyway.",
                    [(line, f"uses {' '.join(found)}")])
    return len(statements)


def ingest_file(store: GraphStore, path: str | Path, *, batch_size: int = 5000,
                progress: bool = False, allow_destructive: bool = False,
                allow_file_access: bool = False) -> IngestReport:
    """Ingest a triple file, or run a ``.cypher`` script of CREATE statements.

    A script that deletes data, changes the schema, calls procedures or touches
    files is refused unless ``allow_destructive`` / ``allow_file_access`` say so.
    """
    path = Path(path)
    if path.suffix.lower() in (".cypher", ".cql"):
        text = read_text(path, "Cypher script")
        check_script(text, allow_destructive=allow_destructive,
                     allow_file_access=allow_file_access, source=str(path))
        start = time.perf_counter()
        count = store.run_script(text)
        return IngestReport(count, 0, time.perf_counter() - start, str(path))
    triples = read_triples(path)
    return ingest_triples(store, triples, batch_size=batch_size, progress=progress,
                          source=path.name)


# --- extraction from text through an LLM ------------------------------------------


class _Entity(BaseModel):
    name: str = Field(description="the entity's name as written in the text")
    label: str = Field(default=DEFAULT_LABEL, description="a type such as Person or Company")


class _Relation(BaseModel):
    head: str
    relation: str = Field(description="a short verb phrase in UPPER_SNAKE_CASE, e.g. WORKS_AT")
    tail: str
    evidence: str = Field(default="", description="the sentence that states it")


class Extraction(BaseModel):
    """Entities and relations stated in a text (the model's structured output)."""

    entities: list[_Entity] = Field(default_factory=list)
    relations: list[_Relation] = Field(default_factory=list)


_EXTRACT_PROMPT = (
    "Extract the entities and the relations between them that the text states "
    "explicitly. Answer with JSON that follows the schema; use the same name for the "
    "same entity every time. Do not guess facts that are not in the text."
)


def extract_triples(llm: Any, text: str, *, known: Iterable[tuple[str, str]] = ()
                    ) -> list[Triple]:
    """Extract triples from ``text`` with the LLM's structured output.

    Entity names are resolved exactly, then by normalized form (case, accents,
    punctuation) against each other and against ``known`` ``(label, name)`` nodes
    already in the graph, so "ACME corp." and "Acme Corp" become one node. The
    evidence sentence is kept as the relationship's ``evidence`` property.
    """
    schema = Extraction.model_json_schema()
    reply = llm.complete([Message.system(_EXTRACT_PROMPT), Message.user(text)],
                         output_schema=schema, temperature=0.0)
    raw = (reply.text or "").strip()
    m = re.search(r"\{.*\}", raw, re.S)
    try:
        data = Extraction.model_validate_json(m.group(0) if m else raw)
    except ValueError as exc:
        raise GraphError(f"The model's extraction was not valid JSON for the schema: {exc}. "
                         "Try a model that supports structured output.") from exc
    canonical: dict[str, tuple[str, str]] = {}
    for label, name in known:
        canonical.setdefault(normalize_name(name), (label, name))
    for ent in data.entities:
        key = normalize_name(ent.name)
        if key and key not in canonical:
            canonical[key] = (cypher_identifier(ent.label or DEFAULT_LABEL, "label"),
                              ent.name.strip())

    def resolve(name: str) -> tuple[str, str]:
        key = normalize_name(name)
        if key not in canonical:
            canonical[key] = (DEFAULT_LABEL, name.strip())
        return canonical[key]

    out: list[Triple] = []
    seen: set[tuple[str, str, str]] = set()
    for rel in data.relations:
        if not (normalize_name(rel.head) and normalize_name(rel.tail) and rel.relation.strip()):
            continue
        (hl, head), (tl, tail) = resolve(rel.head), resolve(rel.tail)
        relation = cypher_identifier(rel.relation, "relationship type").upper()
        if (head, relation, tail) in seen:
            continue
        seen.add((head, relation, tail))
        props = {"evidence": rel.evidence} if rel.evidence else {}
        out.append(Triple(head, relation, tail, hl, tl, props))
    return out
