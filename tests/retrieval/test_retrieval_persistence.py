"""Saving and loading: round trip, atomic save under crashes, damaged and foreign files."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sapient import SapientError
from sapient.connectors.faiss import _snapshot as _store
from sapient.plugins.retrieval import (
    DocumentIndex,
    EmbedderMismatchError,
    IndexCorruptError,
    IndexFormatError,
    IndexNotFoundError,
    RetrievalError,
)


@pytest.fixture
def saved(tmp_path, embedder, corpus):
    ids, texts, metas = corpus
    idx = DocumentIndex.create(tmp_path / "ix", embedder)
    idx.add_texts(texts, metas, ids=ids)
    idx.save()
    return idx


def _current_snapshot(path: Path) -> Path:
    return path / json.loads((path / "CURRENT").read_text())["snapshot"]


def _results(idx, query, **kw):
    return [(h.id, round(h.score, 6), h.metadata) for h in idx.search(query, k=6, **kw)]


def test_round_trip(saved, embedder):
    path = saved.path
    loaded = DocumentIndex.open(path, embedder)
    assert len(loaded) == len(saved) and loaded.documents() == saved.documents()
    for mode in ("hybrid", "dense", "bm25"):
        assert _results(loaded, "moons of Mars", mode=mode) == \
            _results(saved, "moons of Mars", mode=mode)
    # Changes after a reload continue cleanly (FAISS ids are never reused).
    loaded.add_texts(["A new chunk about comets and their tails."], ids=["comet"])
    loaded.delete("tax")
    loaded.save()
    again = DocumentIndex.open(path, embedder)
    assert "comet" in again and "tax" not in again
    assert again.search("comet tail", k=1)[0].id == "comet"
    assert len({c.vid for c in again.chunks()}) == len(again)  # FAISS ids stay unique
    manifest = json.loads((_current_snapshot(path) / "manifest.json").read_text())
    assert manifest["format"] == "sapient-document-index" and manifest["version"] == 1
    assert set(manifest["files"]) >= {"chunks.jsonl", "vectors.faiss", "bm25.vocab.json"}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    assert manifest["embedder"] == {"name": embedder.name, "dimension": 384}


def test_round_trip_hnsw_with_tombstones(tmp_path, minilm):
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((300, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    idx = DocumentIndex.create(tmp_path / "h", minilm, index_type="hnsw")
    idx.add_texts([f"row {i}" for i in range(300)], ids=[f"r{i}" for i in range(300)],
                  embeddings=vecs)
    idx.delete(["r0", "r1"])
    idx.save()
    loaded = DocumentIndex.open(tmp_path / "h", minilm)
    assert loaded.vector_index_kind == "hnsw"
    assert loaded.store._vectors.tombstones == idx.store._vectors.tombstones and len(loaded) == 298
    hits = loaded.search("q", k=3, mode="dense", query_vector=vecs[0])
    assert "r0" not in {h.id for h in hits}
    assert loaded.search("q", k=1, mode="dense", query_vector=vecs[7])[0].id == "r7"


def test_open_without_embedder_uses_recorded_model(saved, tmp_path):
    from sapient import Settings

    loaded = DocumentIndex.open(saved.path, settings=Settings(home=tmp_path))
    assert loaded.search("moons of Mars", k=1)[0].id == "mars"
    assert loaded.embedder.name == "sentence-transformers:all-MiniLM-L6-v2"


@pytest.mark.parametrize("stage", ["write_files", "before_rename", "before_current"])
def test_crash_during_save_keeps_previous_version(saved, embedder, monkeypatch, stage):
    path = saved.path
    before = _results(saved, "moons of Mars")
    saved.add_texts(["Something entirely new about volcanoes."], ids=["volcano"])
    saved.delete("mars")

    class Crash(BaseException):
        pass

    def boom(*a, **k):
        raise Crash(stage)

    if stage == "write_files":
        monkeypatch.setattr(saved.store._bm25, "write", boom)
    elif stage == "before_rename":
        monkeypatch.setattr(_store.os, "rename", boom)
    else:
        monkeypatch.setattr(_store, "_replace_current", boom)
    with pytest.raises(Crash):
        saved.save()
    monkeypatch.undo()
    reloaded = DocumentIndex.open(path, embedder)
    assert "volcano" not in reloaded and "mars" in reloaded
    assert _results(reloaded, "moons of Mars") == before
    # The next save succeeds and cleans up what the crash left behind.
    saved.save()
    final = DocumentIndex.open(path, embedder)
    assert "volcano" in final and "mars" not in final
    assert not list(path.glob(".tmp-*"))
    assert len(_store._snapshots(path)) <= 2


def test_kill_during_save_keeps_previous_version(tmp_path, minilm):
    """A real SIGKILL in the middle of writing a snapshot."""
    path = tmp_path / "k"
    rng = np.random.default_rng(5)
    vecs = rng.standard_normal((50, 384)).astype(np.float32)
    idx = DocumentIndex.create(path, minilm)
    idx.add_texts([f"first version {i}" for i in range(50)], ids=[f"d{i}" for i in range(50)],
                  embeddings=vecs)
    idx.save()
    np.save(tmp_path / "vecs.npy", vecs)
    script = textwrap.dedent(f"""
        import os, signal, numpy as np
        from sapient.connectors.embeddings import SentenceTransformerEmbedder
        from sapient.plugins.retrieval import DocumentIndex
        from sapient.connectors.faiss import _vectors
        idx = DocumentIndex.open({str(path)!r}, SentenceTransformerEmbedder())
        vecs = np.load({str(tmp_path / 'vecs.npy')!r})
        idx.add_texts(["second version"] * 1, ids=["d0"], embeddings=vecs[:1] * -1)
        real_write = _vectors.VectorIndex.write
        def write_then_die(self, p):
            real_write(self, p)
            os.kill(os.getpid(), signal.SIGKILL)   # killed with the snapshot half written
        _vectors.VectorIndex.write = write_then_die
        idx.save()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert list(path.glob(".tmp-snap-*")), "the kill should have left a partial snapshot"
    reloaded = DocumentIndex.open(path, minilm)
    assert reloaded.get("d0").text == "first version 0"
    assert len(reloaded) == 50


