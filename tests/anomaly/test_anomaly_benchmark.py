"""The NAB benchmark script runs on any NAB-layout folder and ends with its JSON line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "anomaly.py"


def _nab_layout(root: Path) -> None:
    windows = {}
    rng = np.random.default_rng(0)
    for folder in ("synthA", "synthB"):
        (root / "data" / folder).mkdir(parents=True)
        for k in range(2):
            ts = pd.date_range("2024-01-01", periods=700, freq="5min")
            x = 10 + np.sin(np.arange(700) / 20) + rng.normal(0, 0.05, 700)
            at = 300 + 150 * k
            x[at:at + 5] += 8
            pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%d %H:%M:%S"), "value": x}).to_csv(
                root / "data" / folder / f"s{k}.csv", index=False)
            windows[f"{folder}/s{k}.csv"] = [[str(ts[at - 20]), str(ts[at + 20])]]
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))


def test_benchmark_json_line(tmp_path, capsys):
    _nab_layout(tmp_path)
    spec = importlib.util.spec_from_file_location("anomaly_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = module.main(["--data", str(tmp_path), "--json", "--methods", "auto,mad",
                        "--llm", "scripted:echo", "--llm-series", "1", "--llm-max-points", "200"])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    assert set(figures["f1"]) == {"synthA", "synthB"}
    assert figures["mean_f1"] == 1.0  # every spike inside its window, nothing else
    assert figures["ms_per_1k_points"] > 0
    llm = figures["llm"]
    assert llm["model"] == "scripted:echo" and len(llm["series"]) == 2
    assert {"llm-detector", "llm-prompter", "auto (same series)"} <= set(llm)
    assert llm["llm-detector"]["calls"] > 0
    assert any("auto" in line for line in out)
