"""Server-side sessions named by the ``X-Sapient-Session`` header, in a session store.

A session holds the conversation so far (Sapient messages as OpenAI-style dicts, tool
results included and still marked untrusted) and a ``pending`` list of the tool calls
that wait for a person's approval (``id``, ``name``, ``arguments``, ``reasons``): the
server answered with them as ``tool_calls``, and the next request's ``tool`` messages
approve or deny them (see ``_approvals.py``).

Every store keeps a version number per session and saves with compare-and-set: two
requests that continue the same session at once cannot both win; the later one gets
409 and may resend. That is what lets several server replicas share one store with no
sticky sessions.

Stores, by spec:

``memory``
    a dict in this process (default; lost on restart; one process only).
``sqlite:PATH``
    a SQLite file (``sqlite3`` from the standard library): survives restarts, shared by
    the processes of one machine.
``redis://HOST:PORT/DB`` (or ``rediss://``)
    Redis through the ``redis`` client (``pip install 'sapient[api]'``): shared by
    replicas on many machines; idle sessions expire by Redis TTL.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from sapient import ConfigurationError

__all__ = [
    "SessionState",
    "SessionStore",
    "MemorySessionStore",
    "SQLiteSessionStore",
    "RedisSessionStore",
    "open_session_store",
    "check_session_id",
    "redact_url",
]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")


def check_session_id(value: str) -> bool:
    """Session ids: 1-128 letters, digits, ``._:-`` (a UUID is a good choice)."""
    return bool(_ID.match(value))


@dataclass
class SessionState:
    """One session: its messages, tool calls awaiting approval, its version, and the
    state of its conversation memory (``ConversationMemory.to_dict()``) when the server
    keeps sessions under a token budget."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0
    memory: dict[str, Any] | None = None

    def dumps(self) -> str:
        return json.dumps({"version": self.version, "messages": self.messages,
                           "pending": self.pending, "memory": self.memory},
                          ensure_ascii=False, default=str)

    @classmethod
    def loads(cls, text: str | bytes) -> SessionState:
        data = json.loads(text)
        memory = data.get("memory")
        return cls(list(data.get("messages", [])), list(data.get("pending", [])),
                   int(data.get("version", 0)), memory if isinstance(memory, dict) else None)


