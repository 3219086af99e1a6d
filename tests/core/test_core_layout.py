"""The house rules, read from the source: plugins and connectors are given the host and
never build one, a connector never imports a plugin, and the core's functions stay short.

Each check parses the files (``ast``) instead of importing them, so it also covers
modules whose optional SDKs are not installed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Calls that build a host. ``default_host()`` builds one too (the environment's).
HOST_BUILDERS = {"Host", "default_host"}

#: The longest a function in ``core/`` may be, in lines from ``def`` to its end
#: (docstring included, decorators not): one screen.
MAX_FUNCTION_LINES = 60


def modules(folder: str) -> Iterator[tuple[Path, str, ast.Module]]:
    """``(path, dotted module name, tree)`` for every Python file under ``folder``."""
    for path in sorted((ROOT / folder).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, ".".join(("sapient", *parts)), ast.parse(path.read_text("utf-8"))


def imported_modules(tree: ast.Module, name: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """``(line, absolute module)`` for every import in a module, relative ones resolved;
    ``from X import y`` yields ``X.y`` too (``y`` may be a module)."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and _called_name(node) == "import_module"):
            yield node.lineno, node.args[0].value


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else (
        func.attr if isinstance(func, ast.Attribute) else None)


def host_constructions(tree: ast.Module) -> Iterator[int]:
    """Lines that call ``Host(...)`` or ``default_host()``, under any imported alias."""
    names = set(HOST_BUILDERS)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {a.asname for a in node.names if a.name in HOST_BUILDERS and a.asname}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called_name(node) in names:
            yield node.lineno


def test_no_plugin_or_connector_builds_a_host():
    found = [f"{path.relative_to(ROOT)}:{line}"
             for folder in ("plugins", "connectors")
             for path, _, tree in modules(folder)
             for line in host_constructions(tree)]
    assert not found, (
        "These lines build a Host; a plugin or connector is given the host instead (a "
        "registry hook's or factory's `host` argument): " + ", ".join(found))


def test_no_connector_imports_a_plugin():
    found: dict[str, str] = {}
    for path, name, tree in modules("connectors"):
        for line, module in imported_modules(tree, name, path.name == "__init__.py"):
            where = f"{path.relative_to(ROOT)}:{line}"
            if module == "sapient.plugins" or module.startswith("sapient.plugins."):
                found[where] = min(found.get(where, module), module, key=len)
    assert not found, (
        "Connectors must not import plugins (data types a store needs live with the "
        "store): " + ", ".join(f"{w} ({m})" for w, m in found.items()))


def test_no_function_in_the_core_is_longer_than_a_screen():
    found = [f"{path.relative_to(ROOT)}:{node.lineno} {node.name} "
             f"({node.end_lineno - node.lineno + 1} lines)"
             for path, _, tree in modules("core")
             for node in ast.walk(tree)
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
             and node.end_lineno is not None
             and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not found, (f"Functions over {MAX_FUNCTION_LINES} lines: split them into named "
                       "steps: " + ", ".join(found))


def test_the_scans_see_what_they_look_for():
    # The checks above pass on an empty list, so show they would find a violation.
    tree = ast.parse("from sapient import Host as H\nimport sapient\n"
                     "h = H()\ng = sapient.Host(settings)\nd = default_host()\n")
    assert list(host_constructions(tree)) == [3, 4, 5]
    tree = ast.parse("from ...plugins.knowledge_graph import _model\n"
                     "from sapient.plugins import retrieval\nimport sapient.plugins.anomaly\n"
                     "from .. import plugins\nimportlib.import_module('sapient.plugins.demo')\n")
    found = {m for _, m in imported_modules(tree, "sapient.connectors.ladybug", True)}
    assert {"sapient.plugins.knowledge_graph", "sapient.plugins.knowledge_graph._model",
            "sapient.plugins.retrieval", "sapient.plugins.anomaly", "sapient.plugins",
            "sapient.plugins.demo"} <= found
    assert sum(1 for _ in modules("core")) >= 10 and sum(1 for _ in modules("connectors")) >= 5
