"""Progress on long work: a live line on stderr while the matrix profile of a long series
is computed.

The matrix profile costs time quadratic in the series' length (about a second at 10,000
points on two cores, eight at 30,000), and ``stumpy.stump`` runs as one compiled call
with no progress callback, so the line shows what is being computed, how many points,
and the time elapsed, with an indeterminate bar (claiming a percentage would be a
guess). It appears only where someone watches: stderr is a terminal and the series has
at least :data:`PROGRESS_MIN_POINTS` points. Piped or captured output never gets it, and
the line is removed when the work ends. Drawn with ``rich``, a core dependency.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import IO

__all__ = ["PROGRESS_MIN_POINTS", "working"]

#: Below this many points the work takes about a second or less: no progress line.
PROGRESS_MIN_POINTS = 10_000


def _interactive(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # a closed or detached stream
        return False


@contextlib.contextmanager
def working(what: str, points: int, *, stream: IO[str] | None = None) -> Iterator[None]:
    """Show ``what`` with the elapsed time on ``stream`` (stderr) while the block runs,
    when the stream is a terminal and ``points`` is at least :data:`PROGRESS_MIN_POINTS`."""
    stream = sys.stderr if stream is None else stream
    if points < PROGRESS_MIN_POINTS or not _interactive(stream):
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=stream, force_terminal=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        progress.add_task(f"{what} ({points:,} points)", total=None)
        yield
