"""Helpers shared by the server tests (a module of its own: test files import it by name)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sapient import Citation, ToolCall, ToolOutput, tool

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"

ENV = ("SAPIENT_LLM", "SAPIENT_PLUGINS", "SAPIENT_DISABLE_PLUGIN_AUTOLOAD", "SAPIENT_TRACE_PLUGINS",
       "SAPIENT_EMBEDDER", "SAPIENT_GRAPH", "SAPIENT_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")

PASSAGES = {
    "aurora-x2-specifications.md#3": (
        "During a power cut the Aurora X2 keeps logging for 72 hours on its backup battery."),
    "warranty-and-returns.md#0": "Every Aurora device carries a two-year warranty.",
}



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@tool
def search_docs(query: str) -> ToolOutput:
    """Search the product documents.

    Args:
        query: what to look for.
    """
    cites = [Citation(source_id=k, text=v, score=1.0 - i / 10, metadata={"source": k.split("#")[0]})
             for i, (k, v) in enumerate(PASSAGES.items())]
    text = "\n".join(f"[{c.source_id}] {c.text}" for c in cites)
    return ToolOutput(content=f"Results for {query!r}:\n{text}", citations=cites)


def rag_reply(messages, tools, options) -> Any:
    """Search first, then answer from the tool result, citing the first passage.

    The answer also says how many user turns the context holds, so tests can see that a
    conversation was kept, and repeats the question, so they can see whose it was.
    """
    last_user = max(i for i, m in enumerate(messages) if m.role == "user")
    question = messages[last_user].content or ""
    if not any(m.role == "tool" for m in messages[last_user:]):
        return ToolCall("search_docs", {"query": question})
    turns = sum(1 for m in messages if m.role == "user")
    first = next(iter(PASSAGES))
    return (f"The Aurora X2 keeps logging for 72 hours [{first}]. "
            f"(turn {turns}; you asked: {question})")


class ServerThread:
    """A real uvicorn server for ``app`` on 127.0.0.1, in a thread, stopped on exit."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    """Wait until ``url`` answers 200 (or fail, with the process's exit if it died)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.1)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


def sapient_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV}
    env["SAPIENT_HOME"] = str(home)
    env["SAPIENT_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.update(extra)
    return env


@contextlib.contextmanager
def sapient_serve(args: list[str], home: Path, log: Path, **env: str) -> Iterator[str]:
    """``python -m sapient serve ARGS --port P`` as a process; yields its base URL."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sapient", "serve", *args, "--port",
                                 str(port)], stdout=out, stderr=subprocess.STDOUT,
                                env=sapient_env(home, **env))
        try:
            try:
                wait_http(f"http://127.0.0.1:{port}/health", proc)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}; log:\n{log.read_text()}") from None
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)
