"""Bounded graph queries: time and memory of hostile model-written Cypher, before and after.

Each case runs in a fresh process on a small LadybugDB graph, two ways:

- ``before``: how untrusted queries ran until now: in-process, in a ``BEGIN
  TRANSACTION READ ONLY`` transaction with LadybugDB's query timeout (LangChain's
  ``KuzuQAChain`` also runs model-written Cypher in-process);
- ``after``: ``LadybugStore.read_query`` (one statement, no file access, a child
  process with a read-only database, memory, time, file and row limits).

A ``before`` case still running at ``--cap-s`` is killed by this script (reported as
such: the query itself would have gone on). Memory is the peak resident size of the
process that ran the query (for ``after``: the larger of the caller and its query
process). Inputs are the probe's queries (no data folder); ``--json`` ends with one
JSON line of the figures.

    python benchmarks/graph_bounds.py --json              # after only (fast)
    python benchmarks/graph_bounds.py --before --json     # both, ~1 min, ~5 GB peak
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "range_300M": "UNWIND range(1, 300000000) AS x RETURN count(x)",
    "repeat_2e9": "RETURN size(repeat('x', 2000000000))",
    "rows_400M": "UNWIND range(1, 20000) AS x UNWIND range(1, 20000) AS y "
                 "WITH x, y WHERE (x * y) % 7 = 3 RETURN count(*)",
    "commit_then_create": "RETURN 1; COMMIT; CREATE (:Entity {name: 'mallory'})",
    "copy_to_file": "COPY (MATCH (n) RETURN n.name) TO '{out}'",
    "small_read": "MATCH (a)-[:R]->(b) RETURN a.name, b.name LIMIT 5",
}

_ONE = """
import json, resource, sys, time
from pathlib import Path
mode, path, query = sys.argv[1], sys.argv[2], sys.argv[3]
timeout, repeat = float(sys.argv[4]), int(sys.argv[5])


def before(conn):
    conn.execute("BEGIN TRANSACTION READ ONLY")
    try:
        result = conn.execute(query)
        result = result[-1] if isinstance(result, list) else result
        return result.get_n(5)
    finally:
        try:
            conn.execute("ROLLBACK")
        except RuntimeError:
            pass


start = time.perf_counter()
times = []
try:
    if mode == "before":
        import ladybug
        conn = ladybug.Connection(ladybug.Database(path))
        conn.set_query_timeout(int(timeout * 1000))
        run = lambda: before(conn)
    else:
        from sapient.connectors.ladybug import LadybugStore
        store = LadybugStore(path)
        run = lambda: store.read_query(query, timeout_s=timeout, max_rows=5).rows
    for _ in range(repeat):
        t = time.perf_counter()
        rows = run()
        times.append(time.perf_counter() - t)
    outcome = f"ran: {rows}"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
seconds = time.perf_counter() - start
rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
warm = sorted(times[1:])[len(times[1:]) // 2] * 1000 if len(times) > 1 else None
print(json.dumps({"seconds": seconds, "rss_mb": rss, "outcome": outcome,
                  "first_ms": times[0] * 1000 if times else None, "warm_ms": warm}))
"""


def _make_graph(folder: Path) -> Path:
    from sapient.connectors.graph import Triple
    from sapient.connectors.ladybug import LadybugStore

    path = folder / "g"
    with LadybugStore(path) as store:
        store.merge([Triple(f"a{i}", "R", f"b{i}") for i in range(100)])
    return path


def _entities(path: Path) -> int:
    from sapient.connectors.ladybug import LadybugStore

    with LadybugStore(path, read_only=True) as store:
        return store.execute("MATCH (n:Entity) RETURN count(n)").rows[0][0]


def _peak_mb(pid: int) -> float:
    """Peak resident memory of a running process (VmHWM), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _run(mode: str, path: Path, query: str, timeout: float, cap: float, repeat: int) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _ONE, mode, str(path), query, str(timeout),
                             str(repeat)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        out, _ = proc.communicate(timeout=cap)
        return json.loads(out.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        peak = _peak_mb(proc.pid)
        proc.kill()
        proc.communicate()
        return {"seconds": time.perf_counter() - start, "rss_mb": peak,
                "outcome": f"still running at {cap:g} s: killed by the benchmark"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", action="store_true", help="also run the old in-process way")
    ap.add_argument("--timeout-s", type=float, default=10.0, help="query timeout (default 10)")
    ap.add_argument("--cap-s", type=float, default=30.0, help="kill a run after this long")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    figures: dict[str, dict] = {}
    modes = ["before", "after"] if args.before else ["after"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, template in CASES.items():
            for mode in modes:
                path = _make_graph(Path(tmp) / f"{name}-{mode}")
                if mode == "before":  # ladybug itself rewrites the file Sapient recorded
                    Path(f"{path}.sapient.json").unlink()
                out = Path(tmp) / f"{name}-{mode}.csv"
                res = _run(mode, path, template.replace("{out}", str(out)), args.timeout_s,
                           args.cap_s, 20 if name == "small_read" else 1)
                res["file_written"] = out.exists()
                res["write_committed"] = _entities(path) > 200
                figures[f"{name}/{mode}"] = res
                print(f"{name:20s} {mode:6s} {res['seconds']:7.2f} s {res['rss_mb']:8.0f} MB  "
                      f"{res['outcome'][:70]}"
                      + ("  [FILE WRITTEN]" if res["file_written"] else "")
                      + ("  [WRITE COMMITTED]" if res["write_committed"] else "")
                      + (f"  first {res['first_ms']:.0f} ms, then {res['warm_ms']:.1f} ms"
                         if res.get("warm_ms") else ""), flush=True)
    if args.json:
        print(json.dumps({"timeout_s": args.timeout_s, "cap_s": args.cap_s, "cases": {
            k: {"seconds": round(v["seconds"], 2), "rss_mb": round(v["rss_mb"]),
                "first_ms": v.get("first_ms") and round(v["first_ms"], 1),
                "warm_ms": v.get("warm_ms") and round(v["warm_ms"], 2),
                "stopped": not v["outcome"].startswith("ran"),
                "file_written": v["file_written"], "write_committed": v["write_committed"]}
            for k, v in figures.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
