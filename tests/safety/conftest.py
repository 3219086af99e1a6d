from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def attack_sandbox(tmp_path_factory):
    """Documents, file names, graph and inbox holding the attacks."""
    from .corpus import attacks

    return _sandbox(tmp_path_factory.mktemp("attacks"), attacks())


@pytest.fixture(scope="module")
def benign_sandbox(tmp_path_factory):
    """The same channels holding only benign text."""
    from .corpus import benign

    return _sandbox(tmp_path_factory.mktemp("benign"), benign())


def _sandbox(home, cases):
    """A host on a temporary home with a real document index and a real graph."""
    from sapient import Host, Settings
    from sapient.plugins.knowledge_graph import ingest_file, open_store
    from sapient.plugins.retrieval import DocumentIndex

    settings = Settings(home=home)
    docs = home / "docs"
    docs.mkdir()
    rows = ["head\trelation\ttail\thead_label\ttail_label\tproperties"]
    inbox: dict[str, str] = {}
    for case in cases:
        key = case.prompt.split('"')[3].split()[-1] if case.channel != "direct" else ""
        if case.channel == "document":
            (docs / f"report_{key}.txt").write_text(f"Report {key}.\n{case.planted}\n")
        elif case.channel == "file_name":
            name = case.planted.replace("/", "_").replace("\n", " ")[:200]
            (docs / f"report {key} {name}.txt").write_text(f"Report {key}: figures attached.\n")
        elif case.channel == "graph":
            note = json.dumps({"note": case.planted})
            rows.append(f"Node {key}\tMENTIONS\t{case.planted[:120].replace(chr(10), ' ')}"
                        f"\tDoc\tNote\t{note}")
        elif case.channel == "tool_output":
            inbox[key] = case.planted
    index = DocumentIndex.open(settings.index_dir(), create=True)
    index.ingest([docs])
    index.save()
    (home / "graph.tsv").write_text("\n".join(rows) + "\n")
    host = Host(settings, load_entrypoints=False)
    store = open_store(settings.graph_spec, host)
    try:
        ingest_file(store, home / "graph.tsv")
    finally:
        store.close()
    return host, inbox

