"""Packaging checks: a normal wheel must contain every subpackage of the source tree."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _source_packages() -> set[str]:
    found = {"sapient"}
    for top in ("core", "plugins", "connectors"):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT)
            found.add("sapient." + ".".join(rel.parts))
    return found


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = config["tool"]["setuptools"]["packages"]
    assert len(packages) == len(set(packages)), "pyproject lists a package twice"
    listed = set(packages)
    missing = sorted(_source_packages() - listed)
    assert not missing, f"add these packages to [tool.setuptools] packages: {missing}"
    # data-only folders (no __init__.py) may be listed, so setuptools ships them quietly
    stale = sorted(p for p in listed - _source_packages()
                   if not (ROOT.joinpath(*p.split(".")[1:])).is_dir())
    assert not stale, f"pyproject lists packages that do not exist: {stale}"
