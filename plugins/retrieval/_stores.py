"""Which document store an index lives in: a folder (FAISS) or a store spec.

``"my-index"`` or ``Path(...)`` is a FAISS folder; ``"scheme:rest"`` with a scheme
registered through ``register_document_stores`` (``faiss:``, ``milvus:``, or one from
an installed plugin) names a store. With a host, its registry resolves the scheme
(so a plugin's store replaces a built-in one); without one, the built-in factories do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sapient.core.errors import ConfigurationError

__all__ = ["BUILTIN_STORES", "is_store_spec", "open_store_spec", "store_factory",
           "index_store_spec"]


def _faiss(rest: str, settings: Any = None) -> Any:
    from sapient.connectors.faiss import open_store

    return open_store(rest, settings)


def _milvus(rest: str, settings: Any = None) -> Any:
    from sapient.connectors.milvus import open_store

    return open_store(rest, settings)


#: scheme -> (factory, help), registered by the plugin through register_document_stores.
BUILTIN_STORES: dict[str, tuple[Any, str]] = {
    "faiss": (_faiss, "FAISS + bm25s files in a folder (the default): faiss:PATH"),
    "milvus": (_milvus, "Milvus: milvus:./docs.db (Milvus Lite, embedded) or "
                        "milvus:http://host:19530 (Standalone/Distributed); "
                        "?collection=NAME picks the collection"),
}


def _schemes(host: Any) -> dict[str, Any]:
    if host is not None:
        return {name: reg.value for name, reg in host.registry("document_stores").items()}
    return {name: factory for name, (factory, _) in BUILTIN_STORES.items()}


def is_store_spec(target: Any, host: Any = None) -> bool:
    """Whether ``target`` names a store (``scheme:rest``) rather than a folder."""
    if not isinstance(target, str) or ":" not in target:
        return False
    return target.partition(":")[0] in _schemes(host)


def store_factory(spec: str, host: Any = None) -> tuple[Any, str]:
    """(factory, rest) for a store spec; a plain sentence names the known schemes."""
    scheme, _, rest = spec.partition(":")
    factories = _schemes(host)
    if scheme not in factories:
        raise ConfigurationError(
            f"Unknown document store '{scheme}' in {spec!r}. Known: "
            f"{', '.join(sorted(factories))}; e.g. 'milvus:./docs.db' or 'faiss:./my-index'.")
    return factories[scheme], rest


def open_store_spec(spec: str, settings: Any = None, host: Any = None) -> Any:
    """A new store instance for ``spec`` (the caller closes it)."""
    if host is not None:
        return host.document_store(spec)
    factory, rest = store_factory(spec)
    try:
        return factory(rest, settings)
    except ImportError as exc:
        raise ConfigurationError(
            f"The document store '{spec.partition(':')[0]}' needs a package that is not "
            f"installed ({exc}). Install it with: pip install 'sapient[milvus]'.") from exc


def index_store_spec(settings: Any, name: str, store: str | None) -> str | Path:
    """Where the index ``name`` lives: its FAISS folder, or ``store`` with the index name
    as the collection when the spec names none."""
    if not store:
        return settings.index_dir(name)
    scheme, _, rest = store.partition(":")
    if scheme == "faiss":
        return store
    if "collection=" not in rest:
        rest += ("&" if "?" in rest else "?") + f"collection={name}"
    return f"{scheme}:{rest}"
