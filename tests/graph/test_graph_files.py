"""Graph files: damaged ones never open silently, the advice fits the cause, and reading
never rewrites a file."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sapient.connectors.graph import GraphError, Triple
from sapient.connectors.ladybug import DamagedGraphError, LadybugStore
from sapient.core.cli import main
from sapient.plugins.knowledge_graph._cli import READ_ONLY_ACTIONS


def _make(path: Path, n: int = 300) -> Path:
    with LadybugStore(path) as store:
        store.merge([Triple(f"n{i}", "R", f"m{i}", "A", "B", {"w": i}) for i in range(n)])
    return path


def _patch(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def _size(p: Path) -> int:
    return p.stat().st_size


DAMAGE = {
    "emptied": lambda p: p.write_bytes(b""),
    "cut in half": lambda p: os.truncate(p, _size(p) // 2),
    "last page cut": lambda p: os.truncate(p, _size(p) - 4096),
    "header zeroed": lambda p: _patch(p, 0, b"\0" * 4096),
    "header scrambled": lambda p: _patch(p, 16, bytes(range(64))),
    "middle overwritten": lambda p: _patch(p, _size(p) // 2, b"\xab" * 4096),
    "end overwritten": lambda p: _patch(p, _size(p) - 4096, b"\xcd" * 4096),
    "replaced by text": lambda p: p.write_text("hello\n" * 100, encoding="utf-8"),
    "garbage log": lambda p: Path(f"{p}.wal").write_bytes(bytes(range(256)) * 20),
    "deleted": lambda p: p.unlink(),
    "deleted, garbage log": lambda p: (p.unlink(), Path(f"{p}.wal").write_bytes(b"\x01" * 99)),
}


@pytest.mark.parametrize("read_only", [False, True], ids=["write", "read-only"])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_graph_never_opens_silently(tmp_path, damage, read_only):
    path = _make(tmp_path / "g")
    DAMAGE[damage](path)
    store = LadybugStore(path, read_only=read_only)
    with pytest.raises(DamagedGraphError) as info:
        store.schema()
    message = str(info.value)
    assert "Restore it from a backup" in message and "sapient graph ingest" in message
    assert "another program holds" not in message  # the old, wrong advice
    store.close()


def test_a_folder_is_not_a_graph_file(tmp_path):
    (tmp_path / "g").mkdir()
    with pytest.raises(GraphError, match="is a folder"):
        LadybugStore(tmp_path / "g").schema()


def test_an_intact_graph_reopens_after_reading_and_writing(tmp_path):
    path = _make(tmp_path / "g")
    for read_only in (False, True, False):
        with LadybugStore(path, read_only=read_only) as store:
            assert store.schema().nodes["A"].count == 300
    with LadybugStore(path) as store:
        store.merge([Triple("x", "R", "y", "A", "B")])
    with LadybugStore(path, read_only=True) as store:
        assert store.schema().nodes["A"].count == 301


def test_accepting_a_file_changed_on_purpose(tmp_path):
    path = _make(tmp_path / "g")
    _patch(path, _size(path) - 4096, b"\xcd" * 4096)
    with pytest.raises(DamagedGraphError, match=r"delete .*sapient\.json"):
        LadybugStore(path).schema()
    Path(f"{path}.sapient.json").unlink()  # what the message says to do
    with LadybugStore(path) as store:
        store.schema()


def test_a_writer_that_never_closed_leaves_a_checkable_file(tmp_path):
    code = textwrap.dedent(f"""
        from sapient.connectors.graph import Triple
        from sapient.connectors.ladybug import LadybugStore
        store = LadybugStore({str(tmp_path / 'g')!r})
        store.merge([Triple("a", "R", "b")])
        # no close(): the process just ends
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    with LadybugStore(tmp_path / "g", read_only=True) as store:
        assert store.read_query("MATCH (n) RETURN count(n)").rows == [[2]]
    _patch(tmp_path / "g", _size(tmp_path / "g") - 4096, b"\xcd" * 4096)
    with pytest.raises(DamagedGraphError):
        LadybugStore(tmp_path / "g", read_only=True).schema()


def _digest(path: Path) -> tuple[str, ...]:
    files = sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name))
    return tuple(f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()}" for p in files)


def test_read_only_commands_do_not_rewrite_the_graph(tmp_path, people_file, capsys):
    home = ["--home", str(tmp_path)]
    assert main([*home, "graph", "ingest", str(people_file), "--graph", "people"]) == 0
    path = tmp_path / "graphs" / "people"
    before = _digest(path)
    assert main([*home, "graph", "schema", "--graph", "people"]) == 0
    assert main([*home, "graph", "query", "MATCH (n:Person) RETURN n.name",
                 "--graph", "people"]) == 0
    assert _digest(path) == before
    assert "Dan Brown" in capsys.readouterr().out
    assert {"schema", "query", "ask"} == READ_ONLY_ACTIONS  # ask opens the graph the same way


def test_reading_a_missing_graph_creates_nothing(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "graph", "schema", "--graph", "nothing"]) != 0
    assert "Ingest data first" in capsys.readouterr().err
    assert not (tmp_path / "graphs" / "nothing").exists()


def test_damage_is_reported_in_one_sentence_by_the_cli(tmp_path, capsys):
    path = _make(tmp_path / "graphs" / "people")
    _patch(path, _size(path) // 2, b"\xab" * 4096)
    assert main(["--home", str(tmp_path), "graph", "schema", "--graph", "people"]) != 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "Restore it from a backup" in captured.err
