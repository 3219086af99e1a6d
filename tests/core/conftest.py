"""Shared fixtures for the core tests: small tools and throwaway installed plugins.

The clean environment every test gets comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


@pytest.fixture
def add_tool():
    from sapient import tool

    return tool(add)


def make_distribution(root: Path, dist: str, entry_points: dict[str, str],
                      modules: dict[str, str]) -> None:
    """A minimal installed distribution on ``root``: modules plus a dist-info folder
    whose entry_points.txt declares plugins in the ``sapient`` group, which is all
    ``importlib.metadata.entry_points(group="sapient")`` reads."""
    root.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[sapient]\n{lines}")


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[Callable[..., Path]]:
    """``install_plugin(dist, entry_points, modules)``: a distribution installed on a
    fresh ``sys.path`` entry for this test only; its modules are forgotten afterwards."""
    root = tmp_path / "site"
    root.mkdir()
    modules: list[str] = []
    monkeypatch.syspath_prepend(str(root))

    def install(dist: str, entry_points: dict[str, str], sources: dict[str, str]) -> Path:
        make_distribution(root, dist, entry_points, sources)
        importlib.invalidate_caches()
        modules.extend(sources)
        return root

    yield install
    for name in modules:
        sys.modules.pop(name, None)
