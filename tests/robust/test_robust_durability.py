"""Durability of the document index: kill -9 at several points of a save, damaged or
missing files, and two writers. The previous state always loads, nothing committed is
lost, no temporary file outlives the next save."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faiss", reason="needs sapient[retrieval]")

from sapient.connectors.docstore import (  # noqa: E402
    IndexConflictError,
    IndexCorruptError,
    IndexFormatError,
)
from sapient.connectors.faiss import _snapshot as _store  # noqa: E402
from sapient.plugins.retrieval import DocumentIndex  # noqa: E402


class HashEmbedder:
    """Deterministic unit vectors from a text's hash: keeps these tests free of model
    loads (what is tested is the files on disk, not the embeddings)."""

    name = "test:hash"
    dimension = 16

    def embed(self, texts, show_progress=False):
        rows = []
        for t in texts:
            digest = hashlib.sha256(t.encode()).digest()
            v = np.frombuffer(digest[:16], dtype=np.uint8).astype(np.float32) + 1
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dimension)


def add_and_save(path: Path, names: list[str]) -> None:
    idx = DocumentIndex.open(path, HashEmbedder(), create=True)
    idx.add_texts([f"text of {n}" for n in names], ids=names)
    idx.save()


def docs(path: Path) -> set[str]:
    return set(DocumentIndex.open(path, HashEmbedder()).documents())


def temps(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.name.startswith((".tmp-", ".CURRENT.tmp")))


@pytest.fixture
def index(tmp_path: Path) -> Path:
    """An index saved three times (snapshots 2 and 3 kept), documents a, b, c."""
    path = tmp_path / "ix"
    for name in ("a", "b", "c"):
        add_and_save(path, [name])
    assert [p.name for _, p in _store._snapshots(path)] == ["snap-000002", "snap-000003"]
    return path


def _current(path: Path) -> Path:
    return path / json.loads((path / "CURRENT").read_text())["snapshot"]


# -- damage: every case loads the last good snapshot, and the next save builds on it ----

def _flip(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))


DAMAGE = {
    "CURRENT missing": lambda p: (p / "CURRENT").unlink(),
    "CURRENT garbage": lambda p: (p / "CURRENT").write_bytes(b"\x00\xff garbage"),
    "CURRENT names a missing snapshot": lambda p: (p / "CURRENT").write_text(
        json.dumps({"format": _store.FORMAT, "snapshot": "snap-000099"})),
    "newest snapshot: a file damaged": lambda p: _flip(_current(p) / "chunks.jsonl"),
    "newest snapshot: vectors truncated": lambda p: (_current(p) / "vectors.faiss").write_bytes(
        b"x"),
    "newest snapshot: manifest missing": lambda p: (_current(p) / "manifest.json").unlink(),
    "newest snapshot: folder missing": lambda p: __import__("shutil").rmtree(_current(p)),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_damage_falls_back_to_the_last_good_snapshot(index: Path, damage: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    newest_intact = damage.startswith("CURRENT")
    DAMAGE[damage](index)
    with caplog.at_level(logging.WARNING, logger="sapient.retrieval"):
        loaded = docs(index)
    assert loaded == ({"a", "b", "c"} if newest_intact else {"a", "b"})
    assert "last good snapshot" in caplog.text
    add_and_save(index, ["d"])  # the next save builds on what loaded, never starts over
    assert docs(index) == loaded | {"d"}
    assert _store.read_snapshot(index)[0] == _current(index)


def test_when_every_snapshot_is_damaged_nothing_is_overwritten(index: Path) -> None:
    for _, snap in _store._snapshots(index):
        _flip(snap / "chunks.jsonl")
    before = sorted(p.name for p in index.rglob("*"))
    with pytest.raises(IndexCorruptError, match="damaged"):
        docs(index)
    with pytest.raises(Exception, match="already exists"):
        DocumentIndex.create(index, HashEmbedder())
    assert sorted(p.name for p in index.rglob("*")) == before


def test_a_newer_format_is_never_skipped_for_older_data(index: Path) -> None:
    manifest = _current(index) / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(IndexFormatError, match="version 99"):
        docs(index)


# -- two writers ----------------------------------------------------------------------

def test_a_writer_that_would_drop_anothers_documents_is_refused(index: Path) -> None:
    first = DocumentIndex.open(index, HashEmbedder())
    second = DocumentIndex.open(index, HashEmbedder())
    first.add_texts(["one"], ids=["first"])
    second.add_texts(["two"], ids=["second"])
    first.save()
    with pytest.raises(IndexConflictError, match="another process"):
        second.save()
    assert docs(index) == {"a", "b", "c", "first"}
    again = DocumentIndex.open(index, HashEmbedder())  # what the refused writer does next
    again.add_texts(["two"], ids=["second"])
    again.save()
    assert docs(index) == {"a", "b", "c", "first", "second"}


def test_the_writer_lock_serialises_load_modify_save(index: Path) -> None:
    """Eight threads, each holding the writer lock over its whole load-modify-save."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with DocumentIndex.lock(index):
                add_and_save(index, [f"w{n}"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert docs(index) == {"a", "b", "c"} | {f"w{n}" for n in range(8)}


# -- kill -9 at several points of a save ----------------------------------------------

_CHILD = """
import os, shutil, signal, sys
sys.path.insert(0, {tests!r})
from test_robust_durability import HashEmbedder
from sapient.connectors.faiss import _snapshot as _store
from sapient.plugins.retrieval import DocumentIndex

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

point = {point!r}
if point == "writing data files":
    _store._sha256 = die
elif point == "snapshot in place, CURRENT not switched":
    _store._replace_current = die
elif point == "new CURRENT written, not yet renamed":
    real = os.replace
    os.replace = lambda a, b: die() if str(b).endswith("CURRENT") else real(a, b)
elif point == "CURRENT switched, pruning":
    real_rmtree = shutil.rmtree
    shutil.rmtree = lambda p, **kw: die() if "snap-" in str(p) else real_rmtree(p, **kw)
idx = DocumentIndex.open({path!r}, HashEmbedder())
idx.add_texts(["text of d"], ids=["d"])
idx.save()
"""

KILL_POINTS = ["writing data files", "snapshot in place, CURRENT not switched",
               "new CURRENT written, not yet renamed", "CURRENT switched, pruning"]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_9_during_a_save_loses_nothing(index: Path, point: str) -> None:
    script = textwrap.dedent(_CHILD).format(tests=str(Path(__file__).parent), point=point,
                                            path=str(index))
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    loaded = docs(index)  # the previous state or the new one, complete
    assert loaded in ({"a", "b", "c"}, {"a", "b", "c", "d"})
    add_and_save(index, ["e"])
    assert docs(index) == loaded | {"e"}
    assert temps(index) == []  # the next save cleared what the killed one left
    assert os.path.isdir(_current(index))


# -- two `sapient ingest` processes into one index (the real CLI and embedder) ---------

def _folder(root: Path, prefix: str, n: int) -> Path:
    folder = root / prefix
    folder.mkdir()
    for i in range(n):
        (folder / f"{prefix}{i}.txt").write_text(f"Note {i} of {prefix}: the {prefix} "
                                                 f"harbour logbook, entry number {i}.")
    return folder


def _sapient(*argv: str, home: Path) -> subprocess.Popen:
    env = {**os.environ, "SAPIENT_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "sapient", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_two_ingest_processes_into_one_index_keep_both(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers", reason="needs sapient[retrieval]")
    home = tmp_path / "home"
    runs = [_sapient("ingest", str(_folder(tmp_path, p, 10)), "--index", "shared", home=home)
            for p in ("alpha", "beta")]  # at the same time
    outputs = [r.communicate(timeout=300)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    path = home / "indexes" / "shared"
    idx = DocumentIndex.open(path, "sentence-transformers:all-MiniLM-L6-v2")
    names = {Path(d).name for d in idx.documents()}
    assert len(names) == 20 and {n[:4] for n in names} == {"alph", "beta"}
