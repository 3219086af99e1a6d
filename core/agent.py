"""The agent: an LLM with tools, and the loop model -> tool calls -> results -> ... -> answer.

The loop is written once, as a coroutine (``Agent._drive``) over the named steps of
:mod:`sapient.core._loop` (model turn, tool turn, output validation, finish), and
emits typed events. ``arun`` collects
them, ``astream``/``stream`` yield them as they happen, and ``chat()`` keeps history
between runs. Nothing here prints.

``run`` (the synchronous entry point) drives the same coroutine without an event
loop: the caller's thread is blocked anyway, so the model and a lone tool call run
right there, and several tool calls of one turn run concurrently on worker threads.
In that mode the coroutine never suspends, which saves the loop set-up and two
thread hops per step (see ``benchmarks/agent_overhead.py``). ``arun``/``astream``
keep the event loop free: blocking model and tool calls go to worker threads.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from ._loop import FINAL_RESULT_TOOL, Result, Run, StructuredOutput
from .errors import ConfigurationError
from .llm import LLM
from .memory import ConversationMemory
from .messages import Event, FinalAnswer, Message
from .plugins import Host, default_host, layered_plugin_manager
from .tools import Tool

__all__ = ["Agent", "Result", "ChatSession", "FINAL_RESULT_TOOL"]

_DONE = object()


class Agent:
    """An LLM with tools, a system prompt and stopping rules.

    Args:
        llm: an LLM object, or a spec string such as ``"openai:gpt-4o-mini"``
            (resolved through the plugins' ``register_llms``). ``None`` uses the
            host's settings (``SAPIENT_LLM``); with none configured, the error says how.
        tools: functions, :class:`Tool` objects, or names of plugin-registered tools.
        system_prompt: the system message.
        max_steps: most model calls in one run.
        plugins: plugin objects/modules whose hooks (wrappers, observers, guards)
            apply to this agent's runs.
        host: the :class:`Host` the agent runs on: it resolves LLM specs and tool
            names, and its plugins (installed ones included) apply to every run.
            Default: the environment's host (:func:`~sapient.core.plugins.default_host`),
            built on first need and shared by the agents built without ``host=``.
        output_type: a pydantic model (or any type pydantic can validate): the run
            returns a validated instance in ``Result.output``.
        output_retries: how often to re-ask the model after invalid structured output.
        max_repeated_calls: the same tool with the same arguments this many times
            stops the run (``stop_reason="repeated_call"``) instead of looping.
        model_options: options passed to every model call (temperature, ...).
        max_tool_result_chars: longer tool results are cut, with a note to the model.
        policy: the safety policy of this agent's runs (a
            :class:`sapient.plugins.policy.Policy`); default the host's policy, which
            asks for approval before side-effecting tool calls.
        approve: shorthand for a default policy with this approval callback:
            ``approve(request) -> bool`` sees the tool, its arguments and the reasons.
    """

    def __init__(
        self,
        llm: LLM | str | None = None,
        *,
        tools: Iterable[Tool | Callable[..., Any] | str] = (),
        system_prompt: str | None = None,
        max_steps: int = 10,
        plugins: Iterable[Any] = (),
        host: Host | None = None,
        output_type: Any = None,
        output_retries: int = 2,
        max_repeated_calls: int = 3,
        model_options: dict[str, Any] | None = None,
        max_tool_result_chars: int = 20_000,
        policy: Any = None,
        approve: Callable[[Any], bool] | None = None,
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        self.host = host
        self.system_prompt = system_prompt
        self.max_steps = max_steps
        self.output_retries = output_retries
        self.max_repeated_calls = max_repeated_calls
        self.model_options = dict(model_options or {})
        self.max_tool_result_chars = max_tool_result_chars
        self.policy = policy
        self.approve = approve
        self._own_plugins = list(plugins)
        self._pm: Any = None
        self._llm_spec = llm
        self._llm: LLM | None = llm if llm is not None and not isinstance(llm, str) else None
        self.tools: dict[str, Tool] = {}
        for t in tools:
            self.add_tool(t)
        self.output_type = output_type
        self._output = StructuredOutput(output_type) if output_type is not None else None

    # -- configuration -------------------------------------------------------------

    def _host(self) -> Host:
        if self.host is None:
            self.host = default_host()
        return self.host

    @property
    def pm(self) -> Any:
        """The plugin manager this agent's runs call: the host's plugins, then its own.

        Host plugins (defaults, installed entry points, ``Host(plugins=...)``) apply to
        every agent of the host; ``plugins=`` given to this agent apply to it alone.
        An agent without plugins of its own runs on the host's manager itself (nothing
        to copy); one with plugins gets a manager of its own, built on first use.
        Registries (tools, LLMs, stores) stay the host's. Give plugins through
        ``plugins=``, not by registering them here.
        """
        if self._pm is None:
            host_pm = self._host().load().pm
            self._pm = (layered_plugin_manager(host_pm, self._own_plugins)
                        if self._own_plugins else host_pm)
        return self._pm

    @property
    def llm(self) -> LLM:
        """The model, resolved on first use (so building an Agent does no I/O)."""
        if self._llm is None:
            spec = self._llm_spec if isinstance(self._llm_spec, str) else None
            self._llm = self._host().llm(spec)
        return self._llm

    def add_tool(self, t: Tool | Callable[..., Any] | str) -> Tool:
        """Add a tool: a function, a Tool, or the name of a plugin-registered tool."""
        if isinstance(t, str):
            registered = self._host().tools()
            if t not in registered:
                known = ", ".join(sorted(registered)) or "none"
                raise ConfigurationError(
                    f"No plugin registered a tool named '{t}'. Registered tools: {known}."
                )
            t = registered[t]
        elif not isinstance(t, Tool):
            t = Tool.from_function(t)
        if t.name in self.tools and self.tools[t.name] is not t:
            raise ConfigurationError(f"Two tools are named '{t.name}'; rename one.")
        if t.name == FINAL_RESULT_TOOL:
            raise ConfigurationError(f"'{FINAL_RESULT_TOOL}' is reserved for structured output.")
        self.tools[t.name] = t
        return t

    # -- public entry points ---------------------------------------------------------

    def run(self, prompt: str | None, *, history: list[Message] | None = None) -> Result:
        """Run to completion and return the :class:`Result` (blocking).

        With ``prompt=None`` the run continues the one in ``history`` (its prompt and
        steps so far): how a run resumes from saved messages after a crash
        (:func:`sapient.core.checkpoint.resume` prepares them).
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._run_sync(prompt, history)
        # Called from inside an event loop (e.g. Jupyter): run on a private thread, so
        # blocking calls do not stall that loop.
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["r"] = self._run_sync(prompt, history)
            except BaseException as exc:
                box["e"] = exc

        th = threading.Thread(target=target)
        th.start()
        th.join()
        if "e" in box:
            raise box["e"]
        return box["r"]

    def _run_sync(self, prompt: str | None, history: list[Message] | None) -> Result:
        events: list[Event] = []
        coro = self._drive(prompt, history, events.append, events, streaming=False, sync=True)
        try:
            coro.send(None)
        except StopIteration as done:
            return done.value
        coro.close()
        raise RuntimeError("the synchronous agent loop suspended; this is a bug in Sapient")

    async def arun(self, prompt: str | None, *, history: list[Message] | None = None) -> Result:
        """Run to completion from async code."""
        events: list[Event] = []
        return await self._drive(prompt, history, events.append, events, streaming=False)

    async def astream(
        self, prompt: str | None, *, history: list[Message] | None = None
    ) -> AsyncIterator[Event]:
        """Yield events as they happen; the last one is :class:`FinalAnswer`."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        events: list[Event] = []

        def emit(event: Event) -> None:
            events.append(event)
            loop.call_soon_threadsafe(queue.put_nowait, event)

        async def runner() -> Result:
            try:
                return await self._drive(prompt, history, emit, events, streaming=True)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        task = asyncio.ensure_future(runner())
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                yield item
            task.result()  # re-raise a fatal error of the run
        finally:
            if not task.done():
                task.cancel()

    def stream(self, prompt: str | None, *, history: list[Message] | None = None) -> Iterator[Event]:
        """Synchronous :meth:`astream`: yields events as they happen."""
        loop = asyncio.new_event_loop()
        agen = self.astream(prompt, history=history)
        try:
            while True:
                try:
                    yield loop.run_until_complete(agen.__anext__())
                except StopAsyncIteration:
                    break
        finally:
            loop.run_until_complete(agen.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def chat(self, history: list[Message] | None = None, *,
             memory: ConversationMemory | None = None) -> ChatSession:
        """A conversation that keeps its history between turns (under ``memory``'s budget)."""
        return ChatSession(self, list(history or []), memory=memory)

    # -- the loop ----------------------------------------------------------------------

    async def _drive(
        self,
        prompt: str | None,
        history: list[Message] | None,
        sink: Callable[[Event], None],
        events: list[Event],
        *,
        streaming: bool,
        sync: bool = False,
    ) -> Result:
        """The loop: model turn, then tool turn or answer, until a step ends the run.

        The steps are :class:`~sapient.core._loop.Run`'s. With ``sync`` nothing here
        suspends (see the module docstring).
        """
        run = Run(self, history, sink, events, streaming=streaming, sync=sync)
        result = run.start(prompt) if prompt is not None else await run.resume()
        step = 0
        while result is None and step < self.max_steps:
            step += 1
            response = await run.model_turn(step)
            if response.tool_calls:
                result = await run.tool_turn(response, step)
            else:
                result = run.text_turn(response)
        if result is None:
            result = run.stop("max_steps", f"Stopped after {self.max_steps} model calls "
                              "without a final answer (raise max_steps if the task needs more).")
        return result


class ChatSession:
    """A multi-turn conversation with an agent; history is kept between sends.

    With a :class:`~sapient.core.memory.ConversationMemory`, what each turn sends is the
    memory's context (summary, recalled statements, recent turns) under its token budget.
    """

    def __init__(self, agent: Agent, history: list[Message],
                 memory: ConversationMemory | None = None) -> None:
        self.agent = agent
        self.history = history
        self.memory = memory
        if memory is not None and history:
            memory.add(history)

    def _context(self, text: str) -> list[Message]:
        if self.memory is None:
            return self.history
        return self.memory.context(text, self.agent.llm)

    def _keep(self, result: Result, sent: list[Message]) -> Result:
        if self.memory is not None:
            self.memory.add_result(result, sent)
        self.history = [m for m in result.messages if m.role != "system"]
        return result

    def send(self, text: str) -> Result:
        sent = self._context(text)
        return self._keep(self.agent.run(text, history=sent), sent)

    async def asend(self, text: str) -> Result:
        sent = await asyncio.to_thread(self._context, text)
        return self._keep(await self.agent.arun(text, history=sent), sent)

    def stream(self, text: str) -> Iterator[Event]:
        """Stream one turn; the history is updated when the turn ends."""
        sent = self._context(text)
        for event in self.agent.stream(text, history=sent):
            if isinstance(event, FinalAnswer) and event.result is not None:
                self._keep(event.result, sent)
            yield event
