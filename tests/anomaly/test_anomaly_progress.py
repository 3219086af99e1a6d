"""Progress on long work: the matrix profile of a long series shows a progress line on a
terminal's stderr, and never in piped or captured output."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest
from sapient.plugins.anomaly._progress import PROGRESS_MIN_POINTS, working


class Terminal(io.StringIO):
    """What a terminal's stderr looks like to a program."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_work_and_its_size():
    tty = Terminal()
    with working("matrix profile", PROGRESS_MIN_POINTS * 2, stream=tty):
        time.sleep(0.3)
    assert f"matrix profile ({PROGRESS_MIN_POINTS * 2:,} points)" in tty.getvalue()


@pytest.mark.parametrize("stream, points", [(io.StringIO(), 10**6),  # piped: never
                                            (Terminal(), PROGRESS_MIN_POINTS - 1)])  # short
def test_no_line_when_piped_or_short(stream, points):
    with working("matrix profile", points, stream=stream):
        time.sleep(0.2)
    assert stream.getvalue() == ""


# stumpy compiles its kernels with numba on first use (about a minute on two cores), so
# the detector runs interpreted in a child process, on a short series with the size
# threshold lowered to match.
_CHILD = """
import io, sys
import numpy as np
from sapient.plugins.anomaly import _progress
_progress.PROGRESS_MIN_POINTS = 300
rng = np.random.default_rng(0)
values = np.sin(np.arange(400) * 2 * np.pi / 50) + rng.normal(0, 0.05, 400)
if sys.argv[1] == "terminal":
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    sys.stderr = tty = Terminal()
    from sapient.plugins.anomaly import MatrixProfile
    MatrixProfile(m=25).detect(values)
    print("PROGRESS" if "matrix profile (400 points)" in tty.getvalue() else "NONE")
else:
    path = sys.argv[2]
    with open(path, "w") as fh:
        fh.write("value\\n" + "\\n".join(f"{v:.5f}" for v in values) + "\\n")
    from sapient.core.cli import main
    sys.exit(main(["anomalies", path, "--method", "matrix-profile"]))
"""


def _child(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    return subprocess.run([sys.executable, "-c", _CHILD, *args], env=env,
                          capture_output=True, text=True, timeout=180)


def test_the_matrix_profile_of_a_long_series_shows_progress_on_a_terminal():
    done = _child("terminal")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "PROGRESS"


def test_piped_command_output_has_no_progress(tmp_path):
    done = _child("piped", str(tmp_path / "series.csv"))
    assert done.returncode == 0, done.stderr
    assert "400 points, method matrix-profile" in done.stdout
    assert "matrix profile" not in done.stderr and "\x1b" not in done.stdout + done.stderr
