"""``sapient serve`` throughput and latency, and correctness under load, on loopback.

Throughput: requests/s and p50/p99 latency at 1, 10 and 50 concurrent clients, side by
side in one run, for

* **bare**: a bare FastAPI endpoint on the same uvicorn settings that parses the request
  and returns the same text as a ``chat.completion`` (the peer and the floor);
* **sapient**: ``sapient serve --llm scripted:echo --no-tools`` (the real command; the
  scripted model answers instantly, so the figure is the server's own cost), non-streamed;
* **sapient-stream**: the same server, streamed (SSE, usage included);
* **agent.run**: ``Agent.run`` in this process on as many threads, with no HTTP at all.

Correctness under load: ``sapient serve --llm scripted:recall`` (it answers with every
user message of its context) under 50 concurrent sessions (``X-Sapient-Session``), each
sending its turns in order, half streamed. Every answer must list exactly that session's
messages: a foreign message is a *leak*, a missing or reordered one is *wrong*, a request
without a valid answer is *lost*.

The servers run as subprocesses; this process is the client. The load generator is a
small HTTP/1.1 keep-alive client on asyncio streams, not httpx, so that the client's own
cost stays small next to the servers' (both share this machine's cores).

Usage::

    python benchmarks/serve.py [--seconds 2 --rounds 3] [--levels 1,10,50] [--sessions 50 --turns 60]
                               [--session-store SPEC] [--quick] [--json]

``--data`` is accepted for symmetry with the other benchmarks; this one needs no data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
PROMPT = "How long does the Aurora X2 keep logging during a power cut?"
GOAL = 0.5  # sapient / bare throughput at 50 clients (the goal)


# --- the bare peer -------------------------------------------------------------------------


def bare_app() -> Any:
    """A bare FastAPI endpoint returning the last user message as a chat.completion."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        text = body["messages"][-1]["content"]
        out = {"id": "chatcmpl-bare", "object": "chat.completion", "created": int(time.time()),
               "model": body["model"], "choices": [{"index": 0, "finish_reason": "stop",
                                                    "message": {"role": "assistant",
                                                                "content": text}}],
               "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}
        return Response(json.dumps(out).encode(), media_type="application/json")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def run_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- servers as subprocesses ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of a process so far: this one, or ``pid`` (Linux /proc).

    Per-request CPU time is the figure that survives a busy machine: wall-clock latency
    also counts the time the server waits for a core.
    """
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


@contextmanager
def server(argv: list[str], port: int, home: Path) -> Iterator[int]:
    """A server process on 127.0.0.1:``port``, up when entered, stopped on exit; yields its pid."""
    env = {**os.environ, "SAPIENT_HOME": str(home), "SAPIENT_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.Popen([sys.executable, *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server {argv} exited: {proc.stderr.read()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"server {argv} did not start within 90 s") from None
                time.sleep(0.1)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sapient_argv(llm: str, port: int, sessions: str = "memory") -> list[str]:
    return ["-m", "sapient", "serve", "--llm", llm, "--no-tools", "--no-page", "--port", str(port),
            "--sessions", sessions]


# --- a minimal keep-alive HTTP/1.1 client ----------------------------------------------------


class Connection:
    """One keep-alive connection: POST a JSON body, read the whole (maybe chunked) reply."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                           f"application/json\r\nContent-Length: {len(body)}\r\n{head}\r\n")
                          .encode() + body)
        assert self.reader is not None
        status = int((await self.reader.readline()).split()[1])
        fields: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            key, _, value = line.decode("latin-1").partition(":")
            fields[key.strip().lower()] = value.strip()
        if "content-length" in fields:
            data = await self.reader.readexactly(int(fields["content-length"]))
        else:
            data = await self._chunked()
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, data

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        await self.reader.readline()
        return b"".join(parts)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def answer_of(data: bytes, streamed: bool) -> str | None:
    """The assistant text of a completion or of an SSE stream (None if it is not one)."""
    try:
        if not streamed:
            return json.loads(data)["choices"][0]["message"]["content"]
        text = ""
        for block in data.decode().split("\n\n"):
            if not block.startswith("data: ") or block == "data: [DONE]":
                continue
            chunk = json.loads(block[6:])
            if "error" in chunk:
                return None
            if chunk["choices"]:
                text += chunk["choices"][0]["delta"].get("content") or ""
        return text if data.rstrip().endswith(b"data: [DONE]") else None
    except (ValueError, KeyError, IndexError, TypeError):
        return None


# --- measurements --------------------------------------------------------------------------


