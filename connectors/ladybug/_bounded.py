"""Untrusted read queries under limits: the parent side of ``_sandbox.py``.

A :class:`QueryWorker` keeps one child process per store (started on the first
query, about half a second) and sends it one query at a time; each query opens the
graph file read-only in the child under the limits ``_sandbox.py`` describes. This
side adds the last one: a child that does not answer within the timeout plus
:data:`GRACE_S` is killed, and the next query starts a new one. What comes back
is a :class:`Rows`, a :class:`QueryLimitError` (time or memory) or a
:class:`GraphError` with the database's message.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sapient.connectors.graph import GraphError, QueryLimitError, Rows

__all__ = ["GRACE_S", "QueryLimits", "QueryWorker"]

#: Seconds a query may run past its timeout (starting the child, opening the file, a
#: database that does not check its timeout often) before its process is killed.
GRACE_S = 3.0
_SANDBOX = Path(__file__).with_name("_sandbox.py")
_ENV_KEEP = ("PATH", "PYTHONPATH", "SYSTEMROOT", "LANG", "LC_ALL", "TMPDIR")


@dataclass(frozen=True)
class QueryLimits:
    """Limits for untrusted queries.

    Attributes:
        timeout_s: the database's query timeout; the query's process is killed at
            ``timeout_s + GRACE_S``.
        max_rows: rows returned at most (the rest are never fetched).
        memory_mb: the buffer pool, and separately the extra memory the query may
            allocate, are each capped at this many MiB.
        threads: CPU threads the query may use.
    """

    timeout_s: float = 10.0
    max_rows: int = 1000
    memory_mb: int = 512
    threads: int = 2


def _limit_error(limits: QueryLimits, kind: str | None, detail: str) -> GraphError:
    if kind == "time":
        return QueryLimitError(f"The query ran past the {limits.timeout_s:g} s limit and was "
                               "stopped; write a cheaper query (fewer hops, a LIMIT, a "
                               "narrower MATCH).", "time")
    if kind == "memory":
        return QueryLimitError(f"The query needed more than the {limits.memory_mb} MiB memory "
                               "limit and was stopped; write a cheaper query (fewer rows, no "
                               "huge lists or strings).", "memory")
    return GraphError(detail)


def _rows(reply: dict[str, Any], limits: QueryLimits) -> Rows:
    if reply.get("ok"):
        return Rows(reply["columns"], reply["rows"])
    if reply.get("stage") == "open":
        raise GraphError(f"Could not open the graph to run the query: {reply['error']}")
    # the first line says what and where (line, offset); the rest is a drawing of it
    detail = (reply.get("error") or "the query failed").strip().splitlines()[0]
    raise _limit_error(limits, reply.get("limit"), f"LadybugDB refused the query: {detail}")


class QueryWorker:
    """One child process that runs untrusted queries for a store, one at a time."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._cwd: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._cwd = self._cwd or tempfile.TemporaryDirectory(prefix="sapient-query-")
            env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP}
            self._proc = subprocess.Popen(
                [sys.executable, str(_SANDBOX)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True, cwd=self._cwd.name, env=env)
        return self._proc

    def run(self, path: str, cypher: str, params: dict[str, Any] | None,
            limits: QueryLimits) -> Rows:
        """Run ``cypher`` (one checked statement) on the graph file ``path``."""
        try:
            line = json.dumps({"path": path, "query": cypher, "params": params or {},
                               "timeout_s": limits.timeout_s, "max_rows": limits.max_rows,
                               "memory_mb": limits.memory_mb, "threads": limits.threads})
        except (TypeError, ValueError) as exc:
            raise GraphError(f"Query parameters must be plain JSON values: {exc}.") from exc
        with self._lock:
            return _rows(self._ask(line, limits), limits)

    def _ask(self, line: str, limits: QueryLimits) -> dict[str, Any]:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
        except OSError:
            self._kill()
            raise GraphError("The query process stopped unexpectedly; try again.") from None
        deadline = time.monotonic() + limits.timeout_s + GRACE_S
        if not _readable(proc.stdout, deadline):
            self._kill()
            raise _limit_error(limits, "time", "")
        answer = proc.stdout.readline()
        try:
            reply = json.loads(answer)
        except ValueError:  # the process died
            code = proc.poll() if proc.poll() is not None else _wait(proc)
            self._kill()
            if code is not None and code < 0:  # killed by the system: out of memory
                raise _limit_error(limits, "memory", "") from None
            raise GraphError(f"The query process ended unexpectedly (exit code {code}); "
                             "try again.") from None
        if reply.get("limit"):
            self._kill()  # the child exits after a limit; make sure of it
        return reply

    def _kill(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(OSError):
                self._proc.kill()
            with contextlib.suppress(Exception):
                self._proc.wait(timeout=10)
                for pipe in (self._proc.stdin, self._proc.stdout):
                    if pipe is not None:
                        pipe.close()
            self._proc = None

    def close(self) -> None:
        """Stop the child process (it also ends when this process does)."""
        with self._lock:
            self._kill()
            if self._cwd is not None:
                with contextlib.suppress(OSError):
                    self._cwd.cleanup()
                self._cwd = None


def _wait(proc: subprocess.Popen[str]) -> int | None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        return proc.wait(timeout=5)
    return None


def _readable(stream: Any, deadline: float) -> bool:
    """Wait until ``stream`` has something to read, or the deadline passes."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            ready, _, _ = select.select([stream], [], [], left)
        except InterruptedError:  # pragma: no cover - retried by Python since 3.5
            continue
        return bool(ready)
