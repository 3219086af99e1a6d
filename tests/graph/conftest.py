"""Fixtures for the knowledge-graph tests: stores on tmp paths, a small graph, the embedder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PEOPLE_TSV = """head\trelation\ttail\thead_label\ttail_label\tproperties
Alice Smith\tKNOWS\tBob Jones\tPerson\tPerson\t{"since": 2015}
Alice Smith\tKNOWS\tCarol White\tPerson\tPerson\t{"since": 2019}
Bob Jones\tKNOWS\tDan Brown\tPerson\tPerson\t
Alice Smith\tWORKS_AT\tAcme Corp\tPerson\tCompany\t{"role": "engineer"}
Bob Jones\tWORKS_AT\tAcme Corp\tPerson\tCompany\t
Carol White\tWORKS_AT\tGlobex\tPerson\tCompany\t
Dan Brown\tWORKS_AT\tInitech\tPerson\tCompany\t
Acme Corp\tLOCATED_IN\tBerlin\tCompany\tCity\t
Globex\tLOCATED_IN\tParis\tCompany\tCity\t
Initech\tLOCATED_IN\tBerlin\tCompany\tCity\t
Dan Brown\tLIVES_IN\tBerlin\tPerson\tCity\t
"""


def _store_params() -> list:
    params = [pytest.param("ladybug", id="ladybug")]
    reason = ("Neo4j contract run needs a server: set SAPIENT_NEO4J_URI (and "
              "SAPIENT_NEO4J_USER / SAPIENT_NEO4J_PASSWORD); it clears that database")
    params.append(pytest.param("neo4j", id="neo4j", marks=[
        pytest.mark.neo4j,
        pytest.mark.skipif(not os.environ.get("SAPIENT_NEO4J_URI"), reason=reason)]))
    return params


@pytest.fixture(params=_store_params())
def store(request, tmp_path):
    """An empty store of each kind (LadybugDB always, Neo4j when configured)."""
    if request.param == "ladybug":
        from sapient.connectors.ladybug import LadybugStore

        s = LadybugStore(tmp_path / "graph")
    else:
        from sapient.connectors.neo4j import from_spec

        s = from_spec(os.environ["SAPIENT_NEO4J_URI"])
        s.clear()
    yield s
    if request.param == "neo4j":
        s.clear()
    s.close()


@pytest.fixture
def people_file(tmp_path) -> Path:
    path = tmp_path / "people.tsv"
    path.write_text(PEOPLE_TSV, encoding="utf-8")
    return path


@pytest.fixture
def people_store(store, people_file):
    from sapient.plugins.knowledge_graph import ingest_file

    ingest_file(store, people_file)
    return store


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 model, loaded once per test session."""
    from sapient.connectors.embeddings import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    e.embed(["warm up"])
    return e
