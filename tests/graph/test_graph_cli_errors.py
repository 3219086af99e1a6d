"""``sapient graph`` given bad input: one plain sentence, a non-zero exit, nothing lost, never
a traceback. Run in-process through the CLI's entry function."""

from __future__ import annotations

import pytest
from sapient.connectors.ladybug import LadybugStore
from sapient.core.cli import main


@pytest.fixture
def cli(tmp_path, capsys):
    """``cli(*args)`` -> (exit code, stdout, stderr), with SAPIENT_HOME in tmp_path."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--home", str(tmp_path), "graph", *args])
        out = capsys.readouterr()
        assert "Traceback" not in out.out + out.err
        return code, out.out, out.err

    return run


def _nodes(path) -> int:
    with LadybugStore(path, read_only=True) as store:
        return store.execute("MATCH (n) RETURN count(n)").rows[0][0]


@pytest.mark.parametrize("suffix, content", [
    (".tsv", b"Ann\tKNOWS\tBob\nCaf\xe9\tKNOWS\tBob\n"),
    (".csv", b"\xff\xfeA\x00,\x00R\x00"),
    (".jsonl", b'{"head": "a", "relation": "R", "tail": "\xc3"}\n'),
    (".cypher", b"CREATE (:Person {name: 'Jos\xe9'});\n"),
])
def test_invalid_utf8_is_one_sentence(cli, tmp_path, suffix, content):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    code, _, err = cli("ingest", str(path), "--graph", "g")
    assert code != 0
    assert "is not UTF-8 text" in err and "save it as UTF-8" in err


def test_non_ascii_labels_and_relations_work(cli, tmp_path):
    path = tmp_path / "it.tsv"
    path.write_text("head\trelation\ttail\thead_label\ttail_label\n"
                    "Roma\tè capitale di\tItalia\tCittà\tPaese\n"
                    "東京\t首都\t日本\t都市\t国\n", encoding="utf-8")
    assert cli("ingest", str(path), "--graph", "g")[0] == 0
    code, out, _ = cli("query", "MATCH (a:Città)-[:è_capitale_di]->(b:Paese) RETURN b.name",
                       "--graph", "g")
    assert code == 0 and "Italia" in out
    code, out, _ = cli("query", "MATCH (a:都市)-[:首都]->(b) RETURN b.name", "--graph", "g")
    assert code == 0 and "日本" in out


def test_markup_like_names_print_as_text(cli, tmp_path):
    path = tmp_path / "m.tsv"
    path.write_text("[/b] Ann\tKNOWS\t[bold]Bob[/]\n", encoding="utf-8")
    assert cli("ingest", str(path), "--graph", "g")[0] == 0
    code, out, _ = cli("query", "MATCH (a)-[:KNOWS]->(b) RETURN a.name, b.name", "--graph", "g")
    assert code == 0 and "[/b] Ann" in out and "[bold]Bob[/]" in out


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_batch_size_must_be_positive(cli, tmp_path, capsys, people_file, value):
    code = main(["--home", str(tmp_path), "graph", "ingest", str(people_file), "--batch-size",
                 value])
    assert code == 2
    assert "--batch-size" in capsys.readouterr().err
    assert not (tmp_path / "graphs" / "default").exists()


def test_ask_and_query_on_an_empty_graph(cli, tmp_path):
    with LadybugStore(tmp_path / "graphs" / "empty") as store:  # a graph with nothing in it
        assert store.schema().empty
    code, _, err = cli("ask", "Who knows Bob?", "--graph", "empty")
    assert code == 1 and "The graph is empty" in err
    code, _, err = cli("query", "MATCH (n) RETURN n", "--graph", "empty")
    assert code == 1 and "The graph is empty" in err


def test_ask_on_a_missing_graph(cli, tmp_path):
    code, _, err = cli("ask", "Who knows Bob?", "--graph", "nowhere")
    assert code != 0 and "Ingest data first" in err
    assert not (tmp_path / "graphs" / "nowhere").exists()


@pytest.mark.parametrize("statement, flag", [
    ("MATCH (n) DETACH DELETE n", "--allow-destructive"),
    ("DROP TABLE Person", "--allow-destructive"),
    ("COPY (MATCH (n) RETURN n.name) TO '{out}'", "--allow-file-access"),
    ("LOAD FROM '{out}' RETURN *", "--allow-file-access"),
])
def test_scripts_that_delete_or_touch_files_need_a_flag(cli, tmp_path, people_file,
                                                         statement, flag):
    assert cli("ingest", str(people_file), "--graph", "g")[0] == 0
    before = _nodes(tmp_path / "graphs" / "g")
    out = tmp_path / "out.csv"
    script = tmp_path / "s.cypher"
    script.write_text("CREATE (:Person {name: 'Zed'});\n" + statement.format(out=out) + ";\n",
                      encoding="utf-8")
    code, _, err = cli("ingest", str(script), "--graph", "g")
    assert code == 1 and "nothing was written" in err and flag in err
    assert "statement 2 (line 2)" in err
    assert _nodes(tmp_path / "graphs" / "g") == before and not out.exists()


def test_a_destructive_script_runs_with_its_flag(cli, tmp_path, people_file):
    assert cli("ingest", str(people_file), "--graph", "g")[0] == 0
    script = tmp_path / "wipe.cypher"
    script.write_text("MATCH (n:Person {name: 'Dan Brown'}) DETACH DELETE n;\n", encoding="utf-8")
    assert cli("ingest", str(script), "--graph", "g", "--allow-destructive")[0] == 0
    assert _nodes(tmp_path / "graphs" / "g") == 8


def test_query_refusals_are_one_sentence(cli, people_file):
    assert cli("ingest", str(people_file), "--graph", "g")[0] == 0
    for query in ("RETURN 1; COMMIT; CREATE (:Person {name: 'x'})",
                  "COPY (MATCH (n) RETURN n) TO '/tmp/x.csv'", "MATCH (n:Person RETURN n"):
        code, _, err = cli("query", query, "--graph", "g")
        assert code == 1 and err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_extract_refuses_invalid_utf8(cli, tmp_path, monkeypatch):
    text = tmp_path / "notes.txt"
    text.write_bytes(b"Ann works at \xff Acme.")
    code, _, err = cli("extract", str(text), "--graph", "g", "--llm", "scripted:echo")
    assert code != 0 and "is not UTF-8 text" in err
