"""Stores come from the host: an installed plugin's ``ladybug`` scheme replaces the built-in
one for the graph tools and the ``sapient graph`` command; the default graph path is
computed once; a toolkit without a host says what it needs. (That no plugin or connector
builds a host or imports a plugin is checked for every folder in tests/core/test_core_layout.py.)"""

from __future__ import annotations

import sys
import textwrap

import pytest
from sapient import ConfigurationError, Host, Settings
from sapient.connectors.ladybug import LadybugStore
from sapient.plugins.knowledge_graph import GraphToolkit, graph_spec, open_store

PLUGIN = """
    import numpy as np
    from sapient import hookimpl
    from sapient.connectors.graph import Triple
    from sapient.connectors.ladybug import LadybugStore

    OPENED = []


    class PluginStore(LadybugStore):
        '''An in-memory store holding one fact, so a test can tell it from the built-in.'''

        def __init__(self, rest):
            super().__init__(":memory:")
            OPENED.append(rest)
            self.merge([Triple("Plugin Node", "SERVED_BY", "Plugin Store", "Marker", "Marker")])


    class HashEmbedder:
        '''Bag-of-words hashing vectors: enough for linking and path scoring in a test.'''

        dimension = 64

        def embed(self, texts):
            out = np.zeros((len(texts), self.dimension), dtype="float32")
            for i, text in enumerate(texts):
                for word in text.lower().split():
                    out[i, hash(word) % self.dimension] += 1.0
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            return out / np.where(norms == 0, 1.0, norms)


    @hookimpl
    def register_graph_stores(register):
        register("ladybug", lambda rest, settings: PluginStore(rest), help="test store")


    @hookimpl
    def register_embedders(register):
        register("hash", lambda rest, settings: HashEmbedder(), help="test embedder")
"""


@pytest.fixture
def store_plugin(tmp_path, monkeypatch):
    """A distribution on sys.path whose entry point registers its own ``ladybug`` scheme."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "sapient_test_graphstore.py").write_text(textwrap.dedent(PLUGIN))
    info = root / "sapient_test_graphstore-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: sapient-test-graphstore\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[sapient]\ngraphstore = sapient_test_graphstore\n")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("SAPIENT_PLUGINS", "graphstore")
    monkeypatch.delenv("SAPIENT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    yield
    sys.modules.pop("sapient_test_graphstore", None)


def test_plugin_store_replaces_builtin_ladybug_for_the_graph_tools(store_plugin, tmp_path):
    host = Host(Settings(home=tmp_path, embedder="hash:x"))
    reg = host.registry("graph_stores")["ladybug"]
    assert reg.plugin == "graphstore" and reg.replaced == "sapient.connectors.ladybug"
    tools = host.tools()
    assert "SERVED_BY" in tools["graph_schema"]()
    assert "Plugin Store" in tools["graph_neighbors"](entity="Plugin Node").content
    answers = tools["graph_retrieve"](question="What is Plugin Node served by?")
    assert answers.data["answers"] and answers.data["answers"][0]["answer"] == "Plugin Store"
    opened = sys.modules["sapient_test_graphstore"].OPENED
    assert opened == [str(tmp_path / "graphs" / "default")]  # one store, the settings' path
    assert not (tmp_path / "graphs").exists()  # the built-in store never opened


def test_plugin_store_serves_the_graph_command(store_plugin, tmp_path, capsys):
    from sapient.core.cli import main

    assert main(["--home", str(tmp_path), "graph", "schema", "--graph", "people"]) == 0
    assert "SERVED_BY" in capsys.readouterr().out
    opened = sys.modules["sapient_test_graphstore"].OPENED
    assert opened == [f"{tmp_path / 'graphs' / 'people'}?read_only=1"]  # schema only reads


def test_without_the_plugin_the_builtin_store_is_used(tmp_path):
    host = Host(Settings(home=tmp_path), load_entrypoints=False)
    assert host.registry("graph_stores")["ladybug"].replaced is None
    store = open_store("people", host)
    try:
        assert isinstance(store, LadybugStore)
        assert store.path == str(tmp_path / "graphs" / "people")
    finally:
        store.close()


def test_one_rule_for_graph_paths(tmp_path):
    settings = Settings(home=tmp_path)
    assert settings.graph_spec == f"ladybug:{settings.graph_dir()}"
    assert graph_spec(None, settings) == settings.graph_spec
    assert graph_spec("people", settings) == f"ladybug:{tmp_path / 'graphs' / 'people'}"
    assert graph_spec("neo4j:bolt://h:7687", settings) == "neo4j:bolt://h:7687"
    host = Host(settings, load_entrypoints=False)
    store = host.graph_store("ladybug:")  # no path: the same default folder
    assert store.path == str(settings.graph_dir())
    store.close()


def test_toolkit_without_store_or_host_says_what_to_pass(people_store):
    with pytest.raises(ConfigurationError, match="store or a host"):
        GraphToolkit()
    toolkit = GraphToolkit(people_store)
    with pytest.raises(ConfigurationError, match="embedder="):
        toolkit.graph_retrieve("Who does Bob Jones know?")
    assert "count=4" in toolkit.graph_schema()


def test_open_store_wants_the_host(tmp_path):
    with pytest.raises(TypeError, match="open_store"):
        open_store("people", Settings(home=tmp_path))