def summary(latencies: list[float], wall: float, errors: int, cpu: float) -> dict[str, float]:
    lat = sorted(latencies)
    n = len(lat)
    return {"requests": n, "errors": errors, "rps": n / wall if wall else 0.0,
            "cpu_us": cpu / n * 1e6 if n else float("nan"),
            "p50_ms": statistics.median(lat) * 1e3 if n else float("nan"),
            "p99_ms": lat[min(n - 1, int(n * 0.99))] * 1e3 if n else float("nan")}


async def load(port: int, pid: int, clients: int, seconds: float,
               stream: bool) -> dict[str, float]:
    """``clients`` connections sending requests back to back for ``seconds``."""
    request: dict[str, Any] = {"model": "sapient", "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        request.update(stream=True, stream_options={"include_usage": True})
    body = json.dumps(request).encode()
    latencies: list[float] = []
    errors = 0

    async def worker(deadline: float) -> None:
        nonlocal errors
        conn = Connection(port)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status, data = await asyncio.wait_for(conn.post("/v1/chat/completions", body, {}), 30)
                ok = status == 200 and answer_of(data, stream) == PROMPT
            except (TimeoutError, OSError, ValueError, IndexError):
                conn.close()
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1
        conn.close()

    await asyncio.gather(*(worker(time.perf_counter() + 0.5) for _ in range(clients)))  # warm-up
    latencies.clear()
    errors = 0
    cpu, started = cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(worker(started + seconds) for _ in range(clients)))
    return summary(latencies, time.perf_counter() - started, errors, cpu_seconds(pid) - cpu)


def agent_runs(clients: int, seconds: float) -> dict[str, float]:
    """``Agent.run`` on ``clients`` threads, in this process (no HTTP)."""
    from sapient import Agent, Host, Settings
    from sapient.plugins.serve import DEFAULT_SYSTEM_PROMPT

    host = Host(Settings(home=Path(tempfile.gettempdir()) / "sapient-bench-serve"),
                load_entrypoints=False)
    agent = Agent("scripted:echo", host=host, system_prompt=DEFAULT_SYSTEM_PROMPT)
    agent.run(PROMPT)
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            assert agent.run(PROMPT).answer == PROMPT
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    cpu, started = cpu_seconds(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summary(latencies, time.perf_counter() - started, 0, cpu_seconds() - cpu)


async def session_check(port: int, pid: int, sessions: int, turns: int) -> dict[str, Any]:
    """50 sessions x ``turns`` ordered turns; count lost requests, leaks and wrong histories."""
    rng = random.Random(12)
    tokens = {s: f"s{s}x{rng.randrange(16**6):06x}" for s in range(sessions)}
    counts = {"lost": 0, "leaks": 0, "wrong": 0, "requests": 0}
    latencies: list[float] = []

    async def conversation(s: int) -> None:
        conn = Connection(port)
        said: list[str] = []
        headers = {"X-Sapient-Session": f"bench-{tokens[s]}"}
        for turn in range(turns):
            said.append(f"{tokens[s]}-t{turn}")
            stream = turn % 2 == 1
            body = {"model": "sapient", "messages": [{"role": "user", "content": said[-1]}],
                    "stream": stream}
            started = time.perf_counter()
            counts["requests"] += 1
            try:
                status, data = await asyncio.wait_for(
                    conn.post("/v1/chat/completions", json.dumps(body).encode(), headers), 30)
                text = answer_of(data, stream) if status == 200 else None
            except (TimeoutError, OSError, ValueError, IndexError):
                conn.close()
                text = None
            latencies.append(time.perf_counter() - started)
            if text is None:
                counts["lost"] += 1
                continue
            items = text.split(" | ")
            if any(not item.startswith(tokens[s] + "-") for item in items):
                counts["leaks"] += 1
            elif items != said:
                counts["wrong"] += 1
        conn.close()

    cpu, started = cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(conversation(s) for s in range(sessions)))
    wall = time.perf_counter() - started
    stats = summary(latencies, wall, counts["lost"], cpu_seconds(pid) - cpu)
    return {**counts, "sessions": sessions, "turns": turns, "rps": stats["rps"],
            "p50_ms": stats["p50_ms"], "p99_ms": stats["p99_ms"], "cpu_us": stats["cpu_us"]}


# --- main ----------------------------------------------------------------------------------


