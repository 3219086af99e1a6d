"""Fixtures for the server tests: apps served by a real uvicorn on 127.0.0.1 in a thread,
a scripted "retrieval" LLM, and a private redis-server (helpers live in serve_helpers)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server tests need sapient[api] (fastapi, uvicorn)")
pytest.importorskip("uvicorn", reason="the server tests need sapient[api] (fastapi, uvicorn)")

from sapient import Host, Settings  # noqa: E402
from sapient.connectors.scripted import ScriptedLLM  # noqa: E402
from serve_helpers import ENV, ServerThread, free_port, rag_reply, stop  # noqa: E402


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting of the machine leaks into a test; data goes to a temp folder."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAPIENT_HOME", str(tmp_path / "home"))


@pytest.fixture
def rag_llm() -> ScriptedLLM:
    return ScriptedLLM(function=rag_reply, name="scripted:rag")


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(Settings(home=tmp_path / "home"), load_entrypoints=False)


@pytest.fixture
def serve_app():
    """``serve_app(config, host=...)`` starts an app in a thread and returns its ServerThread."""
    from sapient.plugins.serve import create_app

    with contextlib.ExitStack() as stack:
        def start(config: Any, host: Host | None = None) -> ServerThread:
            return stack.enter_context(ServerThread(create_app(config, host=host)))

        yield start


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A private ``redis-server`` on 127.0.0.1 (free port, tmp dir), stopped after the test."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir",
                             str(data), "--save", "", "--appendonly", "no",
                             "--protected-mode", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        stop(proc)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_spec(request, tmp_path: Path) -> str:
    """Each session store in turn: in memory, a SQLite file, a private redis-server."""
    if request.param == "memory":
        return "memory"
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'sessions.db'}"
    return request.getfixturevalue("redis_url")
