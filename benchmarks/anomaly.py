"""Anomaly detection on NAB, scored as Orion and SigLLM score it, beside their figures.

Usage::

    python benchmarks/anomaly.py                       # shared NAB folders, all detectors
    python benchmarks/anomaly.py --data DIR --json     # any NAB-layout folder; JSON last
    python benchmarks/anomaly.py --quick               # 2 series per folder, no LLM
    python benchmarks/anomaly.py --llm llamacpp:default --llm-series 2

``DIR`` has NAB's layout: ``data/<folder>/*.csv`` (``timestamp,value``) and
``labels/combined_windows.json``. Scoring (see ``sapient.plugins.anomaly.scoring``):
overlapping-segment tp/fp/fn per series, summed per folder, F1 per folder, the
headline is the unweighted mean over folders. Detection is unsupervised over each
whole series with one configuration for every folder (no per-series tuning).

The published figures (Orion 0.7.1 pipelines, SigLLM paper runs) are read from
``published/anomaly_nab.csv`` next to the data and averaged over *the same
folders* as measured here. The LLM methods are slow (one model call per window),
so they run on the first ``--llm-series`` series of each folder; the ensemble is
scored on the same subset for a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sapient.plugins.anomaly import load_series
from sapient.plugins.anomaly.detectors import run_detector
from sapient.plugins.anomaly.ensemble import config_for, make_detector
from sapient.plugins.anomaly.scoring import Counts, overlap_counts

ROOT = Path(__file__).resolve().parents[1]

def _default_data() -> Path:
    """``../shared/data/nab`` from the project root (or from a folder above it)."""
    for base in ROOT.parents:
        candidate = base / "shared" / "data" / "nab"
        if candidate.exists():
            return candidate
    return ROOT.parent / "shared" / "data" / "nab"


DEFAULT_DATA = _default_data()
EXCLUDED = {"realAdExchange/exchange-4_cpc_results.csv"}  # left out by Orion and SigLLM
PUBLISHED_ROWS = [("aer", "Orion AER"), ("lstm_dynamic_threshold", "Orion LSTM-DT"),
                  ("arima", "Orion ARIMA"), ("matrixprofile", "Orion MP"),
                  ("detector-mistral", "SigLLM DETECTOR"), ("prompter-mistral", "SigLLM PROMPTER")]


def load_nab(data: Path, limit: int | None = None) -> dict[str, list[tuple[str, Path, list]]]:
    """Folder -> [(key, csv path, windows)] for every labelled series of a NAB-layout dir."""
    labels_path = data / "labels" / "combined_windows.json"
    if not labels_path.exists():
        raise SystemExit(f"No {labels_path}; --data must point at a NAB-layout folder "
                         "(data/<folder>/*.csv and labels/combined_windows.json).")
    windows = json.loads(labels_path.read_text())
    folders: dict[str, list[tuple[str, Path, list]]] = {}
    for folder in sorted(p for p in (data / "data").iterdir() if p.is_dir()):
        items = []
        for path in sorted(folder.glob("*.csv")):
            key = f"{folder.name}/{path.name}"
            if key in EXCLUDED or key not in windows:
                continue
            wins = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in windows[key]]
            items.append((key, path, wins))
        if items:
            folders[folder.name] = items[:limit] if limit else items
    if not folders:
        raise SystemExit(f"No labelled series under {data / 'data'}.")
    return folders


def load_published(path: Path, folders: list[str]) -> dict[str, dict[str, float]]:
    """pipeline -> {folder: f1} for the measured folders (empty if the file is missing)."""
    out: dict[str, dict[str, float]] = {}
    if not path.exists():
        return out
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if row["dataset"] in folders:
                out.setdefault(row["pipeline"], {})[row["dataset"]] = float(row["f1"])
    return out


def _detected(report: Any) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    return [(pd.Timestamp(i.start_time), pd.Timestamp(i.end_time)) for i in report.intervals]


def run_method(method: str, folders: dict[str, list], make: Callable[[], Any] | None = None,
               progress: bool = False) -> dict[str, Any]:
    """Score one method over the folders: counts per folder, F1, time per 1,000 points.

    ``make`` builds a fresh detector per series (default: ``make_detector(method)``).
    """
    counts: dict[str, Counts] = {}
    seconds, cpu, points, stats = 0.0, 0.0, 0, {"calls": 0, "unusable": 0, "prompt_tokens": 0,
                                      "completion_tokens": 0}
    config = config_for(0.5)
    for folder, items in folders.items():
        total = Counts()
        for key, path, wins in items:
            series = load_series(path, column="value", name=key)
            detector = make() if make is not None else make_detector(method)
            start, start_cpu = time.perf_counter(), time.process_time()
            if hasattr(detector, "detect_series"):
                report = detector.detect_series(series, config=config)
            else:
                report = run_detector(detector, series, config)
            seconds += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
            points += len(series)
            total = total + overlap_counts(wins, _detected(report))
            if hasattr(detector, "stats"):
                for k in stats:
                    stats[k] += getattr(detector.stats, k)
            if progress:
                print(f"  {method:<15} {key:<55} {len(report.intervals)} interval(s)",
                      file=sys.stderr)
        counts[folder] = total
    f1 = {f: round(c.f1, 4) for f, c in counts.items()}
    out = {
        "f1": f1,
        "mean_f1": round(sum(f1.values()) / len(f1), 4),
        "counts": {f: [c.tp, c.fp, c.fn] for f, c in counts.items()},
        "ms_per_1k_points": round(1000 * seconds / max(points, 1) * 1000, 2),
        "cpu_ms_per_1k_points": round(1000 * cpu / max(points, 1) * 1000, 2),
        "seconds": round(seconds, 2),
        "points": points,
    }
    if make is not None:
        out.update(stats)
    return out


def _row(name: str, per_folder: dict[str, float], folders: list[str], extra: str = "") -> str:
    cells = " ".join(f"{per_folder.get(f, float('nan')):>9.3f}" for f in folders)
    vals = [per_folder[f] for f in folders if f in per_folder]
    mean = sum(vals) / len(vals) if len(vals) == len(folders) else float("nan")
    return f"{name:<28} {cells} {mean:>9.3f}  {extra}"


def print_table(title: str, results: dict[str, dict[str, Any]],
                published: dict[str, dict[str, float]], folders: list[str]) -> None:
    """One row per measured method, then the published rows (pass {} to leave them out)."""
    short = [f[:9] for f in folders]
    print(f"\n{title}")
    print(f"{'method':<28} " + " ".join(f"{s:>9}" for s in short)
          + f" {'mean':>9}  time per 1,000 points (wall / CPU)")
    for name, res in results.items():
        extra = f"{res['ms_per_1k_points']:.1f} / {res['cpu_ms_per_1k_points']:.1f} ms"
        print(_row(name, res["f1"], folders, extra))
    for key, label in PUBLISHED_ROWS:
        if key in published:
            print(_row(f"{label} (published)", published[key], folders))


def run_llm(spec: str, folders: dict[str, list], per_folder: int, max_points: int,
            progress: bool) -> dict[str, Any]:
    """The LLM methods on the first ``per_folder`` series of each folder, or why not."""
    try:
        from sapient import Host

        llm = Host().llm(spec)
        if hasattr(llm, "load"):
            llm.load()
    except Exception as exc:  # no connector, no model file, no extra installed
        return {"skipped": f"LLM {spec!r} unavailable: {type(exc).__name__}: {exc}"}
    subset = {f: items[:per_folder] for f, items in folders.items()}
    out: dict[str, Any] = {"model": spec, "series": [k for it in subset.values() for k, _, _ in it],
                           "max_points": max_points}
    from sapient.plugins.anomaly.llm_methods import LLMDetector, LLMPrompter

    # Bound the cost: every series is averaged down to max_points before prompting.
    for name, cls in (("llm-detector", LLMDetector), ("llm-prompter", LLMPrompter)):
        def make(cls: Any = cls) -> Any:
            return cls(llm, max_points=max_points, progress=progress)

        try:
            out[name] = run_method(name, subset, make=make, progress=progress)
        except Exception as exc:
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    out["auto (same series)"] = run_method("auto", subset)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NAB-layout folder")
    parser.add_argument("--published", type=Path, default=None,
                        help="published figures CSV (default: DATA/../published/anomaly_nab.csv)")
    parser.add_argument("--methods", default="auto,mad,stl,forecast",
                        help="comma-separated detectors; add matrix-profile to include it "
                             "(its numba kernels compile for about a minute first)")
    parser.add_argument("--limit", type=int, default=None, help="series per folder")
    parser.add_argument("--quick", action="store_true", help="2 series per folder, no LLM")
    parser.add_argument("--llm", default="llamacpp:default", help="LLM spec for the LLM methods")
    parser.add_argument("--llm-series", type=int, default=1,
                        help="series per folder for the LLM methods (default 1)")
    parser.add_argument("--llm-max-points", type=int, default=300,
                        help="series are averaged down to this many points for the LLM")
    parser.add_argument("--no-llm", action="store_true", help="skip the LLM methods")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args(argv)

    limit = 2 if args.quick and args.limit is None else args.limit
    folders = load_nab(args.data, limit)
    names = list(folders)
    published_path = args.published or args.data.parent / "published" / "anomaly_nab.csv"
    published = load_published(published_path, names)
    progress = not args.json
    print(f"NAB folders: {', '.join(names)} ({sum(len(v) for v in folders.values())} series); "
          f"machine: {platform.machine()}, {platform.python_version()}", file=sys.stderr)

    import numpy as np

    warm = np.sin(np.arange(600) / 10.0)
    for method in args.methods.split(","):  # imports and first-call costs are not timed
        make_detector(method.strip()).detect(warm)
    results: dict[str, dict[str, Any]] = {}
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        results[method] = run_method(method, folders)
    print_table("Overlapping-segment F1 per folder (published figures: same folders)",
                results, published, names)

    if args.quick or args.no_llm:
        llm = {"skipped": "--quick" if args.quick else "--no-llm"}
    else:
        llm = run_llm(args.llm, folders, args.llm_series, args.llm_max_points, progress)
    if "skipped" in llm:
        print(f"\nLLM methods skipped: {llm['skipped']}")
    else:
        subset = {k: v for k, v in llm.items() if isinstance(v, dict) and "f1" in v}
        print_table(f"LLM methods with {llm['model']} on {len(llm['series'])} series "
                    f"(averaged to {llm['max_points']} points; published figures above are "
                    "whole folders)", subset, {}, names)
        for name in ("llm-detector", "llm-prompter"):
            res = llm.get(name, {})
            if "error" in res:
                print(f"{name}: failed: {res['error']}")
            elif res:
                print(f"{name}: {res['calls']} calls, {res['unusable']} unusable answers, "
                      f"{res['seconds']:.0f} s")

    headline = results.get("auto") or next(iter(results.values()))
    figures = {
        "f1": headline["f1"],
        "mean_f1": headline["mean_f1"],
        "ms_per_1k_points": headline["ms_per_1k_points"],
        "llm": llm,
        "folders": names,
        "methods": results,
        "published_mean_f1_same_folders": {
            k: round(sum(v.values()) / len(v), 4) for k, v in published.items()
            if len(v) == len(names)},
    }
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
