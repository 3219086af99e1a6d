"""Milvus as a document store, through the official ``pymilvus`` client.

Spec: ``milvus:URI[?collection=NAME]``.

* ``milvus:./docs.db`` is Milvus Lite: an embedded, single-process Milvus in a local
  file (the ``milvus-lite`` package), for a laptop and for the tests.
* ``milvus:http://host:19530`` is Milvus Standalone or Distributed; the token, if
  any, comes from ``Settings.extra["milvus_token"]`` or ``SAPIENT_MILVUS_TOKEN`` and
  never from the spec, so specs can be printed and logged.

One collection per index (default name ``documents``). Needs
``pip install 'sapient[milvus]'``. See docs/scale.md for when to switch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from sapient.core._lazy import lazy_exports

if TYPE_CHECKING:
    from ._store import MilvusStore

__all__ = ["MilvusStore", "open_store", "parse_spec"]

__getattr__, __dir__ = lazy_exports(__name__, {"MilvusStore": "._store"})


def parse_spec(rest: str) -> tuple[str, str]:
    """``(uri, collection)`` from the part after ``milvus:``.

    A local ``.db`` path is made absolute, so the store means the same file from
    any working directory (and in worker processes).
    """
    uri, _, query = rest.partition("?")
    if not uri:
        from sapient.core.errors import ConfigurationError

        raise ConfigurationError(
            "A Milvus spec needs a location: milvus:./docs.db (Milvus Lite) or "
            "milvus:http://127.0.0.1:19530 (a server).")
    params = parse_qs(query)
    collection = (params.get("collection") or ["documents"])[0]
    if "://" not in uri:
        uri = str(Path(uri).expanduser().resolve())
    return uri, collection


def open_store(rest: str, settings: Any = None) -> MilvusStore:
    """Factory of the ``milvus`` scheme."""
    from ._store import MilvusStore

    uri, collection = parse_spec(rest)
    extra = getattr(settings, "extra", None) or {}
    token = extra.get("milvus_token") or os.environ.get("SAPIENT_MILVUS_TOKEN")
    return MilvusStore(uri, collection, token=token)
