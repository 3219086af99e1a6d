"""Check Sapient's tool-argument validator on real-world schemas from BFCL v4.

Every function of ``BFCL_v4_simple_python.json`` and ``BFCL_v4_multiple.json`` (the
Berkeley Function Calling Leaderboard) becomes a :class:`sapient.Tool` through
``Tool.from_json_schema``. Then:

* every gold call (``possible_answer/``; the first acceptable value per argument,
  and an optional argument whose acceptable values include ``""`` left out) must
  validate;
* three mutations of every gold call must be rejected, with a message naming the
  argument at fault: a wrong type, a missing required argument, an extra argument.

Usage::

    python benchmarks/bfcl_validation.py [--data DIR] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "bfcl"
FILES = ("BFCL_v4_simple_python.json", "BFCL_v4_multiple.json")
EXTRA_ARG = "unexpected_argument_x"

# A value of the wrong JSON type for each declared type (after BFCL normalisation).
_WRONG = {
    "string": 12345,
    "integer": "not a number",
    "number": "not a number",
    "boolean": "not a boolean",
    "array": "not a list",
    "object": "not an object",
}


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def gold_arguments(acceptable: dict[str, list[Any]], required: list[str] = ()) -> dict[str, Any]:
    """One concrete call from BFCL's acceptable values per argument.

    ``""`` among the acceptable values means "may be left out": such an argument is
    omitted unless the schema lists it as required, then its first other value is
    used. Nested objects repeat the format (a list of acceptable values per field),
    so they are resolved the same way.
    """
    out: dict[str, Any] = {}
    for name, values in acceptable.items():
        if "" in values and name not in required:
            continue
        chosen = [v for v in values if v != ""]
        if chosen:
            out[name] = _resolve(chosen[0])
    return out


def _resolve(value: Any) -> Any:
    """Pick the first acceptable value inside nested BFCL answers."""
    if isinstance(value, dict):
        return {k: _resolve(v[0]) if isinstance(v, list) and v else _resolve(v)
                for k, v in value.items() if not (isinstance(v, list) and v and v[0] == "")}
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


@dataclass
class Report:
    """Counts of one run, plus examples of what went wrong."""

    files: int = 0
    entries: int = 0
    functions: int = 0
    tools_built: int = 0
    build_errors: list[str] = field(default_factory=list)
    gold_calls: int = 0
    gold_valid: int = 0
    gold_failures: list[str] = field(default_factory=list)
    mutations: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    useful: Counter[str] = field(default_factory=Counter)
    mutation_failures: list[str] = field(default_factory=list)
    sample_messages: dict[str, str] = field(default_factory=dict)


def mutations(tool: Any, args: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(kind, mutated arguments, the argument name a useful message must mention)."""
    props = tool.parameters.get("properties", {})
    required = [r for r in tool.parameters.get("required", []) if r in props]
    # wrong type: the first present argument with a single declared type
    for name in args:
        declared = props.get(name, {}).get("type")
        if isinstance(declared, str) and declared in _WRONG:
            bad = copy.deepcopy(args)
            bad[name] = _WRONG[declared]
            yield "wrong_type", bad, name
            break
    # missing required: drop the first required argument
    if required:
        bad = {k: v for k, v in args.items() if k != required[0]}
        yield "missing_required", bad, required[0]
    # extra argument
    yield "extra_argument", {**args, EXTRA_ARG: 1}, EXTRA_ARG


