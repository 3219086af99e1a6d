"""Property-based tests (hypothesis) of the Cypher guard, the lexer and the graph file readers:
no input crashes them, refusals say why, and nothing dangerous passes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sapient.connectors.graph import (
    CypherSyntaxError,
    GraphError,
    GraphSchema,
    IngestError,
    NodeLabel,
    RelType,
    cypher_identifier,
    parse_create,
    read_statement,
    split_statements,
    tokenize,
)
from sapient.plugins.knowledge_graph import check_cypher, extract_cypher, read_triples
from sapient.plugins.knowledge_graph._ingest import check_script

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
SCHEMA = GraphSchema(
    nodes={"Person": NodeLabel("Person", 3, {"name": "STRING", "age": "INT64"}),
           "Città": NodeLabel("Città", 1, {"name": "STRING"})},
    rels={"KNOWS": RelType("KNOWS", 2, {"since": "INT64"}, [("Person", "Person")])},
)
KINDS = {"write", "file", "admin", "schema", "syntax", "empty"}

# Text that looks like Cypher: keywords, names, brackets, quotes, comments, any Unicode.
PIECES = st.sampled_from([
    "MATCH", "RETURN", "WITH", "UNWIND", "WHERE", "LIMIT", "CREATE", "DELETE", "CALL", "LOAD",
    "COPY", "TO", "FROM", "(", ")", "[", "]", "{", "}", ":", ".", ",", ";", "'", '"', "`",
    "//", "/*", "*/", "\\", "$", "n", "Person", "KNOWS", "Città", "1e999", "100", "-", "->",
    "<-", "|", "*", "..", " ", "\n", "\t",
])
CYPHERISH = st.one_of(st.text(), st.lists(st.one_of(PIECES, st.text(max_size=3)),
                                          max_size=30).map("".join))

SAFE = ["MATCH (n:Person)", "MATCH (n:Person)-[r:KNOWS]->(m:Person)", "WHERE n.age > 3",
        "WITH n", "OPTIONAL MATCH (n)-[:KNOWS]->(x:Person)", "RETURN n.name",
        "RETURN count(*)", "UNWIND [1, 2] AS k"]
DANGEROUS = ["DETACH DELETE n", "CREATE (:Person {name: 'x'})", "SET n.age = 1",
             "MERGE (:Person {name: 'y'})", "REMOVE n.age", "DROP TABLE Person",
             "COPY Person TO '/tmp/x.csv'", "LOAD FROM '/etc/passwd' RETURN *",
             "LOAD CSV FROM 'file:///etc/passwd' AS l", "CALL db.labels()",
             "EXPORT DATABASE '/tmp/d'", "INSTALL httpfs", "ATTACH 'x.db' AS y",
             "FOREACH (x IN [1] | CREATE (:Person))", "; CREATE (:Person {name: 'z'})"]
GLUE = st.sampled_from([" ", "\n", "  \t", " /* note */ ", "\n// note\n"])


@FUZZ
@given(CYPHERISH)
def test_guard_never_crashes_and_explains_refusals(text):
    verdict = check_cypher(text, SCHEMA)
    assert isinstance(verdict.ok, bool)
    if verdict.ok:
        read_statement(verdict.query)  # what passes is one statement without file access
    else:
        assert verdict.kind in KINDS
        assert verdict.problems and all(p.strip() for p in verdict.problems)


@FUZZ
@given(st.lists(st.sampled_from(SAFE), min_size=1, max_size=4),
       st.sampled_from(DANGEROUS), st.integers(min_value=0, max_value=4), GLUE)
def test_a_dangerous_clause_anywhere_is_refused(safe, danger, at, glue):
    parts = list(safe)
    parts.insert(min(at, len(parts)), danger)
    verdict = check_cypher(glue.join(parts) + glue + "RETURN 1", SCHEMA)
    assert not verdict.ok
    assert verdict.kind in {"write", "file", "admin"}


@FUZZ
@given(CYPHERISH)
def test_lexer_and_readers_raise_only_their_own_errors(text):
    for fn in (tokenize, split_statements, parse_create, read_statement):
        try:
            fn(text)
        except GraphError as exc:
            assert str(exc).strip()
    assert isinstance(extract_cypher(text), str)


@FUZZ
@given(CYPHERISH)
def test_script_check_refuses_in_one_sentence(text):
    try:
        assert check_script(text) >= 0
    except IngestError as exc:
        assert "\n" not in str(exc) and str(exc).strip()


@FUZZ
@given(st.text())
def test_identifiers_are_identifiers_or_a_clear_error(text):
    try:
        name = cypher_identifier(text, "label")
    except GraphError as exc:
        assert "no letters or digits" in str(exc)
    else:
        assert name.isidentifier()


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".jsonl"])
@FUZZ
@given(data=st.one_of(st.binary(max_size=300),
                      st.text(max_size=300).map(lambda t: t.encode("utf-8")),
                      st.lists(st.sampled_from(["a", "b", "\t", ",", '"', "{", "}", "\n",
                                               "é", "\x00", "\r", "head", "relation",
                                               "tail", ":", "1"]), max_size=60)
                      .map(lambda x: "".join(x).encode("utf-8"))))
def test_triple_files_read_or_refuse_with_line_numbers(tmp_path, suffix, data):
    path = tmp_path / f"t{suffix}"
    path.write_bytes(data)
    try:
        triples = read_triples(path)
    except IngestError as exc:
        assert str(exc).strip() and "Traceback" not in str(exc)
        assert exc.problems or "UTF-8" in str(exc)
    else:
        assert all(t.relation.isidentifier() for t in triples)


def test_a_known_unterminated_string_is_a_syntax_error():
    with pytest.raises(CypherSyntaxError):
        tokenize("MATCH (n {name: 'x}) RETURN n")
