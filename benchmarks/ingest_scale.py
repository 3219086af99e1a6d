"""Ingestion throughput: in-process ``DocumentIndex.ingest`` beside ``--engine ray``.

The first ``--docs`` SciFact abstracts (BEIR layout, ``corpus.jsonl``) are written as
one text file each, then ingested into a fresh FAISS index

1. in this process (``sapient ingest PATH``; torch uses every core), and
2. on Ray Data (``sapient ingest PATH --engine ray``) with 1 and 2 embedding workers
   (``--workers``), a local Ray instance started and stopped by each run.

Every run must produce the same chunks with the same vectors (checked: identical
ids and texts, largest absolute difference of any vector component). Reported:
documents/s and chunks/s per run, Ray's fixed start-up cost, and the parts that
predict a cluster: embedding rate per worker (timed on one core) and the rate of the
single writer (FAISS, and Milvus Lite when installed).

Usage::

    python benchmarks/ingest_scale.py --data ../shared/data/beir/scifact --json
    python benchmarks/ingest_scale.py --docs 500 --workers 1,2      # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "beir" / "scifact"


def write_corpus(data: Path, n: int, folder: Path) -> int:
    """The first ``n`` abstracts as ``<id>.txt`` files (title, blank line, text)."""
    path = data / "corpus.jsonl"
    if not path.is_file():
        sys.exit(f"error: {path} not found. Pass --data DIR with a BEIR-layout folder "
                 "(corpus.jsonl).")
    folder.mkdir(parents=True)
    count = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if count >= n:
                break
            d = json.loads(line)
            text = (d.get("title", "") + "\n\n" + d.get("text", "")).strip()
            (folder / f"{d['_id']}.txt").write_text(text, encoding="utf-8")
            count += 1
    return count


class TreeCPU:
    """CPU seconds of this process and every process it started (Ray's raylet, workers
    and actors included), and the machine's mean load average, over a ``with`` block.

    On a shared machine wall time also measures the neighbours; CPU time measures the
    work. Sampled from ``/proc`` every half second (a process that ends between two
    samples loses at most its last half second); ``None`` where there is no ``/proc``.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.seconds: float | None = None
        self.load: float | None = None
        self._last: dict[int, float] = {}
        self._base: dict[int, float] = {}
        self._loads: list[float] = []
        self._stop = threading.Event()

    @staticmethod
    def _tree() -> dict[int, float]:
        """CPU seconds so far of each process in this process's tree."""
        parent, cpu = {}, {}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            rest = stat[stat.rfind(")") + 2:].split()
            parent[int(entry)] = int(rest[1])
            cpu[int(entry)] = (int(rest[11]) + int(rest[12])) / tick
        mine, frontier = {os.getpid()}, [os.getpid()]
        children: dict[int, list[int]] = {}
        for pid, ppid in parent.items():
            children.setdefault(ppid, []).append(pid)
        while frontier:
            for child in children.get(frontier.pop(), []):
                if child not in mine:
                    mine.add(child)
                    frontier.append(child)
        return {pid: cpu[pid] for pid in mine if pid in cpu}

    def _sample(self) -> None:
        self._last.update(self._tree())
        self._loads.append(os.getloadavg()[0])

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> TreeCPU:
        if Path("/proc/self/stat").exists():
            self._base = self._tree()
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._base:
            return
        self._stop.set()
        self._thread.join()
        self._sample()
        self.seconds = sum(v - self._base.get(pid, 0.0) for pid, v in self._last.items())
        self.load = sum(self._loads) / len(self._loads)


def table(index: Any) -> tuple[list[str], dict[str, str], dict[str, np.ndarray]]:
    chunks = index.chunks()
    ids = sorted(c.id for c in chunks)
    return ids, {c.id: c.text for c in chunks}, index.store.vectors(ids)


def run_local(folder: Path, out: Path, embedder: Any) -> tuple[Any, float]:
    from sapient.plugins.retrieval import DocumentIndex

    index = DocumentIndex.create(out, embedder)
    with TreeCPU() as cpu:
        t = time.perf_counter()
        index.ingest(folder, show_progress=True)
        index.save()
        wall = time.perf_counter() - t
    return index, measured(wall, cpu)


