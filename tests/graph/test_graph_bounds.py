"""Bounded queries: model-written Cypher runs under limits that hold whatever the query does.

The probe's cases: a 300-million-element ``range`` (110 s and 4.3 GB past a 10 s
timeout before), a 2-billion-character string, ``RETURN 1; COMMIT; CREATE ...``
(committed a write through the read-only transaction), file access, and a repair
loop that re-ran a timing-out query three times. Elapsed-time bounds below only
catch hangs; speed is measured in benchmarks/graph_bounds.py.
"""

from __future__ import annotations

import time

import pytest
from sapient.connectors.graph import GraphError, QueryLimitError, Triple
from sapient.connectors.ladybug import LadybugStore, QueryLimits
from sapient.connectors.ladybug._bounded import QueryWorker
from sapient.connectors.scripted import ScriptedLLM
from sapient.plugins.knowledge_graph import Text2Cypher

HANG = 60  # seconds: far above every limit used here; only a hang goes past it


@pytest.fixture
def small(tmp_path):
    store = LadybugStore(tmp_path / "g")
    store.merge([Triple(f"p{i}", "KNOWS", f"p{i + 1}", "Person", "Person") for i in range(50)])
    yield store
    store.close()


def _count(store) -> int:
    return store.execute("MATCH (n) RETURN count(n)").rows[0][0]


def test_huge_list_is_stopped_by_the_memory_limit(small):
    start = time.monotonic()
    with pytest.raises(QueryLimitError) as info:
        small.read_query("UNWIND range(1, 300000000) AS x RETURN count(x)", timeout_s=10)
    assert info.value.limit == "memory" and "MiB" in str(info.value)
    assert time.monotonic() - start < HANG


def test_huge_string_is_stopped_by_the_memory_limit(small):
    with pytest.raises(QueryLimitError) as info:
        small.read_query("RETURN size(repeat('x', 2000000000))", timeout_s=10)
    assert info.value.limit == "memory"


def test_long_query_is_stopped_by_the_time_limit(tmp_path):
    store = LadybugStore(tmp_path / "g", limits=QueryLimits(memory_mb=1024))
    store.merge([Triple("a", "R", "b")])
    start = time.monotonic()
    with pytest.raises(QueryLimitError) as info:  # fits in memory, too slow for 1 s
        store.read_query("UNWIND range(1, 60000000) AS x WITH x WHERE x % 7 = 3 "
                         "RETURN count(x)", timeout_s=1)
    assert info.value.limit == "time" and "1 s" in str(info.value)
    assert time.monotonic() - start < HANG
    store.close()


def test_rows_are_capped(small):
    rows = small.read_query("MATCH (n:Person) RETURN n.name", max_rows=7)
    assert len(rows.rows) == 7 and rows.columns == ["n.name"]


@pytest.mark.parametrize("query", [
    "RETURN 1; COMMIT; CREATE (:Person {name: 'mallory'})",
    "MATCH (n) RETURN n; MATCH (m) DETACH DELETE m",
])
def test_only_one_statement_runs(small, query):
    before = _count(small)
    with pytest.raises(GraphError, match="one statement"):
        small.read_query(query)
    assert _count(small) == before


@pytest.mark.parametrize("query", ["BEGIN TRANSACTION", "commit", "ROLLBACK",
                                   "/* hi */ CHECKPOINT"])
def test_transaction_control_is_refused(small, query):
    with pytest.raises(GraphError, match="controls transactions"):
        small.read_query(query)
    assert small.read_query("MATCH (n:Person) RETURN count(n)").rows[0][0] > 0


def test_one_statement_in_memory_too():
    store = LadybugStore(":memory:")
    store.merge([Triple("a", "R", "b")])
    with pytest.raises(GraphError, match="one statement"):
        store.read_query("RETURN 1; COMMIT; CREATE (:Entity {name: 'x'})")
    assert _count(store) == 2
    assert store.read_query("MATCH (n) RETURN count(n)").rows == [[2]]
    store.close()


@pytest.mark.parametrize("template", [
    "COPY (MATCH (n) RETURN n.name) TO '{out}'",
    "LOAD FROM '{src}' RETURN *",
    "EXPORT DATABASE '{out}'",
    "LOAD EXTENSION json",
    "INSTALL json",
])
def test_file_access_is_refused_before_running(small, tmp_path, template):
    src = tmp_path / "secret.csv"
    src.write_text("a,b\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    with pytest.raises(GraphError, match="files or loads code"):
        small.read_query(template.format(out=out, src=src))
    assert not out.exists()


@pytest.mark.parametrize("template", [
    "COPY (MATCH (n) RETURN n.name) TO '{out}'",
    "LOAD FROM '{src}' RETURN *",
])
def test_the_query_process_cannot_open_files(small, tmp_path, template):
    # Past the static checks (called directly), the child process still cannot
    # open a file: file access is disabled where the query runs, not only refused.
    src = tmp_path / "secret.csv"
    src.write_text("a,b\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    small.read_query("RETURN 1")  # the file exists on disk
    worker = QueryWorker()
    with pytest.raises(GraphError, match="open"):
        worker.run(str(tmp_path / "g"), template.format(out=out, src=src), None,
                   QueryLimits(timeout_s=10))
    assert worker.run(str(tmp_path / "g"), "MATCH (n) RETURN count(n)", None,
                      QueryLimits()).rows == [[51]]  # files are open again for the next query
    worker.close()
    assert not out.exists()


def test_read_query_still_cannot_write(small):
    before = _count(small)
    with pytest.raises(GraphError):
        small.read_query("CREATE (:Person {name: 'mallory'})")
    assert _count(small) == before


def test_keywords_as_property_names_are_not_file_access(tmp_path):
    store = LadybugStore(tmp_path / "g")
    store.merge([Triple("a", "R", "b", properties={"load": 3})])
    assert store.read_query("MATCH ()-[r:R]->() RETURN r.load").rows == [[3]]
    store.close()


def test_repair_loop_stops_at_a_limit(small):
    heavy = "UNWIND range(1, 300000000) AS x RETURN count(x)"
    calls = []
    original = small.read_query

    def counting(query, **kw):
        calls.append(query)
        return original(query, **kw)

    small.read_query = counting
    llm = ScriptedLLM([heavy, heavy, heavy])
    result = Text2Cypher(small, llm, max_repairs=2).ask("How many numbers are there?")
    assert result.status == "failed" and "limit" in result.reason
    assert len(calls) == 1 and len(llm.calls) == 1


def test_an_identical_failing_query_is_not_run_twice(small):
    broken = "MATCH (n:Person) RETURN n.name, missing_variable"
    fixed = "MATCH (n:Person {name: 'p1'}) RETURN n.name"
    calls = []
    original = small.read_query
    small.read_query = lambda q, **kw: (calls.append(q), original(q, **kw))[1]
    llm = ScriptedLLM([broken, broken, fixed])
    result = Text2Cypher(small, llm, max_repairs=2).ask("Who is p1?")
    assert result.status == "answered" and result.rows == [["p1"]]
    assert [a.stage for a in result.attempts] == ["database", "guard", ""]
    assert len(calls) == 2  # the repeated query never reached the database