def throughput(levels: list[int], seconds: float, rounds: int,
               home: Path) -> dict[str, dict[str, Any]]:
    """Every contender at every level, in interleaved rounds; each figure is the median round."""
    bare_port, sap_port = free_port(), free_port()
    results: dict[str, dict[str, Any]] = {}
    with server([__file__, "--bare-server", str(bare_port)], bare_port, home) as bare_pid, \
            server(sapient_argv("scripted:echo", sap_port), sap_port, home) as sap_pid:
        for clients in levels:
            runs: dict[str, Callable[[], dict[str, float]]] = {
                "bare": lambda c=clients: asyncio.run(load(bare_port, bare_pid, c, seconds, False)),
                "sapient": lambda c=clients: asyncio.run(load(sap_port, sap_pid, c, seconds, False)),
                "sapient-stream": lambda c=clients: asyncio.run(
                    load(sap_port, sap_pid, c, seconds, True)),
                "agent.run": lambda c=clients: agent_runs(c, seconds),
            }
            # Interleaved, so a burst of load from elsewhere on the machine hits all alike.
            seen: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
            for _ in range(rounds):
                for name, run in runs.items():
                    seen[name].append(run())
            level = {name: median_round(r) for name, r in seen.items()}
            results[str(clients)] = level
            print_level(clients, level)
    return results


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    out = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    out["requests"] = sum(r["requests"] for r in rounds)
    out["errors"] = sum(r["errors"] for r in rounds)
    return out


def print_level(clients: int, level: dict[str, dict[str, float]]) -> None:
    bare = level["bare"]
    for name, s in level.items():
        ratio = f"{s['rps'] / bare['rps']:.2f}x" if bare["rps"] else "-"
        cpu_ratio = f"{s['cpu_us'] / bare['cpu_us']:.2f}x" if bare["cpu_us"] else "-"
        print(f"{clients:>7} {name:<15} {s['rps']:>9.0f} {s['p50_ms']:>9.2f} {s['p99_ms']:>9.2f} "
              f"{ratio:>9} {s['cpu_us']:>8.0f} {cpu_ratio:>8} {s['errors']:>6}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds per level; figures are the median round")
    parser.add_argument("--levels", default="1,10,50", help="concurrent clients, comma-separated")
    parser.add_argument("--sessions", type=int, default=50, help="sessions in the load check")
    parser.add_argument("--turns", type=int, default=60, help="turns per session in the load check")
    parser.add_argument("--session-store", default="memory",
                        help="session store of the load check's server (memory, sqlite:PATH, "
                        "redis://HOST:PORT/DB)")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s, 10 turns")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="unused (no data)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_server:
        run_bare(args.bare_server)
        return 0
    if args.quick:
        args.seconds, args.rounds, args.turns = 1.0, 1, 10
    levels = [int(x) for x in args.levels.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        print(f"sapient serve on loopback, {os.cpu_count()} CPUs, Python "
              f"{platform.python_version()}; {args.rounds} x {args.seconds:g} s per figure "
              "(median round)", flush=True)
        print(f"{'clients':>7} {'contender':<15} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} "
              f"{'vs bare':>9} {'CPU us':>8} {'vs bare':>8} {'errors':>6}", flush=True)
        results = throughput(levels, args.seconds, args.rounds, home)
        port = free_port()
        with server(sapient_argv("scripted:recall", port, args.session_store), port, home) as pid:
            check = asyncio.run(session_check(port, pid, args.sessions, args.turns))
    print(f"load check ({args.session_store} sessions): {check['requests']} requests from "
          f"{check['sessions']} concurrent sessions x {check['turns']} turns: lost "
          f"{check['lost']}, leaks {check['leaks']}, wrong {check['wrong']}; "
          f"{check['rps']:.0f} req/s, p50 {check['p50_ms']:.1f} ms, p99 {check['p99_ms']:.1f} ms")
    top = str(max(levels))
    at_top = results[top]
    ratio = at_top["sapient"]["rps"] / at_top["bare"]["rps"] if at_top["bare"]["rps"] else 0.0
    cpu_ratio = at_top["bare"]["cpu_us"] / at_top["sapient"]["cpu_us"]
    print(f"sapient / bare at {top} clients: throughput {ratio:.2f}, by server CPU per request "
          f"{cpu_ratio:.2f} (goal >= {GOAL})")
    if args.json:
        print(json.dumps({"levels": results, "clients": int(top), "sapient_over_bare": ratio,
                          "sapient_over_bare_cpu": cpu_ratio, "goal_met": ratio >= GOAL,
                          "lost": check["lost"], "leaks": check["leaks"], "wrong": check["wrong"],
                          "load": check}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
