"""A graph ingest killed with SIGKILL at any point: the graph still loads, every batch
committed before the kill is there whole, and running the ingest again completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sapient.connectors.ladybug import LadybugStore

BATCHES, SIZE = 5, 500

CHILD = textwrap.dedent(f"""
    import sys
    from sapient.connectors.graph import Triple
    from sapient.connectors.ladybug import LadybugStore
    from sapient.plugins.knowledge_graph import ingest_triples

    class Reporting(LadybugStore):
        def merge(self, triples, nodes=()):
            super().merge(triples, nodes)
            print("committed", triples[0].head.split("_")[0], flush=True)

    triples = [Triple(f"b{{b}}_h{{i}}", "LINKS", f"b{{b}}_t{{i}}", "Head", "Tail", {{"w": i}})
               for b in range({BATCHES}) for i in range({SIZE})]
    store = Reporting(sys.argv[1])
    print("start", flush=True)
    ingest_triples(store, triples, batch_size={SIZE})
    store.close()
    print("done", flush=True)
""")


def _run_until(path, stop_after: int | None, delay: float) -> list[str]:
    """Start the ingest; SIGKILL it ``delay`` s after ``stop_after`` commits (None: at start)."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                            text=True)
    committed: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        word, *rest = line.split()
        if word == "committed":
            committed += rest
        if (stop_after is None and word == "start") or len(committed) == stop_after:
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=120)
    return committed


def _per_batch(store) -> dict[str, int]:
    rows = store.execute("MATCH (a:Head)-[:LINKS]->(b:Tail) RETURN a.name").rows
    counts: dict[str, int] = {}
    for (name,) in rows:
        key = name.split("_")[0]
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("stop_after, delay", [
    (None, 0.2),   # while the first tables are created
    (1, 0.0),      # right after a commit
    (3, 0.1),      # in the middle of a batch
], ids=["creating-tables", "after-commit", "mid-batch"])
def test_kill_during_ingest_loses_nothing_committed(tmp_path, stop_after, delay):
    path = tmp_path / "g"
    committed = _run_until(path, stop_after, delay)
    if path.exists():
        with LadybugStore(path, read_only=True) as store:  # the previous state loads
            counts = _per_batch(store) if store.schema().rels else {}
        for batch in committed:  # whole, never partly
            assert counts.get(batch) == SIZE, (batch, counts)
        assert all(n == SIZE for n in counts.values()), counts
    else:
        assert committed == []
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0 and "done" in done.stdout, done.stderr[-2000:]
    with LadybugStore(path, read_only=True) as store:  # the ingest can simply be repeated
        assert _per_batch(store) == {f"b{b}": SIZE for b in range(BATCHES)}
        assert store.execute("MATCH (n) RETURN count(n)").rows == [[2 * BATCHES * SIZE]]