def _flip_byte(file: Path, offset: int | None = None) -> None:
    data = bytearray(file.read_bytes())
    pos = len(data) // 2 if offset is None else offset
    data[pos] ^= 0xFF
    file.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["vectors.faiss", "chunks.jsonl", "bm25.data.npy",
                                  "bm25.vocab.json"])
def test_corrupt_file_is_rejected(saved, embedder, name):
    _flip_byte(_current_snapshot(saved.path) / name)
    with pytest.raises(IndexCorruptError, match="damaged") as info:
        DocumentIndex.open(saved.path, embedder)
    assert name in str(info.value)
    assert isinstance(info.value, SapientError)


def test_truncated_and_missing_files_are_rejected(saved, embedder):
    snap = _current_snapshot(saved.path)
    (snap / "vectors.faiss").write_bytes((snap / "vectors.faiss").read_bytes()[:100])
    with pytest.raises(IndexCorruptError):
        DocumentIndex.open(saved.path, embedder)
    (snap / "vectors.faiss").unlink()
    with pytest.raises(IndexCorruptError, match="missing"):
        DocumentIndex.open(saved.path, embedder)


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_foreign_and_malicious_files_never_execute(tmp_path, saved, embedder):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit(str(marker)))
    # A pickle where the pointer file should be.
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "CURRENT").write_bytes(payload)
    with pytest.raises(IndexFormatError):
        DocumentIndex.open(foreign, embedder)
    # A pickle in place of the chunk table and of the FAISS file, checksums updated
    # (a deliberate forgery, not an accident): still never unpickled.
    snap = _current_snapshot(saved.path)
    for name in ("chunks.jsonl", "vectors.faiss", "bm25.data.npy"):
        (snap / name).write_bytes(payload)
        manifest = json.loads((snap / "manifest.json").read_text())
        manifest["files"][name] = {"sha256": _store._sha256(snap / name),
                                   "bytes": len(payload)}
        (snap / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises((IndexCorruptError, IndexFormatError)):
            DocumentIndex.open(saved.path, embedder)
    assert not marker.exists()
    # A folder of someone else's files is not an index, and is not written into.
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(IndexFormatError, match="not a Sapient"):
        DocumentIndex.open(other, embedder)
    idx = DocumentIndex(embedder)
    idx.add_texts(["x"], ids=["x"])
    with pytest.raises(IndexFormatError):
        idx.save(other)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_newer_format_and_missing_index(saved, embedder, tmp_path):
    snap = _current_snapshot(saved.path)
    manifest = json.loads((snap / "manifest.json").read_text())
    manifest["version"] = 99
    (snap / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="version 99"):
        DocumentIndex.open(saved.path, embedder)
    with pytest.raises(IndexNotFoundError, match="sapient ingest"):
        DocumentIndex.open(tmp_path / "nothing", embedder)
    fresh = DocumentIndex.open(tmp_path / "nothing", embedder, create=True)
    assert len(fresh) == 0


def test_embedder_mismatch_and_create_twice(saved, embedder):
    class OtherModel:
        name = "sentence-transformers:some-other-model"

    with pytest.raises(EmbedderMismatchError, match="all-MiniLM-L6-v2"):
        DocumentIndex.open(saved.path, OtherModel())
    with pytest.raises(RetrievalError, match="already exists"):
        DocumentIndex.create(saved.path, embedder)


def test_context_manager_saves_only_on_success(tmp_path, embedder):
    path = tmp_path / "cm"
    with DocumentIndex.create(path, embedder) as idx:
        idx.add_texts(["kept text"], ids=["a"])
    assert "a" in DocumentIndex.open(path, embedder)
    with pytest.raises(ZeroDivisionError), DocumentIndex.open(path, embedder) as idx:
        idx.add_texts(["lost text"], ids=["b"])
        1 / 0  # noqa: B018
    assert "b" not in DocumentIndex.open(path, embedder)
