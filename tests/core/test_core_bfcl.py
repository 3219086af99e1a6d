"""The BFCL validation check on hand-written samples in BFCL's format (the real data
set lives outside the repository and is only read by the benchmark)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bfcl_validation.py"

QUESTIONS = {
    "BFCL_v4_simple_python.json": [
        {"id": "simple_python_0", "question": [[{"role": "user", "content": "area?"}]],
         "function": [{"name": "calculate_triangle_area", "description": "Area of a triangle.",
                       "parameters": {"type": "dict", "properties": {
                           "base": {"type": "integer", "description": "The base."},
                           "height": {"type": "integer", "description": "The height."},
                           "unit": {"type": "string", "description": "The unit."}},
                           "required": ["base", "height"]}}]},
        {"id": "simple_python_1", "question": [[{"role": "user", "content": "query"}]],
         "function": [{"name": "database.query", "description": "Query a table.",
                       "parameters": {"type": "dict", "properties": {
                           "table": {"type": "string"},
                           "conditions": {"type": "array", "items": {
                               "type": "dict", "properties": {
                                   "field": {"type": "string"},
                                   "operation": {"type": "string", "enum": [">", "="]},
                                   "value": {"type": "string"}},
                               "required": ["field", "operation", "value"]}}},
                           "required": ["table", "conditions"]}}]},
        {"id": "simple_python_2", "question": [[{"role": "user", "content": "factors"}]],
         "function": [{"name": "get_prime_factors", "description": "Prime factors.",
                       "parameters": {"type": "dict", "properties": {
                           "number": {"type": "integer"},
                           "formatted": {"type": "boolean"},
                           "weights": {"type": "tuple", "items": {"type": "float"}},
                           "anything": {"type": "any"}},
                           "required": ["number", "formatted"]}}]},
    ],
    "BFCL_v4_multiple.json": [
        {"id": "multiple_0", "question": [[{"role": "user", "content": "circle"}]],
         "function": [
             {"name": "triangle_properties.get", "description": "Triangle.",
              "parameters": {"type": "dict", "properties": {
                  "side1": {"type": "integer"}, "get_area": {"type": "boolean",
                                                             "default": True, "optional": True}},
                  "required": ["side1"]}},
             {"name": "circle_properties.get", "description": "Circle.",
              "parameters": {"type": "dict", "properties": {
                  "radius": {"type": "float"}, "get_area": {"type": "boolean"}},
                  "required": ["radius"]}}]},
    ],
}

ANSWERS = {
    "BFCL_v4_simple_python.json": [
        {"id": "simple_python_0", "ground_truth": [
            {"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}]},
        {"id": "simple_python_1", "ground_truth": [
            {"database.query": {"table": ["user"], "conditions": [[
                {"field": ["age"], "operation": [">"], "value": ["25"]},
                {"field": ["job"], "operation": ["="], "value": ["engineer"]}]]}}]},
        # a required argument that BFCL also accepts absent ("" listed) is sent
        {"id": "simple_python_2", "ground_truth": [
            {"get_prime_factors": {"number": [450], "formatted": [True, ""],
                                   "weights": [[0.5, 1]], "anything": [{"k": [1]}]}}]},
    ],
    "BFCL_v4_multiple.json": [
        {"id": "multiple_0", "ground_truth": [
            {"circle_properties.get": {"radius": [3], "get_area": ["", True]}}]},
    ],
}


def write_data(root: Path, questions=QUESTIONS, answers=ANSWERS) -> Path:
    (root / "possible_answer").mkdir(parents=True)
    for name, rows in questions.items():
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    for name, rows in answers.items():
        (root / "possible_answer" / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def bfcl():
    name = "sapient_bench_bfcl_validation"
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)


def test_gold_arguments_picks_first_values_and_drops_optional_absent(bfcl):
    assert bfcl.gold_arguments({"a": [1, 2], "b": ["", "x"], "c": [True, ""]}, ["c"]) == {
        "a": 1, "c": True}
    assert bfcl.gold_arguments({"q": [{"x": ["p", "q"], "y": ["", 1]}]}) == {"q": {"x": "p"}}


def test_samples_validate_and_mutations_are_rejected(bfcl, tmp_path):
    report = bfcl.check(write_data(tmp_path / "bfcl"))
    assert (report.entries, report.functions, report.tools_built) == (4, 5, 5)
    assert report.build_errors == []
    assert (report.gold_calls, report.gold_valid) == (4, 4), report.gold_failures
    for kind in ("wrong_type", "missing_required", "extra_argument"):
        assert report.mutations[kind] == 4
        assert report.rejected[kind] == 4
        assert report.useful[kind] == 4, report.mutation_failures
    assert report.mutation_failures == []
    assert "is not of type" in report.sample_messages["wrong_type"]
    assert "is a required property" in report.sample_messages["missing_required"]
    assert "unexpected_argument_x" in report.sample_messages["extra_argument"]


def test_a_wrong_gold_call_is_counted_as_a_failure(bfcl, tmp_path):
    answers = {k: [dict(r) for r in v] for k, v in ANSWERS.items()}
    answers["BFCL_v4_multiple.json"] = [{"id": "multiple_0", "ground_truth": [
        {"circle_properties.get": {"radius": ["three"]}}]}]
    report = bfcl.check(write_data(tmp_path / "bfcl", answers=answers))
    assert report.gold_valid == 3
    assert any("'radius': 'three' is not of type 'number'" in f for f in report.gold_failures)


def test_script_cli_ends_with_one_json_line(tmp_path):
    data = write_data(tmp_path / "bfcl")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["gold_calls"] == figures["gold_valid"] == 4
    assert figures["mutations"] == figures["mutations_rejected"] == 12


def test_script_explains_missing_data(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Pass --data DIR" in proc.stderr