class SessionStore(Protocol):
    """Where sessions live. ``save`` succeeds only if the stored version is ``expected``
    (0: the session must not exist, or have expired); it then stores ``expected + 1``."""

    name: str

    async def load(self, session_id: str) -> SessionState | None: ...

    async def save(self, session_id: str, state: SessionState, expected: int) -> bool: ...

    async def delete(self, session_id: str) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class MemorySessionStore:
    """Sessions in this process's memory, least recently used dropped past ``max_sessions``."""

    name = "memory"

    def __init__(self, ttl_s: float = 86_400.0, max_sessions: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._data: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def _live(self, session_id: str) -> tuple[float, str] | None:
        item = self._data.get(session_id)
        if item is not None and item[0] < time.monotonic():
            del self._data[session_id]
            return None
        return item

    async def load(self, session_id: str) -> SessionState | None:
        item = self._live(session_id)
        if item is None:
            return None
        self._data.move_to_end(session_id)
        return SessionState.loads(item[1])  # a copy: no request shares another's lists

    async def save(self, session_id: str, state: SessionState, expected: int) -> bool:
        item = self._live(session_id)
        current = SessionState.loads(item[1]).version if item else 0
        if current != expected:
            return False
        state.version = expected + 1
        self._data[session_id] = (time.monotonic() + self.ttl_s, state.dumps())
        self._data.move_to_end(session_id)
        while len(self._data) > self.max_sessions:
            self._data.popitem(last=False)
        return True

    async def delete(self, session_id: str) -> None:
        self._data.pop(session_id, None)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._data.clear()


class SQLiteSessionStore:
    """Sessions in one SQLite file (WAL mode), shared by the processes of one machine.

    Calls run on worker threads so the event loop never waits on the disk.
    """

    name = "sqlite"

    def __init__(self, path: str | Path, ttl_s: float = 86_400.0) -> None:
        self.path = Path(path).expanduser()
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, "
                             "version INTEGER NOT NULL, data TEXT NOT NULL, expires REAL NOT NULL)")
        except (OSError, sqlite3.Error) as exc:
            raise ConfigurationError(f"Cannot open the SQLite session store {self.path}: {exc}. "
                                     "Check the path and its permissions.") from None

    def _load(self, session_id: str) -> SessionState | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM sessions WHERE id = ? AND expires >= ?",
                                   (session_id, time.time())).fetchone()
        return SessionState.loads(row[0]) if row else None

    def _save(self, session_id: str, state: SessionState, expected: int) -> bool:
        now = time.time()
        state.version = expected + 1
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO sessions (id, version, data, expires) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET version = excluded.version, data = excluded.data, "
                "expires = excluded.expires WHERE sessions.version = ? "
                "OR (sessions.expires < ? AND ? = 0)",
                (session_id, state.version, state.dumps(), now + self.ttl_s, expected, now,
                 expected))
            if cur.rowcount == 1 and state.version % 200 == 0:  # now and then: forget idle ones
                self._db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            return cur.rowcount == 1

    def _delete(self, session_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    async def load(self, session_id: str) -> SessionState | None:
        return await asyncio.to_thread(self._load, session_id)

    async def save(self, session_id: str, state: SessionState, expected: int) -> bool:
        return await asyncio.to_thread(self._save, session_id, state, expected)

    async def delete(self, session_id: str) -> None:
        await asyncio.to_thread(self._delete, session_id)

    async def ping(self) -> None:
        await asyncio.to_thread(lambda: self._db.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisSessionStore:
    """Sessions in Redis (``redis.asyncio``), shared by server replicas.

    One key per session (``<prefix><id>``) holding the JSON state, with the session TTL;
    saves are ``WATCH``/``MULTI`` transactions, so a concurrent save makes one fail.
    """

    name = "redis"

    def __init__(self, url: str, ttl_s: float = 86_400.0, prefix: str = "sapient:session:") -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ConfigurationError("The Redis session store needs the 'redis' package: "
                                     "pip install 'sapient[api]'.") from None
        self.url = url
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.prefix = prefix
        self._client = aioredis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)

    async def load(self, session_id: str) -> SessionState | None:
        raw = await self._client.get(self.prefix + session_id)
        return SessionState.loads(raw) if raw is not None else None

    async def save(self, session_id: str, state: SessionState, expected: int) -> bool:
        from redis.exceptions import WatchError

        key = self.prefix + session_id
        async with self._client.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                raw = await pipe.get(key)
                current = SessionState.loads(raw).version if raw is not None else 0
                if current != expected:
                    await pipe.unwatch()
                    return False
                state.version = expected + 1
                pipe.multi()
                pipe.set(key, state.dumps(), px=self.ttl_ms)
                await pipe.execute()
                return True
            except WatchError:
                return False

    async def delete(self, session_id: str) -> None:
        await self._client.delete(self.prefix + session_id)

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()


def redact_url(url: str) -> str:
    """``url`` without a password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def open_session_store(spec: str, ttl_s: float = 86_400.0) -> Any:
    """The store a spec names (``memory``, ``sqlite:PATH``, ``redis://...``)."""
    if spec == "memory":
        return MemorySessionStore(ttl_s)
    if spec.startswith("sqlite:"):
        path = spec.removeprefix("sqlite:")
        if not path:
            raise ConfigurationError("Give the SQLite session store a file: sqlite:PATH.")
        return SQLiteSessionStore(path, ttl_s)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return RedisSessionStore(spec, ttl_s)
    raise ConfigurationError(f"Unknown session store '{redact_url(spec)}'. Use 'memory', "
                             "'sqlite:PATH' or 'redis://HOST:PORT/DB'.")


def check_redis(url: str) -> None:
    """Fail with one sentence now if Redis cannot be reached (a sync client, before serving)."""
    try:
        import redis
    except ImportError:
        raise ConfigurationError("The Redis session store needs the 'redis' package: "
                                 "pip install 'sapient[api]'.") from None
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConfigurationError(f"Cannot reach the Redis session store at {redact_url(url)} "
                                 f"({exc}). Start Redis or fix --sessions.") from None
    finally:
        client.close()
