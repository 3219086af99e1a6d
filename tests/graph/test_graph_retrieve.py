"""graph_retrieve and the other tools on a small graph with the real MiniLM embedder."""

from __future__ import annotations

import pytest
from sapient import Host, Settings
from sapient.plugins.knowledge_graph import GraphRetriever, GraphToolkit


@pytest.mark.parametrize("question, answer", [
    ("Who does Bob Jones know?", "Dan Brown"),
    ("Which company does Alice Smith work at?", "Acme Corp"),
    ("Where does dan brown live?", "Berlin"),
    ("Which city is Globex located in?", "Paris"),
])
def test_retrieve_top_answer(people_store, embedder, question, answer):
    answers = GraphRetriever(people_store, embedder).retrieve(question)
    assert answers and answers[0].name == answer, [(a.name, a.score) for a in answers]
    assert answers[0].path  # the supporting path is returned


def test_linking_normalized_and_fuzzy(people_store, embedder):
    r = GraphRetriever(people_store, embedder)
    assert [lk.how for lk in r.link("who knows alice smith?")] == ["normalized"]
    fuzzy = r.link("where does Dan Browne live?")
    assert fuzzy and fuzzy[0].name == "Dan Brown" and fuzzy[0].how == "fuzzy"
    assert r.link("what is the weather?") == []


def test_inverse_relations_are_one_fact(store, embedder):
    from sapient.plugins.knowledge_graph import Triple

    store.merge([Triple("Ann", "plays_in_club", "Reds"), Triple("Reds", "plays_in_club_inverse", "Ann"),
                 Triple("Reds", "is_in_country", "Spain"), Triple("Ann", "plays_for_country", "Peru")])
    r = GraphRetriever(store, embedder)
    answers = r.retrieve("which club does Ann play for ?")
    assert answers[0].name == "Reds" and answers[0].support == 1


def test_toolkit_tools_and_citations(people_store, embedder, tmp_path):
    toolkit = GraphToolkit(people_store, Settings(home=tmp_path), embedder=embedder)
    names = [t.name for t in toolkit.tools()]
    assert names == ["graph_schema", "graph_lookup", "graph_neighbors", "graph_paths",
                     "graph_query", "graph_retrieve"]
    out = toolkit.graph_retrieve("Who does Bob Jones know?")
    assert out.citations and "Dan Brown" in out.citations[0].text
    assert "Alice Smith" in toolkit.graph_lookup("alise smith")
    neigh = toolkit.graph_neighbors("Dan Brown", hops=1, relation="LIVES_IN")
    assert neigh.content == "(Person Dan Brown)-[LIVES_IN]->(City Berlin)"
    paths = toolkit.graph_paths("Alice Smith", "Berlin", max_hops=2)
    assert "LOCATED_IN" in paths.content
    assert "count=4" in toolkit.graph_schema()


def test_plugin_registers_tools_through_host(tmp_path):
    host = Host(Settings(home=tmp_path), plugins=[__import__(
        "sapient.plugins.knowledge_graph", fromlist=["x"])], load_entrypoints=False)
    tools = host.tools()
    assert {"graph_schema", "graph_retrieve", "graph_query"} <= set(tools)
    assert not host.load_errors
    assert tools["graph_schema"].source == "sapient.plugins.knowledge_graph"


def test_agent_cites_graph_paths(people_store, embedder, tmp_path):
    from sapient import Agent
    from sapient.connectors.scripted import ScriptedLLM

    toolkit = GraphToolkit(people_store, Settings(home=tmp_path), embedder=embedder)
    llm = ScriptedLLM([{"tool": "graph_retrieve",
                        "args": {"question": "Which company does Alice Smith work at?"}},
                       "Alice Smith works at Acme Corp."])
    result = Agent(llm, tools=toolkit.tools()).run("Where does Alice work?")
    assert result.answer == "Alice Smith works at Acme Corp."
    assert any("Acme Corp" in c.text and "WORKS_AT" in c.text for c in result.citations)


def test_conjunctive_question_needs_both_entities(people_store, embedder):
    r = GraphRetriever(people_store, embedder)
    answers = r.retrieve("Which person works at Acme Corp and knows Dan Brown?")
    assert answers[0].name == "Bob Jones", [(a.name, a.score) for a in answers]
    assert answers[0].also  # supported from both entities