def run_ray(folder: Path, out: Path, embedder: Any, workers: int) -> tuple[Any, float]:
    from sapient.plugins.retrieval import DocumentIndex, ingest_with_ray

    index = DocumentIndex.create(out, embedder)
    with TreeCPU() as cpu:
        t = time.perf_counter()
        summary = ingest_with_ray(index, folder, workers=workers, show_progress=True)
        index.save()
        wall = time.perf_counter() - t
    if summary.errors:
        print(f"  {len(summary.errors)} file errors, e.g. {summary.errors[0]}", file=sys.stderr)
    return index, measured(wall, cpu)


def measured(wall: float, cpu: TreeCPU) -> dict[str, Any]:
    """Wall seconds, CPU seconds of the process tree and the machine's mean load."""
    return {"seconds": round(wall, 1),
            "cpu_s": None if cpu.seconds is None else round(cpu.seconds, 1),
            "load_avg": None if cpu.load is None else round(cpu.load, 1)}


def ray_startup(workers: int) -> float:
    """Seconds to start and stop a local Ray of that size (the fixed cost of a run)."""
    from sapient.plugins.retrieval._ray import ray_session

    t = time.perf_counter()
    with ray_session(workers):
        pass
    return time.perf_counter() - t


def embed_rate_one_core(embedder: Any, texts: list[str]) -> dict[str, float]:
    """Chunks per CPU-second of one embedding worker (torch on one thread, as each Ray
    actor runs), on the chunks and on the same chunks cut to their first 120
    characters (a sentence): the cost grows with the tokens per chunk. Per CPU-second,
    so the figure holds on a shared machine; wall-clock chunks/s beside it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tokenizer = embedder.model.tokenizer
    out: dict[str, float] = {}
    try:
        embedder.embed(texts[:16])
        for label, batch in (("chunks", texts), ("first_120_chars", [t[:120] for t in texts])):
            tokens = [min(len(ids), 256) for ids in tokenizer(batch)["input_ids"]]
            t, c = time.perf_counter(), time.process_time()
            for i in range(0, len(batch), 128):
                embedder.embed(batch[i:i + 128])
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            out[f"{label}_per_cpu_s"] = round(len(batch) / cpu, 1)
            out[f"{label}_per_wall_s"] = round(len(batch) / wall, 1)
            out[f"{label}_tokens_mean"] = round(sum(tokens) / len(tokens), 1)
        return out
    finally:
        torch.set_num_threads(threads)


def chunk_rate(folder: Path, index: Any) -> float:
    """Files/s read and split on one core (no embedding): the workers' other job."""
    from sapient.plugins.retrieval._ingest import FileJob, chunk_file, file_sha

    files = sorted(folder.glob("*.txt"))
    t = time.perf_counter()
    for f in files:
        chunk_file(FileJob(f, f.name, None), index.chunker, file_sha(f))
    return len(files) / (time.perf_counter() - t)


def writer_rates(index: Any, tmp: Path) -> dict[str, float]:
    """Chunks/s the single writer sustains (precomputed vectors: no embedding)."""
    from sapient.connectors.docstore import copy_store
    from sapient.plugins.retrieval._stores import open_store_spec

    rates = {}
    targets = {"faiss": f"faiss:{tmp / 'writer-faiss'}"}
    try:
        import milvus_lite  # noqa: F401

        targets["milvus_lite"] = f"milvus:{tmp / 'writer.db'}?collection=writer"
    except ImportError:
        pass
    for name, spec in targets.items():
        store = open_store_spec(spec)
        t = time.perf_counter()
        n = copy_store(index.store, store, batch_size=500)
        rates[name] = n / (time.perf_counter() - t)
        store.close()
    return rates


