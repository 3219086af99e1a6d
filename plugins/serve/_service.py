"""One chat turn, from a parsed request to a completion or a stream of chunks.

Kept apart from the web framework: FastAPI routes (``_app.py``) only read the request,
check the key and hand over. Every turn gets its own message lists and run; the only
things requests share are the agent (which holds no per-run state), its LLM and tools,
and the session store.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sapient import Agent, Host, LLMError, Message, Result, SapientError

from ._agents import AgentPool, build_agent, load_plugins
from ._config import ServeConfig
from ._protocol import (
    APIError,
    ChatRequest,
    ChunkWriter,
    citation_dict,
    completion,
    finish_reason,
    message_from_dict,
    message_to_dict,
    new_id,
    to_messages,
    usage_dict,
)
from ._sessions import SessionState, open_session_store

__all__ = ["ChatService", "Turn"]

log = logging.getLogger("sapient.serve")
_DONE = b"data: [DONE]\n\n"


@dataclass
class Turn:
    """Everything one request needs to run: the agent, the conversation, the session."""

    agent: Agent
    prompt: str
    history: list[Message]
    session_id: str | None
    state: SessionState | None
    include_usage: bool
    cid: str
    created: int


def _arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _step(event: Any, finished: bool) -> dict[str, Any]:
    """A tool step for clients: the call when it starts, the result when it ends."""
    if not finished:
        call = event.call
        return {"type": "tool_call", "step": event.step, "id": call.id, "name": call.name,
                "arguments": _arguments(call.arguments)}
    rec = event.record
    return {"type": "tool_result", "step": event.step, "id": rec.call_id, "name": rec.name,
            "arguments": _arguments(rec.arguments), "result": rec.result, "error": rec.error,
            "duration_ms": round(rec.duration_s * 1000, 3)}


def _upstream(exc: SapientError) -> APIError:
    if isinstance(exc, LLMError):
        return APIError(502, f"The model failed: {exc}", type="api_error", code="upstream_error")
    return APIError(500, str(exc), type="server_error", code="agent_error")


class ChatService:
    """Runs chat turns for the app: the agent pool, the session store, the model name."""

    def __init__(self, config: ServeConfig, host: Host | None = None) -> None:
        self.config = config
        plugins = load_plugins(config.plugins)
        self.pool = AgentPool(build_agent(config, host, plugins), plugins)
        self.store = open_session_store(config.sessions, config.session_ttl_s)
        self.model = config.model_name

    @property
    def agent(self) -> Agent:
        return self.pool.base

    async def start_turn(self, request: ChatRequest, session_id: str | None) -> Turn:
        """Check the request, load the session, split the conversation into history + prompt."""
        request.check_supported()
        if request.model != self.model:
            raise APIError(404, f"The model '{request.model}' does not exist here; this server "
                           f"serves '{self.model}' (GET /v1/models lists it).", param="model",
                           code="model_not_found")
        state: SessionState | None = None
        stored: list[Message] = []
        if session_id is not None:
            state = await self.store.load(session_id) or SessionState()
            if state.pending:
                # The seam for approvals: the approval policy parks side-effecting calls in
                # state.pending and returns them as tool_calls; the client's 'tool' messages
                # approve or deny them and the run resumes here. Nothing fills it yet.
                raise APIError(409, "This session waits for tool approvals, which this server "
                               "cannot resume.", param="X-Sapient-Session", code="approval_pending")
            stored = [message_from_dict(d) for d in state.messages]
        new = to_messages(request.messages, offset=0)
        last = new[-1]
        if last.role != "user":
            raise APIError(400, f"The last message must come from the user (role 'user'), not "
                           f"'{last.role}'; 'tool' messages only answer pending approvals, and "
                           "this conversation has none.", param="messages", code="invalid_value")
        stream_usage = bool(request.stream_options and request.stream_options.include_usage)
        return Turn(self.pool.get(request.model_options()), last.content or "",
                    stored + new[:-1], session_id, state, stream_usage, new_id(), int(time.time()))

    async def complete(self, turn: Turn) -> dict[str, Any]:
        """A whole ``chat.completion`` (non-streaming)."""
        try:
            result = await turn.agent.arun(turn.prompt, history=turn.history)
        except SapientError as exc:
            raise _upstream(exc) from exc
        await self._save(turn, result)
        steps = [_step(e, True) for e in result.events if e.kind == "ToolCallFinished"]
        extension = {"steps": steps, "citations": [citation_dict(c) for c in result.citations],
                     "stop_reason": result.stop_reason, "error": result.error,
                     "session": turn.session_id}
        return completion(turn.cid, self.model, result.answer, result.stop_reason, result.usage,
                          extension)

    async def stream(self, turn: Turn) -> AsyncIterator[bytes]:
        """SSE chunks: role, text deltas, tool steps, the finish, usage, ``[DONE]``."""
        make = ChunkWriter(turn.cid, turn.created, self.model, with_usage=turn.include_usage)
        yield make(delta={"role": "assistant", "content": ""})
        result: Result | None = None
        try:
            async for event in turn.agent.astream(turn.prompt, history=turn.history):
                kind = event.kind
                if kind == "TextDelta":
                    yield make(delta={"content": event.text})
                elif kind in ("ToolCallStarted", "ToolCallFinished"):
                    yield make(extension=_step(event, kind == "ToolCallFinished"))
                elif kind == "FinalAnswer":
                    result = event.result
            if result is None:
                raise RuntimeError("the run ended without a FinalAnswer event")
            await self._save(turn, result)
        except Exception as exc:
            yield _error_event(exc)
            yield _DONE
            return
        done = {"type": "done", "answer": result.answer, "stop_reason": result.stop_reason,
                "error": result.error, "citations": [citation_dict(c) for c in result.citations],
                "session": turn.session_id}
        tail = [make(finish=finish_reason(result.stop_reason), extension=done)]
        if turn.include_usage:
            tail.append(make(no_choices=True, usage=usage_dict(result.usage)))
        yield b"".join([*tail, _DONE])  # one write for the end of the stream

    async def _save(self, turn: Turn, result: Result) -> None:
        """Store the session's conversation after a turn (compare-and-set on its version)."""
        if turn.session_id is None or turn.state is None:
            return
        messages = result.messages
        system = turn.agent.system_prompt
        if system and messages and messages[0].role == "system" and messages[0].content == system:
            messages = messages[1:]
        kept = _trim([message_to_dict(m) for m in messages], self.config.max_session_messages)
        state = SessionState(kept, [], turn.state.version)
        if not await self.store.save(turn.session_id, state, turn.state.version):
            raise APIError(409, "Another request continued this session at the same time and "
                           "was saved first; send this message again.",
                           param="X-Sapient-Session", code="session_conflict")


def _trim(messages: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` messages, dropping whole old turns (the kept part starts at a user turn)."""
    if len(messages) <= limit:
        return messages
    start = len(messages) - limit
    while start < len(messages) and messages[start].get("role") != "user":
        start += 1
    return messages[start:]


def _error_event(exc: BaseException) -> bytes:
    """An OpenAI-shaped error as an SSE event (the status line was already sent)."""
    if isinstance(exc, APIError):
        err = exc
    elif isinstance(exc, SapientError):
        err = _upstream(exc)
    else:
        log.exception("a streamed chat turn failed", exc_info=exc)
        err = APIError(500, f"The server failed while answering ({type(exc).__name__}); the "
                       "details are in the server log.", type="server_error")
    return b"data: " + json.dumps(err.body(), ensure_ascii=False).encode() + b"\n\n"
