"""Every ``sapient`` command given bad input exits non-zero with one plain sentence,
never a traceback, and loses nothing (the index and the graph still load afterwards).

Run in-process through the CLI's entry function, so the whole suite costs one model
load (the embedder is cached per process) instead of one per command.
"""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pytest
from robust_cli_cases import Case, cases, make_files

pytest.importorskip("faiss", reason="needs sapient[retrieval]")
pytest.importorskip("ladybug", reason="needs sapient[graph]")
pytest.importorskip("pandas", reason="needs sapient[anomaly]")

ALL = cases()
#: What a user should never read: a Python exception's class and message, a codec's
#: complaint, pydantic's validation dump.
_RAW_ERROR = re.compile(r"^\w+(Error|Exception): |codec can't decode|errors\.pydantic\.dev|"
                        r"\[type=\w+", re.MULTILINE)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """A home with a document index ``docs`` and a graph ``people``, and the bad files."""
    root = tmp_path_factory.mktemp("cli")
    home, d = root / "home", root / "files"
    d.mkdir()
    make_files(d)
    (d / "people.tsv").write_text("Alice\tKNOWS\tBob\nBob\tLIVES_IN\tParis\n")
    for argv in (["ingest", str(d / "markup.txt"), str(d / "note.txt"), "--index", "docs"],
                 ["ingest", str(d / "note.txt"), "--index", "damaged"],
                 ["graph", "ingest", str(d / "people.tsv"), "--graph", "people"]):
        code, out = run_cli(list(argv), home=home)
        assert code == 0, out
    from sapient import Host, Settings

    empty = home / "graphs" / "emptygraph"  # a graph with nothing in it
    store = Host(Settings(home=home), load_entrypoints=False).graph_store(f"ladybug:{empty}")
    assert store.schema().empty
    store.close()
    _damage_index(home / "indexes" / "damaged")
    return {"home": home, "d": d}


def _damage_index(folder: Path) -> None:
    """Flip bytes in every data file of the index's snapshots."""
    for f in folder.rglob("*"):
        if f.is_file() and f.name not in ("CURRENT", "manifest.json", ".lock"):
            data = bytearray(f.read_bytes())
            if data:
                data[len(data) // 2] ^= 0xFF
                f.write_bytes(bytes(data))


def run_cli(argv: list[str], stdin: str | None = None, *,
            home: Path) -> tuple[int | None, str]:
    """``sapient.core.cli.main(argv)`` with ``SAPIENT_HOME=home``: exit code and output.

    An exception escaping ``main`` is what a user would see as a traceback: it is
    returned as exit code ``None`` with the traceback as output.
    """
    import traceback

    from sapient.core.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr, sys.stdin
    sys.stdout, sys.stderr = out, err
    sys.stdin = io.StringIO(stdin if stdin is not None else "")
    saved_home = os.environ.get("SAPIENT_HOME")
    os.environ["SAPIENT_HOME"] = str(home)
    try:
        code: int | None = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        code = None
        err.write(traceback.format_exc())
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
        if saved_home is None:
            os.environ.pop("SAPIENT_HOME", None)
        else:
            os.environ["SAPIENT_HOME"] = saved_home
    return code, out.getvalue() + err.getvalue()


def _argv(case: Case, world: dict) -> list[str]:
    return [a.replace("{d}", str(world["d"])).replace("{home}", str(world["home"]))
            for a in case.argv]


def outcome(case: Case, world: dict) -> tuple[str, int | None, str]:
    """``"traceback"``, ``"raw error"``, ``"wrong exit"``, ``"silent"`` or ``"ok"``."""
    code, text = run_cli(_argv(case, world), case.stdin, home=world["home"])
    if code is None or "Traceback (most recent call last)" in text:
        return "traceback", code, text
    if case.expect == "error":
        if code == 0:
            return "wrong exit", code, text
        if not text.strip():
            return "silent", code, text
        if _RAW_ERROR.search(text):
            return "raw error", code, text
    elif case.expect == "ok" and code != 0:
        return "wrong exit", code, text
    return "ok", code, text


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_bad_input_gets_one_plain_sentence(case: Case, world: dict) -> None:
    verdict, code, text = outcome(case, world)
    assert verdict == "ok", f"{verdict} (exit {code}):\n{text[-3000:]}"


def _contents(world: dict) -> tuple[str, str]:
    """What the index ``docs`` and the graph ``people`` hold (every hit, every edge)."""
    code, docs = run_cli(["search", "Alice Bob harbour bold", "--index", "docs", "--json",
                          "-k", "50", "--mode", "bm25"], home=world["home"])
    assert code == 0, docs
    code, graph = run_cli(["graph", "query", "MATCH (a)-[r]->(b) RETURN a.name, b.name",
                           "--graph", "people"], home=world["home"])
    assert code == 0, graph
    return docs, graph


def test_nothing_was_lost(world: dict) -> None:
    """Every bad input aimed at the index and the graph that hold data: both still load
    and hold what they held."""
    before = _contents(world)
    assert "note.txt" in before[0] and "Alice" in before[1] and "Paris" in before[1]
    for case in ALL:
        if case.command in ("ingest", "graph ingest") and case.expect == "error":
            argv = [{"scratch": "docs", "scratch2": "docs"}.get(a, a) for a in _argv(case, world)]
            if case.command == "graph ingest":
                argv = ["people" if a in ("scratch", "big") else a for a in argv]
            run_cli(argv, case.stdin, home=world["home"])
    assert _contents(world) == before


def test_a_passage_with_markup_is_printed_as_text(world: dict) -> None:
    code, text = run_cli(["search", "close bold", "--index", "docs"], home=world["home"])
    assert code == 0
    assert "Use [/b] to close bold" in text and "[link=x]y[/link]" in text, text