def compare(base: Any, other: Any) -> dict[str, Any]:
    ids, texts, vecs = table(base)
    ids2, texts2, vecs2 = table(other)
    same = ids == ids2 and texts == texts2
    diff = max((float(np.abs(vecs[i] - vecs2[i]).max()) for i in ids), default=0.0) \
        if same else None
    return {"same_chunks": same, "max_abs_diff": diff}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="BEIR folder with corpus.jsonl (default: ../shared/data/beir/scifact)")
    ap.add_argument("--docs", type=int, default=5000, help="first N abstracts (default 5000)")
    ap.add_argument("--workers", default="1,2", help="Ray worker counts to run (default 1,2)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads of the in-process run (default: torch's choice, "
                         "one per core; 1 compares it core for core with one Ray worker)")
    ap.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    from sapient.connectors.embeddings import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp_name:
        tmp = Path(tmp_name)
        n = write_corpus(args.data, args.docs, tmp / "docs")
        print(f"{n} abstracts, {cores} cores; in-process ingest ...", file=sys.stderr)
        local, local_run = run_local(tmp / "docs", tmp / "local", embedder)
        chunks = len(local)
        runs: dict[str, Any] = {"in_process": local_run}
        for w in workers:
            print(f"--engine ray, {w} worker(s) ...", file=sys.stderr)
            index, ray_run = run_ray(tmp / "docs", tmp / f"ray{w}", embedder, w)
            runs[f"ray_{w}"] = {**ray_run, **compare(local, index)}
        print("fixed costs and rates ...", file=sys.stderr)
        startup = {w: round(ray_startup(w), 1) for w in workers}
        texts = [c.text for c in local.chunks()][:300]
        per_worker = embed_rate_one_core(embedder, texts)
        read_rate = chunk_rate(tmp / "docs", local)
        writers = writer_rates(local, tmp)
    for r in runs.values():
        r["docs_per_s"] = round(n / r["seconds"], 2)
        r["chunks_per_s"] = round(chunks / r["seconds"], 2)
        r["chunks_per_cpu_s"] = round(chunks / r["cpu_s"], 2) if r["cpu_s"] else None
    figures = {"docs": n, "chunks": chunks, "cores": cores, "runs": runs,
               "in_process_threads": args.threads or "default",
               "ray_startup_s": startup,
               "embed_one_worker": per_worker,
               "read_chunk_files_per_s_one_core": round(read_rate, 1),
               "writer_chunks_per_s": {k: round(v, 1) for k, v in writers.items()}}
    report(figures)
    if args.json:
        print(json.dumps(figures))
    return 0


def report(f: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(file=sys.stdout, width=120)
    t = Table(title=f"Ingest {f['docs']} SciFact abstracts ({f['chunks']} chunks), "
                    f"{f['cores']} cores")
    for c in ("run", "seconds", "docs/s", "chunks/s", "CPU s", "chunks/CPU s", "load",
              "same chunks", "max |dv|"):
        t.add_column(c, justify="right" if c != "run" else "left")
    base = f["runs"]["in_process"]["seconds"]
    for name, r in f["runs"].items():
        t.add_row(name, f"{r['seconds']:.1f}", f"{r['docs_per_s']:.2f}",
                  f"{r['chunks_per_s']:.2f}", str(r["cpu_s"]), str(r["chunks_per_cpu_s"]),
                  str(r["load_avg"]), "-" if "same_chunks" not in r else str(r["same_chunks"]),
                  "-" if r.get("max_abs_diff") is None else f"{r['max_abs_diff']:.1e}")
    con.print(t)
    con.print("in-process / Ray time ratios: " + ", ".join(
        f"{k}: {base / r['seconds']:.2f}x" for k, r in f["runs"].items() if k != "in_process"))
    e = f["embed_one_worker"]
    con.print(f"Ray start+stop: {f['ray_startup_s']} s; on one core a worker reads and "
              f"splits {f['read_chunk_files_per_s_one_core']} files/s and embeds "
              f"{e['chunks_per_cpu_s']} chunks per CPU-second ({e['chunks_tokens_mean']} "
              f"tokens each; {e['first_120_chars_per_cpu_s']} for the first 120 characters, "
              f"{e['first_120_chars_tokens_mean']} tokens); the single writer takes "
              f"{f['writer_chunks_per_s']} chunks/s")


if __name__ == "__main__":
    raise SystemExit(main())
