"""Session stores (memory, SQLite, a real Redis) pass one contract; two ``sapient serve``
processes sharing one store answer alternate turns of one conversation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import openai
import pytest
from sapient import ConfigurationError
from sapient.plugins.serve import open_session_store
from sapient.plugins.serve._sessions import SessionState, redact_url
from serve_helpers import sapient_serve


def test_store_contract(store_spec: str) -> None:
    async def main() -> None:
        store = open_session_store(store_spec, ttl_s=60)
        try:
            await store.ping()
            assert await store.load("s1") is None
            first = SessionState([{"role": "user", "content": "héllo"}])
            assert await store.save("s1", first, expected=0)
            assert first.version == 1
            loaded = await store.load("s1")
            assert loaded.messages == [{"role": "user", "content": "héllo"}]
            assert loaded.version == 1 and loaded.pending == []
            # Compare-and-set: a save from a stale version loses, the current one wins.
            assert not await store.save("s1", SessionState([]), expected=0)
            assert await store.save("s1", SessionState(loaded.messages * 2), expected=1)
            assert not await store.save("s1", SessionState([]), expected=1)
            assert len((await store.load("s1")).messages) == 2
            assert await store.load("s2") is None  # sessions are separate
            loaded.messages.append({"role": "user", "content": "local change"})
            assert len((await store.load("s1")).messages) == 2  # loads are copies
            await store.delete("s1")
            assert await store.load("s1") is None
        finally:
            await store.close()

    asyncio.run(main())


def test_sessions_expire(store_spec: str) -> None:
    async def main() -> None:
        store = open_session_store(store_spec, ttl_s=0.3)
        try:
            assert await store.save("old", SessionState([{"role": "user", "content": "x"}]), 0)
            assert await store.load("old") is not None
            await asyncio.sleep(0.6)
            assert await store.load("old") is None
            assert await store.save("old", SessionState([]), 0)  # an expired one starts afresh
        finally:
            await store.close()

    asyncio.run(main())


def test_one_of_many_concurrent_saves_wins(store_spec: str) -> None:
    async def main() -> list[bool]:
        store = open_session_store(store_spec, ttl_s=60)
        try:
            return list(await asyncio.gather(*(
                store.save("race", SessionState([{"role": "user", "content": str(i)}]), 0)
                for i in range(8))))
        finally:
            await store.close()

    assert sum(asyncio.run(main())) == 1


def test_bad_store_specs_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="Unknown session store 'mongo://u:\\*\\*\\*@h/db'"):
        open_session_store("mongo://u:secret@h/db")
    with pytest.raises(ConfigurationError, match="sqlite:PATH"):
        open_session_store("sqlite:")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError, match="Cannot open the SQLite session store"):
        open_session_store(f"sqlite:{tmp_path / 'file' / 'sessions.db'}")
    assert redact_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"


def _turns(urls: list[str], session: str, n: int) -> list[tuple[str, str]]:
    """Alternate ``n`` turns of one conversation over the servers; (wanted, got) pairs."""
    clients = [openai.OpenAI(base_url=f"{u}/v1", api_key="x", max_retries=0, timeout=30)
               for u in urls]
    said, out = [], []
    for turn in range(n):
        said.append(f"turn {turn} to replica {turn % len(urls)}")
        c = clients[turn % len(urls)]
        kwargs = {"model": "sapient", "messages": [{"role": "user", "content": said[-1]}],
                  "extra_headers": {"X-Sapient-Session": session}}
        if turn % 3 == 2:
            text = "".join(ch.choices[0].delta.content or "" for ch in
                           c.chat.completions.create(stream=True, **kwargs) if ch.choices)
        else:
            text = c.chat.completions.create(**kwargs).choices[0].message.content
        out.append((" | ".join(said), text))
    return out


@pytest.mark.slow
def test_two_replicas_share_one_redis_session_store(redis_url: str, tmp_path: Path) -> None:
    args = ["--llm", "scripted:recall", "--no-tools", "--sessions", redis_url]
    with sapient_serve(args, tmp_path / "a", tmp_path / "a.log") as a, \
            sapient_serve(args, tmp_path / "b", tmp_path / "b.log") as b:
        results = _turns([a, b], "conversation-1", 6)
        other = _turns([b, a], "conversation-2", 2)
    assert [got for _, got in results] == [want for want, _ in results]
    assert results[-1][1].count("|") == 5
    assert [got for _, got in other] == [want for want, _ in other]  # nothing of conversation-1


@pytest.mark.slow
def test_two_processes_share_one_sqlite_session_store(tmp_path: Path) -> None:
    args = ["--llm", "scripted:recall", "--no-tools", "--sessions", f"sqlite:{tmp_path / 's.db'}"]
    with sapient_serve(args, tmp_path / "a", tmp_path / "a.log") as a, \
            sapient_serve(args, tmp_path / "b", tmp_path / "b.log") as b:
        results = _turns([a, b], "c", 4)
    assert [got for _, got in results] == [want for want, _ in results]


def test_serve_refuses_an_unreachable_redis(tmp_path: Path) -> None:
    import subprocess
    import sys

    from serve_helpers import free_port, sapient_env

    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "sapient", "serve", "--llm", "scripted:echo",
                          "--sessions", f"redis://127.0.0.1:{free_port()}/0"],
                         capture_output=True, text=True, timeout=60,
                         env=sapient_env(tmp_path / "home"))
    assert out.returncode == 2
    assert "Cannot reach the Redis session store" in out.stderr
    assert "Traceback" not in out.stderr
    assert time.monotonic() - started < 60
