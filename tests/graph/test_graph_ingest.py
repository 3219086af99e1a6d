"""Ingestion: file formats, bad input, LLM extraction with entity resolution, the CLI."""

from __future__ import annotations

import argparse
import json

import pytest
from sapient import Host, Settings
from sapient.connectors.ladybug import LadybugStore
from sapient.connectors.scripted import ScriptedLLM
from sapient.plugins.knowledge_graph import IngestError, extract_triples, ingest_file, read_triples


def test_malformed_tsv_lines_reported_and_nothing_written(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tR\tb\nonly\ttwo\nc\tR\td\n\tR\te\nf\tR\tg\n", encoding="utf-8")
    store = LadybugStore(tmp_path / "g")
    with pytest.raises(IngestError) as info:
        ingest_file(store, bad)
    assert [no for no, _ in info.value.problems] == [2, 4]
    assert "line 2" in str(info.value) and "nothing was written" in str(info.value)
    assert store.node_names() == []
    store.close()


def test_bad_json_properties_reported(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('head,relation,tail,properties\na,R,b,"{""w"": 1}"\nc,R,d,{oops}\n',
                    encoding="utf-8")
    with pytest.raises(IngestError) as info:
        read_triples(path)
    assert info.value.problems[0][0] == 3


def test_jsonl_and_csv(tmp_path):
    j = tmp_path / "t.jsonl"
    j.write_text(json.dumps({"head": "Ann", "relation": "works at", "tail": "Acme",
                             "head_label": "Person", "tail_label": "Company",
                             "properties": {"since": 2020}}) + "\n", encoding="utf-8")
    triples = read_triples(j)
    assert triples[0].relation == "works_at" and triples[0].properties == {"since": 2020}
    c = tmp_path / "t.csv"
    c.write_text("Ann,KNOWS,Ben\n", encoding="utf-8")
    assert read_triples(c)[0].tail == "Ben"
    other = tmp_path / "x.parquet"
    other.write_text("", encoding="utf-8")
    with pytest.raises(IngestError, match="Unknown triple file type"):
        read_triples(other)


def test_extraction_with_entity_resolution(tmp_path):
    reply = json.dumps({
        "entities": [{"name": "Acme Corp", "label": "Company"}, {"name": "Ann Lee", "label": "Person"}],
        "relations": [
            {"head": "Ann Lee", "relation": "works at", "tail": "ACME corp.", "evidence": "Ann works at Acme."},
            {"head": "ann lee", "relation": "WORKS_AT", "tail": "Acme Corp"},
            {"head": "Ann Lee", "relation": "knows", "tail": "Bob Jones"},
        ]})
    llm = ScriptedLLM([reply])
    triples = extract_triples(llm, "Ann works at Acme. She knows Bob.",
                              known=[("Person", "Bob Jones")])
    assert "output_schema" in llm.calls[0].options
    assert [(t.head, t.relation, t.tail) for t in triples] == [
        ("Ann Lee", "WORKS_AT", "Acme Corp"), ("Ann Lee", "KNOWS", "Bob Jones")]
    assert triples[0].tail_label == "Company" and triples[1].tail_label == "Person"
    assert triples[0].properties == {"evidence": "Ann works at Acme."}


def test_cli_ingest_query_and_ask(tmp_path, people_file, capsys):
    from sapient.plugins.knowledge_graph import _cli as cli

    host = Host(Settings(home=tmp_path), load_entrypoints=False)
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    args = parser.parse_args(["ingest", str(people_file), "--graph", "people"])
    assert cli.run(args, host) == 0
    assert (tmp_path / "graphs" / "people").exists()
    args = parser.parse_args(["query", "MATCH (n:Person)-[r:KNOWS]->(m:Person) "
                              "RETURN n.name, m.name", "--graph", "people"])
    assert cli.run(args, host) == 0
    out = capsys.readouterr().out
    assert "Dan Brown" in out
    args = parser.parse_args(["query", "MATCH (n) DETACH DELETE n", "--graph", "people"])
    assert cli.run(args, host) == 1
    assert "refused" in capsys.readouterr().err
    bad = tmp_path / "bad.tsv"
    bad.write_text("x\ty\n", encoding="utf-8")
    assert cli.run(parser.parse_args(["ingest", str(bad), "--graph", "people"]), host) == 1
    assert "line 1" in capsys.readouterr().err
