"""Run untrusted read queries on LadybugDB files in this (child) process, bounded.

Started by :class:`sapient.connectors.ladybug._bounded.QueryWorker` as
``python _sandbox.py``; reads one JSON request per line on stdin and writes one
JSON reply per line on stdout. It imports only the standard library and
``ladybug``, and stays up between queries so that a query costs no start-up.

Why a child process: LadybugDB checks its query timeout between batches of work,
so one huge expression (``UNWIND range(1, 300000000)``) runs on for minutes and
takes gigabytes outside its buffer pool. Here the limits hold whatever the query:

- each query opens the file **read-only**, with the buffer pool capped and a query
  timeout (limits the database enforces itself), and closes it after;
- while the query runs, the process may allocate at most ``memory_mb`` more
  address space (``RLIMIT_AS``), open no new file (the free descriptor slots are
  filled and ``RLIMIT_NOFILE`` set just above) and write no byte to a file
  (``RLIMIT_FSIZE`` 0), so ``COPY ... TO``, ``LOAD FROM``, ``EXPORT DATABASE`` and
  extensions fail even if a query got past the static checks;
- the parent kills the process when it runs past the timeout plus a grace period,
  and this process exits after any query stopped by a limit, so the next query
  starts in a fresh one.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

try:
    import resource
except ImportError:  # pragma: no cover - not on POSIX: only the database's own limits
    resource = None  # type: ignore[assignment]

_MB = 1024 * 1024
_MEMORY_WORDS = ("bad_alloc", "buffer manager exception", "unable to allocate",
                 "out of memory", "memoryerror")
_TIME_WORDS = ("interrupted", "timeout", "timed out")


def _vm_size() -> int:
    """Bytes of address space this process uses now (``/proc/self/status``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _set_soft(kind: int, soft: int) -> int:
    """Set a soft limit (the hard one stays, so it can be restored); returns the old one."""
    old, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(kind, (soft, hard))
    return old


def _fill_descriptors() -> tuple[int, list[int]]:
    """Fill every free descriptor slot below the highest open one; (limit, fillers)."""
    fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    limit = fds[-1] + 1
    fillers: list[int] = []
    while True:
        fd = os.open(os.devnull, os.O_RDONLY)
        if fd >= limit - 1:
            if fd > limit - 1:
                os.close(fd)
            else:
                fillers.append(fd)
            return limit, fillers
        fillers.append(fd)


@contextlib.contextmanager
def limited(memory_mb: int) -> Iterator[None]:
    """While inside: ``memory_mb`` more address space at most, no new file, no file writes."""
    if resource is None or not os.path.isdir("/proc/self/fd"):
        yield
        return
    limit, fillers = _fill_descriptors()
    current = _vm_size()
    saved = [(resource.RLIMIT_NOFILE, _set_soft(resource.RLIMIT_NOFILE, limit)),
             (resource.RLIMIT_FSIZE, _set_soft(resource.RLIMIT_FSIZE, 0))]
    if current:
        saved.append((resource.RLIMIT_AS,
                      _set_soft(resource.RLIMIT_AS, current + memory_mb * _MB)))
    try:
        yield
    finally:
        for kind, old in reversed(saved):
            _set_soft(kind, old)
        for fd in fillers:
            os.close(fd)


def _classify(message: str) -> str | None:
    low = message.lower()
    if any(w in low for w in _MEMORY_WORDS):
        return "memory"
    if any(w in low for w in _TIME_WORDS):
        return "time"
    return None


def _execute(conn: Any, request: dict[str, Any]) -> dict[str, Any]:
    try:
        with limited(request["memory_mb"]):
            result = conn.execute(request["query"], request.get("params") or {})
            if isinstance(result, list):
                return {"ok": False, "stage": "query", "error": "only one statement may run"}
            columns = list(result.get_column_names())
            rows = [list(r) for r in result.get_n(request["max_rows"])]
    except (RuntimeError, MemoryError) as exc:
        message = str(exc) or type(exc).__name__
        limit = "memory" if isinstance(exc, MemoryError) else _classify(message)
        return {"ok": False, "stage": "query", "error": message, "limit": limit}
    return {"ok": True, "columns": columns, "rows": rows}


def run(ladybug: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Open the file read-only, run the query under the limits, close; a JSON-ready reply."""
    try:
        db = ladybug.Database(request["path"], read_only=True,
                              buffer_pool_size=request["memory_mb"] * _MB,
                              max_num_threads=request["threads"])
        conn = ladybug.Connection(db, num_threads=request["threads"])
        conn.set_query_timeout(max(1, int(request["timeout_s"] * 1000)))
    except RuntimeError as exc:
        return {"ok": False, "stage": "open", "error": str(exc)}
    try:
        return _execute(conn, request)
    finally:
        for thing in (conn, db):
            with contextlib.suppress(Exception):
                thing.close()


def main() -> int:
    import ladybug

    for line in sys.stdin:
        if not line.strip():
            continue
        reply = run(ladybug, json.loads(line))
        sys.stdout.write(json.dumps(reply, default=str) + "\n")
        sys.stdout.flush()
        if reply.get("limit"):
            return 0  # a query stopped by a limit: the next one gets a fresh process
    return 0


if __name__ == "__main__":
    sys.exit(main())
