"""One contract for every graph store (LadybugDB always; Neo4j when configured)."""

from __future__ import annotations

import pytest
from sapient.plugins.knowledge_graph import GraphError, Node, Triple, ingest_file


def _counts(store):
    nodes = store.execute("MATCH (n) RETURN count(n)").rows[0][0]
    rels = store.execute("MATCH ()-[r]->() RETURN count(r)").rows[0][0]
    return nodes, rels


def test_example_person_knows_query(people_store):
    rows = people_store.execute(
        "MATCH (n:Person)-[r:KNOWS]->(m:Person) RETURN n.name, m.name ORDER BY n.name, m.name"
    ).rows
    assert rows == [["Alice Smith", "Bob Jones"], ["Alice Smith", "Carol White"],
                    ["Bob Jones", "Dan Brown"]]


def test_reingest_does_not_duplicate(people_store, people_file):
    before = _counts(people_store)
    assert before == (9, 11)
    ingest_file(people_store, people_file)
    assert _counts(people_store) == before


def test_properties_are_stored(people_store):
    rows = people_store.execute(
        "MATCH (:Person {name: 'Alice Smith'})-[r:KNOWS]->(m) RETURN m.name, r.since "
        "ORDER BY r.since").rows
    assert rows == [["Bob Jones", 2015], ["Carol White", 2019]]


def test_schema_lists_labels_types_and_counts(people_store):
    schema = people_store.schema()
    assert {n: schema.nodes[n].count for n in schema.nodes} == {
        "Person": 4, "Company": 3, "City": 2}
    assert schema.rels["KNOWS"].count == 3
    assert ("Person", "Company") in schema.rels["WORKS_AT"].endpoints
    assert "since" in schema.rels["KNOWS"].properties
    assert "(:Person)-[:KNOWS]->(:Person)" in schema.to_text()


def test_read_query_refuses_writes_and_leaves_graph_unchanged(people_store):
    before = _counts(people_store)
    for write in ["MATCH (n) DETACH DELETE n", "CREATE (:Person {name: 'Mallory'})",
                  "MATCH (n:Person) SET n.name = 'x'"]:
        with pytest.raises(GraphError):
            people_store.read_query(write)
    assert _counts(people_store) == before
    rows = people_store.read_query("MATCH (n:Person) RETURN n.name ORDER BY n.name",
                                   max_rows=2)
    assert rows.rows == [["Alice Smith"], ["Bob Jones"]]


def test_read_query_reports_database_errors(people_store):
    with pytest.raises(GraphError):
        people_store.read_query("MATCH (n:Person RETURN n")


def test_edges_both_directions(people_store):
    edges = people_store.edges(["Bob Jones"])
    pairs = {(e.src, e.relation, e.dst) for e in edges}
    assert pairs == {("Alice Smith", "KNOWS", "Bob Jones"), ("Bob Jones", "KNOWS", "Dan Brown"),
                     ("Bob Jones", "WORKS_AT", "Acme Corp")}


def test_neighborhood_hops(people_store):
    one = set(people_store.neighborhood("Dan Brown", 1))
    two = set(people_store.neighborhood("Dan Brown", 2))
    assert one == {"Bob Jones", "Initech", "Berlin"}
    assert two >= one | {"Alice Smith", "Acme Corp"}
    assert "Dan Brown" not in two


def test_merge_nodes_and_mixed_labels(store):
    store.merge([Triple("Ann", "LIKES", "Tea", "Person", "Drink", {"level": 3}),
                 Triple("Ann", "LIKES", "Bob", "Person", "Person")],
                [Node("Zed", "Person", {"age": 40})])
    rows = store.execute("MATCH (a:Person {name: 'Ann'})-[:LIKES]->(b) RETURN b.name "
                         "ORDER BY b.name").rows
    assert rows == [["Bob"], ["Tea"]]
    assert store.execute("MATCH (n:Person {name: 'Zed'}) RETURN n.age").rows == [[40]]
    assert sorted(store.node_names()) == [("Drink", "Tea"), ("Person", "Ann"),
                                          ("Person", "Bob"), ("Person", "Zed")]


def test_cypher_script(store, tmp_path):
    script = tmp_path / "s.cypher"
    script.write_text(
        "// people\nCREATE (a:Person {name: 'Ann', born: 1990}), (b:Person {name: 'Ben'}),\n"
        "  (a)-[:KNOWS {since: 2001}]->(b), (c:Movie {title: 'Up'}),\n"
        "  (b)<-[:DIRECTED]-(c);\n", encoding="utf-8")
    ingest_file(store, script)
    ingest_file(store, script)
    if store.spec.startswith("ladybug"):
        assert _counts(store) == (3, 2)  # re-running merges
    rows = store.execute("MATCH (a:Person)-[r:KNOWS]->(b:Person) RETURN a.name, a.born, "
                         "b.name, r.since").rows
    assert rows[0] == ["Ann", 1990, "Ben", 2001]
