"""Document stores under one contract: FAISS, Milvus Lite, and a Milvus server when given.

``SAPIENT_MILVUS_URI`` (and ``SAPIENT_MILVUS_TOKEN``) name a Milvus Standalone or
Distributed server; read at import, so test isolation of ``SAPIENT_*`` variables
does not hide it. Without it the server runs are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid

import pytest

MILVUS_URI = os.environ.get("SAPIENT_MILVUS_URI")
MILVUS_TOKEN = os.environ.get("SAPIENT_MILVUS_TOKEN")
STORES = ["faiss", "milvus-lite", "milvus-server"]


@pytest.fixture(scope="session")
def lite_db(tmp_path_factory):
    """One Milvus Lite file for the session (one embedded server); a collection per test."""
    pytest.importorskip("pymilvus", reason="needs sapient[milvus] (pymilvus)")
    pytest.importorskip("milvus_lite", reason="needs sapient[milvus] (milvus-lite)")
    return tmp_path_factory.mktemp("milvus") / "stores.db"


def store_spec(kind: str, tmp_path, request) -> str:
    """A fresh, empty store of ``kind`` (its spec)."""
    if kind == "faiss":
        return f"faiss:{tmp_path / 'faiss-index'}"
    name = "t_" + uuid.uuid4().hex[:12]
    if kind == "milvus-lite":
        return f"milvus:{request.getfixturevalue('lite_db')}?collection={name}"
    if not MILVUS_URI:
        pytest.skip("no Milvus server here: set SAPIENT_MILVUS_URI (and SAPIENT_MILVUS_TOKEN) "
                    "to run the contract against Milvus Standalone or Distributed")
    pytest.importorskip("pymilvus", reason="needs sapient[milvus] (pymilvus)")
    return f"milvus:{MILVUS_URI}?collection={name}"


def _open(spec: str):
    from sapient import Settings
    from sapient.plugins.retrieval._stores import open_store_spec

    extra = {"milvus_token": MILVUS_TOKEN} if MILVUS_TOKEN else {}
    return open_store_spec(spec, Settings(extra=extra))


@pytest.fixture(params=STORES)
def spec(request, tmp_path):
    spec = store_spec(request.param, tmp_path, request)
    yield spec
    if "collection=" in spec:  # leave no test collection behind on a server
        store = _open(spec)
        store.drop()
        store.close()


@pytest.fixture
def open_store():
    """Open a store by spec, as the host's factories do (the caller closes it)."""
    return _open


@pytest.fixture
def store(spec):
    s = _open(spec)
    yield s
    s.close()
