"""Static Cypher guards: extraction, blocklist, schema check, LIMIT."""

from __future__ import annotations

import pytest
from sapient.connectors.graph import GraphSchema, NodeLabel, RelType
from sapient.plugins.knowledge_graph import check_cypher, extract_cypher

SCHEMA = GraphSchema(
    nodes={"Person": NodeLabel("Person", 3, {"name": "STRING", "age": "INT64"}),
           "Company": NodeLabel("Company", 1, {"name": "STRING"})},
    rels={"KNOWS": RelType("KNOWS", 2, {"since": "INT64"}, [("Person", "Person")]),
          "WORKS_AT": RelType("WORKS_AT", 1, {}, [("Person", "Company")])},
)


@pytest.mark.parametrize("reply, expected", [
    ("```cypher\nMATCH (n:Person) RETURN n.name\n```", "MATCH (n:Person) RETURN n.name"),
    ("Here you go:\n```\nMATCH (n) RETURN n;\n```\nThis lists nodes.", "MATCH (n) RETURN n"),
    ("Cypher: MATCH (n:Person) RETURN n.name;", "MATCH (n:Person) RETURN n.name"),
    ("MATCH (n:Person)\nRETURN n.name\n\nExplanation: it matches people", "MATCH (n:Person)\nRETURN n.name"),
    ("I cannot help with that.", ""),
])
def test_extract_cypher(reply, expected):
    assert extract_cypher(reply) == expected


@pytest.mark.parametrize("query, kind", [
    ("MATCH (n) DETACH DELETE n", "write"),
    ("CREATE (n:Person {name: 'x'}) RETURN n", "write"),
    ("MATCH (n:Person) SET n.age = 1 RETURN n", "write"),
    ("MERGE (n:Person {name: 'x'}) RETURN n", "write"),
    ("LOAD CSV FROM 'file:///etc/passwd' AS l RETURN l", "file"),
    ("COPY (MATCH (n) RETURN n.name) TO '/tmp/x.csv'", "file"),
    ("EXPORT DATABASE '/tmp/dump'", "file"),
    ("LOAD FROM '/etc/passwd' (header=false) RETURN *", "file"),
    ("LOAD EXTENSION httpfs", "file"),
    ("INSTALL httpfs", "file"),
    ("ATTACH 'other.db' AS o (dbtype lbug)", "file"),
    ("RETURN 1; COMMIT; CREATE (:Person {name: 'x'})", "write"),
    ("CALL dbms.components() YIELD name RETURN name", "admin"),
    ("MATCH (n) RETURN apoc.text.join(['a'], ',')", "admin"),
    ("MATCH (n) RETURN n; MATCH (m) DETACH DELETE m", "write"),
    ("SHOW USERS", "admin"),
    ("MATCH (n:Person {name: 'x'}) RETURN n UNION MATCH (m) DELETE m", "write"),
    ("MATCH (n:Person {name: 'a'}) DETACH DELETE n //'}) RETURN n", "write"),
    ("MATCH (n:Robot) RETURN n.name", "schema"),
    ("MATCH (n:Person)-[:HATES]->(m) RETURN m.name", "schema"),
    ("MATCH (n:Person) RETURN n.salary", "schema"),
    ("MATCH (n:Person {name: 'unterminated) RETURN n", "syntax"),
    ("EXPLAIN MATCH (n) RETURN n", "admin"),
    ("MATCH (n:Person)", "syntax"),
])
def test_refused(query, kind):
    verdict = check_cypher(query, SCHEMA)
    assert not verdict.ok
    assert verdict.kind == kind, verdict.problems


def test_keywords_inside_string_literals_are_fine():
    verdict = check_cypher("MATCH (n:Person) WHERE n.name = 'DROP TABLE; CREATE' RETURN n.name",
                           SCHEMA)
    assert verdict.ok, verdict.problems


def test_escaped_quote_keeps_injection_inside_the_literal():
    # `\'` does not end the string, so the DETACH DELETE below is only text
    verdict = check_cypher("MATCH (n:Person {name: 'a\\'}) DETACH DELETE n //'}) RETURN n",
                           SCHEMA)
    assert verdict.ok, verdict.problems


def test_limit_added_and_capped():
    assert check_cypher("MATCH (n:Person) RETURN n.name", SCHEMA, max_limit=7).query.endswith(
        "LIMIT 7")
    assert check_cypher("MATCH (n:Person) RETURN n.name LIMIT 5000", SCHEMA,
                        max_limit=50).query.endswith("LIMIT 50")
    assert check_cypher("MATCH (n:Person) RETURN n.name LIMIT 3", SCHEMA).query.endswith("LIMIT 3")


def test_known_schema_passes():
    verdict = check_cypher("MATCH (a:Person {name: 'A'})-[r:KNOWS]->(b:Person) "
                           "WHERE r.since > 2000 RETURN b.name, b.age", SCHEMA)
    assert verdict.ok, verdict.problems
