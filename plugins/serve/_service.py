"""One chat turn, from a parsed request to a completion or a stream of chunks.

Kept apart from the web framework: FastAPI routes (``_app.py``) only read the request,
check the key and hand over. Every turn gets its own message lists and run; the only
things requests share are the agent (which holds no per-run state), its LLM and tools,
and the session store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sapient import Agent, ConversationMemory, Host, LLMError, Message, Result, SapientError
from sapient.core.checkpoint import INTERRUPTED

from ._agents import AgentPool, build_agent, load_plugins
from ._approvals import DECISIONS, CallSigner
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
from ._resume import (
    claim_key,
    explain_answers,
    last_text,
    publish_pending,
    session_answers,
    stateless_answers,
    tool_calls_field,
    trailing_answers,
)
from ._sessions import SessionState, open_session_store

__all__ = ["ChatService", "Turn"]

log = logging.getLogger("sapient.serve")
_DONE = b"data: [DONE]\n\n"


@dataclass
class Turn:
    """Everything one request needs to run: the agent, the conversation, the session.

    ``prompt`` is ``None`` when the turn resumes a run paused for approval;
    ``decisions`` then holds the calls the client approved.
    """

    agent: Agent
    prompt: str | None
    history: list[Message]
    session_id: str | None
    state: SessionState | None
    include_usage: bool
    cid: str
    created: int
    decisions: dict[str, bool] | None = None
    memory: ConversationMemory | None = None


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
        self.signer = CallSigner(max_age_s=config.session_ttl_s)

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
        new = to_messages(request.messages, offset=0)
        answers = trailing_answers(new)
        stream_usage = bool(request.stream_options and request.stream_options.include_usage)

        def turn(prompt: str | None, history: list[Message],
                 decisions: dict[str, bool] | None = None) -> Turn:
            return Turn(self.pool.get(request.model_options()), prompt, history, session_id,
                        state, stream_usage, new_id(), int(time.time()), decisions)

        if session_id is not None:
            state = await self.store.load(session_id) or SessionState()
            stored = [message_from_dict(d) for d in state.messages]
            if state.pending or answers:
                history, decisions = session_answers(state.pending, stored, new, answers)
                await self._claim_session(session_id, state, history, decisions)
                return turn(None, history, decisions)
        else:  # earlier approvals the client replays are not tool results
            cut = len(new) - answers
            new = explain_answers(new[:cut], self.signer) + new[cut:]
        if session_id is None and answers:
            history, decisions = stateless_answers(new, answers, self.signer)
            if not await self.store.save(claim_key(new, answers), SessionState(), 0):
                raise APIError(400, "These tool calls were answered already; each approval "
                               "runs once. Send a new user message to go on.",
                               param="messages", code="unknown_tool_call")
            return turn(None, history, decisions)
        last = new[-1]
        if last.role != "user":
            raise APIError(400, f"The last message must come from the user (role 'user') or "
                           f"answer pending tool calls (role 'tool'), not '{last.role}'.",
                           param="messages", code="invalid_value")
        prompt = last.content or ""
        if state is not None and self.config.memory_tokens:
            return await self._memory_turn(turn(prompt, new[:-1]), state)
        return turn(prompt, stored + new[:-1])

    async def _memory_turn(self, turn: Turn, state: SessionState) -> Turn:
        """The turn's history from the session's memory: summary, recalled statements and
        recent turns under ``memory_tokens``, then what the request itself added."""
        memory = ConversationMemory.from_dict(state.memory or {},
                                              budget_tokens=self.config.memory_tokens or 0)
        if state.memory is None and state.messages:  # a session that began without memory
            memory.add(message_from_dict(d) for d in state.messages)
        assert turn.prompt is not None
        context = await asyncio.to_thread(memory.context, turn.prompt, turn.agent.llm)
        turn.history = context + turn.history
        turn.memory = memory
        return turn

    async def _claim_session(self, session_id: str, state: SessionState,
                             history: list[Message], decisions: dict[str, bool]) -> None:
        """Take the session's pending calls (compare-and-set): only one request runs them.

        Until the resumed run is saved, an approved call shows as interrupted: if the
        server dies meanwhile, the conversation says the call's effect is unknown.
        """
        names = {p["id"]: p["name"] for p in state.pending}
        held = [Message.tool(INTERRUPTED, tool_call_id=cid, name=names.get(cid, "tool"),
                             metadata={"error": True, "interrupted": True})
                for cid in decisions]
        claimed = SessionState([message_to_dict(m) for m in history + held], [], state.version,
                               state.memory)
        if not await self.store.save(session_id, claimed, state.version):
            raise APIError(409, "Another request answered these tool calls at the same time "
                           "and was first; nothing was run twice.", param="X-Sapient-Session",
                           code="session_conflict")
        state.version = claimed.version

    async def _run(self, turn: Turn) -> Result:
        token = DECISIONS.set(turn.decisions)
        try:
            return await turn.agent.arun(turn.prompt, history=turn.history)
        finally:
            DECISIONS.reset(token)

    async def complete(self, turn: Turn) -> dict[str, Any]:
        """A whole ``chat.completion`` (non-streaming)."""
        try:
            result = await self._run(turn)
        except SapientError as exc:
            raise _upstream(exc) from exc
        pending = publish_pending(result, self.signer)
        await self._save(turn, result, pending)
        steps = [_step(e, True) for e in result.events if e.kind == "ToolCallFinished"]
        extension = {"steps": steps, "citations": [citation_dict(c) for c in result.citations],
                     "stop_reason": result.stop_reason, "error": result.error,
                     "session": turn.session_id, "pending": _pending_view(pending)}
        if pending:
            return completion(turn.cid, self.model, last_text(result), result.stop_reason,
                              result.usage, extension, tool_calls_field(pending))
        return completion(turn.cid, self.model, result.answer, result.stop_reason, result.usage,
                          extension)

    async def stream(self, turn: Turn) -> AsyncIterator[bytes]:
        """SSE chunks: role, text deltas, tool steps, the finish, usage, ``[DONE]``."""
        make = ChunkWriter(turn.cid, turn.created, self.model, with_usage=turn.include_usage)
        yield make(delta={"role": "assistant", "content": ""})
        result: Result | None = None
        token = DECISIONS.set(turn.decisions)  # the run's task copies this context
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
            pending = publish_pending(result, self.signer)
            await self._save(turn, result, pending)
        except Exception as exc:
            yield _error_event(exc)
            yield _DONE
            return
        finally:
            with contextlib.suppress(ValueError):  # closed from another context
                DECISIONS.reset(token)
        done = {"type": "done", "answer": result.answer, "stop_reason": result.stop_reason,
                "error": result.error, "citations": [citation_dict(c) for c in result.citations],
                "session": turn.session_id, "pending": _pending_view(pending)}
        tail = [make(delta={"tool_calls": tool_calls_field(pending, indexed=True)})] \
            if pending else []
        tail.append(make(finish=finish_reason(result.stop_reason), extension=done))
        if turn.include_usage:
            tail.append(make(no_choices=True, usage=usage_dict(result.usage)))
        yield b"".join([*tail, _DONE])  # one write for the end of the stream

    async def _save(self, turn: Turn, result: Result,
                    pending: list[dict[str, Any]] | None = None) -> None:
        """Store the session's conversation after a turn (compare-and-set on its version),
        with the calls that wait for approval."""
        if turn.session_id is None or turn.state is None:
            return
        messages = result.messages
        system = turn.agent.system_prompt
        if system and messages and messages[0].role == "system" and messages[0].content == system:
            messages = messages[1:]
        kept = _trim([message_to_dict(m) for m in messages], self.config.max_session_messages)
        state = SessionState(kept, list(pending or []), turn.state.version,
                             self._remember(turn, result))
        if not await self.store.save(turn.session_id, state, turn.state.version):
            raise APIError(409, "Another request continued this session at the same time and "
                           "was saved first; send this message again.",
                           param="X-Sapient-Session", code="session_conflict")


    def _remember(self, turn: Turn, result: Result) -> dict[str, Any] | None:
        """The session's memory after this turn (the run's new messages recorded)."""
        state = turn.state
        if not self.config.memory_tokens or state is None:
            return state.memory if state is not None else None
        memory = turn.memory
        if memory is None:  # a run resumed after approval continues the last turn
            memory = ConversationMemory.from_dict(state.memory or {},
                                                  budget_tokens=self.config.memory_tokens)
        memory.add_result(result, turn.history)
        return memory.to_dict()


def _pending_view(pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The waiting calls for the ``sapient`` field (arguments as data, reasons)."""
    return [{**p, "arguments": _arguments(p["arguments"])} for p in pending]


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
