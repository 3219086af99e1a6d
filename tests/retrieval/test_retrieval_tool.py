"""The search_documents tool (through the plugin host and an agent) and the CLI commands."""

from __future__ import annotations

import argparse
import json

import pytest
from sapient import Agent, Host, Settings, ToolOutput
from sapient.connectors.scripted import ScriptedLLM
from sapient.core.hookspecs import hookimpl
from sapient.plugins.retrieval import DocumentIndex, DocumentSearch, RetrievalToolkit
from sapient.plugins.retrieval._cli import (
    configure_index,
    configure_ingest,
    configure_search,
    run_index,
    run_ingest,
    run_search,
)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory, sample_docs, minilm):
    """A Sapient home whose default index holds the shipped sample documents."""
    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home)
    idx = DocumentIndex.create(settings.index_dir(), minilm)
    summary = idx.ingest(sample_docs)
    assert summary.files >= 8 and not summary.errors
    idx.save()
    return home


def _args(configure, argv):
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(argv)


def test_plugin_registers_tool_and_commands(tmp_path):
    host = Host(Settings(home=tmp_path), load_entrypoints=False)
    assert "search_documents" in host.tools()
    assert {"ingest", "search"} <= set(host.registry("commands"))
    assert host.registry("commands")["ingest"].extra["configure"] is configure_ingest
    assert not [e for e in host.load_errors if "retrieval" in e.plugin]


def test_missing_index_says_how_to_create_it(tmp_path):
    host = Host(Settings(home=tmp_path), load_entrypoints=False)
    out = host.tools()["search_documents"].function("warranty")
    assert isinstance(out, ToolOutput) and not out.citations
    assert "sapient ingest PATH --index default" in out.content


def test_tool_returns_citable_passages(demo_home, minilm):
    search = DocumentSearch(Settings(home=demo_home), embedder=minilm)
    out = search("How long is the warranty on Lumora hardware?", k=3)
    assert out.citations and out.data["abstained"] is False
    top = out.citations[0]
    assert top.source_id.startswith("docs/warranty-and-returns.md#")
    assert "2-year" in top.text
    assert f"[{top.source_id}]" in out.content
    assert "cite" in out.content.lower()
    assert top.metadata["dense_score"] >= search.min_score
    out = search("rate limit", k=2, filters={"file_name": "api-guide.md"})
    assert all(c.source_id.startswith("docs/api-guide.md#") for c in out.citations)


@pytest.mark.parametrize("question", ["Who won the 2018 football World Cup?",
                                      "How do I bake sourdough bread?",
                                      "Explain quantum entanglement."])
def test_tool_abstains_on_off_topic_questions(demo_home, minilm, question):
    search = DocumentSearch(Settings(home=demo_home), embedder=minilm)
    out = search(question)
    assert out.data["abstained"] is True and out.citations == []
    assert "No sufficient evidence" in out.content
    assert out.data["best_score"] < search.min_score


def test_tool_reloads_after_the_index_changes(tmp_path, minilm):
    settings = Settings(home=tmp_path)
    search = DocumentSearch(settings, embedder=minilm)
    idx = DocumentIndex.create(settings.index_dir(), minilm)
    idx.add_texts(["The office cat is called Biscuit."], ids=["cat"])
    idx.save()
    assert search("What is the office cat called?").citations[0].source_id == "cat"
    idx.add_texts(["The office dog is called Pixel."], ids=["dog"])
    idx.save()
    assert search("What is the office dog called?").citations[0].source_id == "dog"


def test_tool_embeds_queries_with_the_hosts_embedder(demo_home, embedder):
    """A plugin's embedder for the recorded scheme reaches the model used inside the tool."""

    class CountingModels:
        @hookimpl
        def register_embedders(self, register):
            register("sentence-transformers", lambda rest, settings: embedder)

    host = Host(Settings(home=demo_home), plugins=[CountingModels()], load_entrypoints=False)
    assert host.registry("embedders")["sentence-transformers"].replaced
    (tool,) = RetrievalToolkit(host).tools()
    out = tool.function("How long is the warranty?")
    assert out.citations and embedder.calls == [["How long is the warranty?"]]
    assert host.embedder() is embedder  # one instance per host, shared with other tools


def test_agent_answers_with_citations(demo_home, minilm):
    host = Host(Settings(home=demo_home), load_entrypoints=False)
    tool = host.tools()["search_documents"]

    def script(messages, tools, options):
        last = messages[-1]
        if last.role == "user":
            return {"tool": "search_documents", "args": {"query": "Aurora X2 price"}}
        first_id = last.content.split("[", 2)[2].split("]", 1)[0]
        return f"The Aurora X2 costs 349 euros excluding VAT [{first_id}]."

    agent = Agent(ScriptedLLM(function=script), tools=[tool], host=host)
    result = agent.run("How much is the Aurora X2?")
    assert "349 euros" in result.answer
    assert result.citations
    cited = {c.source_id for c in result.citations}
    assert any(s.startswith("docs/aurora-x2-specifications.md#") for s in cited)
    assert result.answer.split("[")[1].rstrip("].") in cited


def test_cli_ingest_and_search(tmp_path, sample_docs, capsys, minilm):
    host = Host(Settings(home=tmp_path), load_entrypoints=False)
    args = _args(configure_ingest, [str(sample_docs), "--index", "demo"])
    assert run_ingest(args, host) == 0
    out = capsys.readouterr().out
    assert "added" in out and "index 'demo'" in out
    assert (tmp_path / "indexes" / "demo" / "CURRENT").is_file()
    assert run_ingest(args, host) == 0  # unchanged: all skipped
    assert "skipped" in capsys.readouterr().out
    args = _args(configure_search, ["What does error E-204 mean?", "--index", "demo", "-k", "2",
                                    "--json"])
    assert run_search(args, host) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and rows[0]["id"].startswith("docs/troubleshooting.md#")
    args = _args(configure_search, ["pump jam", "--index", "demo", "--filter",
                                    "file_type=md", "--mode", "bm25"])
    assert run_search(args, host) == 0
    assert "troubleshooting.md" in capsys.readouterr().out
    args = _args(configure_search, ["anything", "--index", "missing"])
    assert run_search(args, host) == 1
    assert "sapient ingest" in capsys.readouterr().out
    args = _args(configure_ingest, [str(tmp_path / "nope"), "--index", "demo"])
    assert run_ingest(args, host) == 1
    assert "No such file" in capsys.readouterr().out
    assert run_index(_args(configure_index, ["copy", "demo", "backup"]), host) == 0
    assert "copied" in capsys.readouterr().out
    args = _args(configure_search, ["E-204", "--index", "backup", "--mode", "bm25", "--json"])
    assert run_search(args, host) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["id"].startswith("docs/")
    assert run_index(_args(configure_index, ["copy", "missing", "other"]), host) == 1
    assert "No document index" in capsys.readouterr().out


def test_index_without_a_host_builds_the_default_embedder(tmp_path, minilm):
    idx = DocumentIndex.open(tmp_path / "ix", create=True, settings=Settings(home=tmp_path))
    assert idx.embedder.name == minilm.name  # from the built-in connector, no Host built
    idx.add_texts(["Refunds take five days."], ids=["refunds"])
    assert idx.search("how long do refunds take?", k=1)[0].id == "refunds"

