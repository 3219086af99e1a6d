"""One way for a package to export names lazily.

Capability plugins keep ``import sapient.plugins.X`` light (no numpy, FAISS or pandas
at import, so a missing extra never breaks the host) while still offering their public
names at the package root. Each package declares which private module holds which
name and installs the module-level ``__getattr__``/``__dir__`` this returns::

    __getattr__, __dir__ = lazy_exports(__name__, {"DocumentIndex": "._index"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: Mapping[str, str],
                 require: Callable[[], None] | None = None,
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module ``__getattr__`` and ``__dir__`` that import ``names`` on first access.

    Args:
        package: the package's ``__name__``.
        names: public name -> module holding it, relative (``"._index"``) or absolute.
        require: called before the first import of a name; an adapter of an optional
            SDK raises its install hint here, so the user reads one sentence instead
            of the ``ImportError`` of a private module.

    The value is cached in the package's namespace, so the import happens once.
    """
    table = dict(names)

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if require is not None:
            require()
        value = getattr(importlib.import_module(target, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
