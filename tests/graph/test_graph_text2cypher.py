"""graph_query: Text2Cypher with the repair loop, driven by a scripted LLM on a real store."""

from __future__ import annotations

from sapient.connectors.scripted import ScriptedLLM
from sapient.plugins.knowledge_graph import GraphToolkit, Text2Cypher


def _count(store):
    return store.execute("MATCH (n) RETURN count(n)").rows[0][0]


def test_answered_first_try(people_store):
    llm = ScriptedLLM(["```cypher\nMATCH (n:Person)-[:KNOWS]->(m:Person {name: 'Dan Brown'}) "
                       "RETURN n.name\n```"])
    result = Text2Cypher(people_store, llm).ask("Who knows Dan Brown?")
    assert result.status == "answered"
    assert result.rows == [["Bob Jones"]]
    assert result.query.endswith("LIMIT 100")
    prompt = llm.calls[0].messages[0].content
    assert "(:Person)-[:KNOWS]->(:Person)" in prompt  # schema-grounded


def test_repair_after_unknown_label_and_database_error(people_store):
    llm = ScriptedLLM([
        "MATCH (n:Employee) RETURN n.name",                       # unknown label: guard
        "MATCH (n:Person)-[:WORKS_AT]->(c:Company RETURN n.name",  # syntax: database error
        "MATCH (n:Person)-[:WORKS_AT]->(c:Company {name: 'Acme Corp'}) RETURN n.name "
        "ORDER BY n.name",
    ])
    result = Text2Cypher(people_store, llm, max_repairs=2).ask("Who works at Acme?")
    assert result.status == "answered" and result.repaired
    assert result.rows == [["Alice Smith"], ["Bob Jones"]]
    assert [a.stage for a in result.attempts[:2]] == ["guard", "database"]
    feedback = llm.calls[1].messages[-1].content
    assert "Employee" in feedback and "Person" in feedback
    assert "Parser exception" in llm.calls[2].messages[-1].content or "database error" in \
        llm.calls[2].messages[-1].content


def test_write_never_runs_and_fails_honestly(people_store):
    before = _count(people_store)
    llm = ScriptedLLM(["MATCH (n) DETACH DELETE n", "CREATE (:Person {name: 'M'}) RETURN 1",
                       "MATCH (n:Person) SET n.name = 'x' RETURN n"])
    result = Text2Cypher(people_store, llm, max_repairs=2).ask("Delete everything")
    assert result.status == "failed"
    assert len(result.attempts) == 3
    assert _count(people_store) == before
    assert "status: failed" in result.to_text()


def test_unanswerable(people_store):
    llm = ScriptedLLM(["UNANSWERABLE: the graph has no salaries"])
    result = Text2Cypher(people_store, llm).ask("What is Bob's salary?")
    assert result.status == "unanswerable"
    assert "salaries" in result.reason


def test_graph_query_without_llm_says_so(people_store, tmp_path):
    from sapient import Host, Settings

    toolkit = GraphToolkit(people_store, host=Host(Settings(home=tmp_path), load_entrypoints=False))
    text = toolkit.graph_query("Who knows Bob?")
    assert "needs an LLM" in text and "SAPIENT_LLM" in text