def check(data: Path, limit: int | None = None) -> Report:
    from sapient import Tool, ToolArgumentError, ToolDefinitionError

    report = Report()
    for fname in FILES:
        questions = data / fname
        answers = data / "possible_answer" / fname
        if not questions.exists() or not answers.exists():
            raise SystemExit(f"BFCL data not found: {questions} / {answers}. Pass --data DIR "
                             "(the folder with BFCL_v4_*.json and possible_answer/).")
        report.files += 1
        gold = {row["id"]: row["ground_truth"] for row in read_jsonl(answers)}
        for n, entry in enumerate(read_jsonl(questions)):
            if limit is not None and n >= limit:
                break
            report.entries += 1
            tools = {}
            for spec in entry["function"]:
                report.functions += 1
                try:
                    t = Tool.from_json_schema(spec["name"], spec.get("description", ""),
                                              spec["parameters"], lambda **kw: kw)
                except ToolDefinitionError as exc:
                    report.build_errors.append(f"{entry['id']}/{spec['name']}: {exc}")
                    continue
                report.tools_built += 1
                tools[t.name] = t
            for call in gold.get(entry["id"], []):
                for fn_name, acceptable in call.items():
                    report.gold_calls += 1
                    t = tools.get(fn_name)
                    if t is None:
                        report.gold_failures.append(f"{entry['id']}: no tool {fn_name}")
                        continue
                    args = gold_arguments(acceptable, t.parameters.get("required", []))
                    try:
                        t.validate(json.dumps(args))
                        report.gold_valid += 1
                    except ToolArgumentError as exc:
                        report.gold_failures.append(f"{entry['id']} {fn_name}{args}: {exc}")
                        continue
                    for kind, bad, culprit in mutations(t, args):
                        report.mutations[kind] += 1
                        try:
                            t.validate(json.dumps(bad))
                        except ToolArgumentError as exc:
                            report.rejected[kind] += 1
                            if culprit in str(exc):
                                report.useful[kind] += 1
                            else:
                                report.mutation_failures.append(
                                    f"{entry['id']} {kind}: message does not name "
                                    f"'{culprit}': {exc}")
                            report.sample_messages.setdefault(kind, str(exc))
                        else:
                            report.mutation_failures.append(
                                f"{entry['id']} {kind}: accepted {bad}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with BFCL_v4_*.json and possible_answer/")
    parser.add_argument("--limit", type=int, default=None, help="entries per file")
    parser.add_argument("--quick", action="store_true", help="same as --limit 50")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--verbose", action="store_true", help="list every failure")
    args = parser.parse_args(argv)
    limit = 50 if args.quick and args.limit is None else args.limit

    t0 = time.perf_counter()
    r = check(args.data, limit)
    elapsed = time.perf_counter() - t0
    n_mut = sum(r.mutations.values())
    n_rej = sum(r.rejected.values())
    n_useful = sum(r.useful.values())

    print(f"BFCL v4 tool-argument validation ({', '.join(FILES)}), {elapsed:.2f} s")
    print(f"  entries {r.entries}, functions {r.functions}, tools built {r.tools_built}")
    print(f"  gold calls valid: {r.gold_valid}/{r.gold_calls}")
    print(f"  {'mutation':<18} {'tried':>6} {'rejected':>9} {'names arg':>10}")
    for kind in ("wrong_type", "missing_required", "extra_argument"):
        print(f"  {kind:<18} {r.mutations[kind]:>6} {r.rejected[kind]:>9} {r.useful[kind]:>10}")
    print(f"  {'all':<18} {n_mut:>6} {n_rej:>9} {n_useful:>10}")
    for kind, msg in r.sample_messages.items():
        print(f"  example ({kind}): {msg.splitlines()[1].strip()}")
    for label, items in (("build errors", r.build_errors), ("gold failures", r.gold_failures),
                         ("mutation failures", r.mutation_failures)):
        if items:
            print(f"  {label} ({len(items)}), first ones:")
            for line in items[: None if args.verbose else 5]:
                print(f"    {line[:300]}")
    if args.json:
        print(json.dumps({
            "entries": r.entries,
            "functions": r.functions,
            "tools_built": r.tools_built,
            "gold_calls": r.gold_calls,
            "gold_valid": r.gold_valid,
            "mutations": n_mut,
            "mutations_rejected": n_rej,
            "mutations_rejected_naming_argument": n_useful,
            "by_kind": {k: {"tried": r.mutations[k], "rejected": r.rejected[k],
                            "names_argument": r.useful[k]} for k in sorted(r.mutations)},
        }))
    ok = (not r.build_errors and r.gold_valid == r.gold_calls and n_rej == n_mut)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
