"""benchmarks/serve.py runs end to end (tiny settings) and reports its figures as JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from serve_helpers import REPO, sapient_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_the_serve_benchmark_reports_throughput_and_the_load_check(tmp_path):
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "serve.py"), "--levels", "1,3", "--seconds",
         "0.3", "--rounds", "1", "--sessions", "4", "--turns", "3", "--json"],
        capture_output=True, text=True, timeout=280, env=sapient_env(tmp_path / "home"))
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(figures["levels"]) == {"1", "3"}
    for level in figures["levels"].values():
        assert set(level) == {"bare", "sapient", "sapient-stream", "agent.run"}
        assert all(r["requests"] > 0 and r["errors"] == 0 for r in level.values())
    assert figures["clients"] == 3 and figures["sapient_over_bare"] > 0
    assert (figures["lost"], figures["leaks"], figures["wrong"]) == (0, 0, 0)
    assert figures["load"]["requests"] == 12
