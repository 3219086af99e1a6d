"""The agent loop: model -> tool calls -> results -> model ... -> answer.

The loop is written once, as a coroutine that emits typed events. ``arun`` collects
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
import concurrent.futures
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pydantic

from .errors import (
    ConfigurationError,
    GuardViolation,
    LLMError,
    ModelRetry,
    ToolArgumentError,
    ToolRefused,
)
from .llm import LLM, LLMResponse
from .messages import (
    Citation,
    Event,
    FinalAnswer,
    Message,
    ModelResponded,
    RunError,
    RunStarted,
    ToolCall,
    ToolCallFinished,
    ToolCallRecord,
    ToolCallStarted,
    ToolOutput,
    Usage,
)
from .plugins import Host, call_hookimpl, create_plugin_manager
from .runtime import ModelRequest, RunContext, ToolInvocation
from .tools import Tool, serialize_result

__all__ = ["Agent", "Result", "ChatSession", "FINAL_RESULT_TOOL"]

FINAL_RESULT_TOOL = "final_result"
_DONE = object()


@dataclass
class Result:
    """What a run produced.

    Attributes:
        answer: the final text (``None`` if the run stopped without one).
        output: the validated structured output when ``output_type`` was given,
            else the same as ``answer``.
        messages: the whole conversation, tool results included.
        events: every event of the run, in order.
        tool_calls: one record per tool call (arguments, result, error, duration).
        usage: token usage summed over every model call.
        stop_reason: ``"answer"``, ``"max_steps"``, ``"repeated_call"``,
            ``"guard"`` or ``"output_invalid"``.
        error: a plain-language explanation when the run did not end with an answer.
        citations: evidence tools returned (e.g. retrieved passages).
    """

    answer: str | None
    output: Any
    messages: list[Message]
    events: list[Event]
    tool_calls: list[ToolCallRecord]
    usage: Usage
    stop_reason: str
    error: str | None = None
    citations: list[Citation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.stop_reason == "answer"

    def __str__(self) -> str:
        return self.answer if self.answer is not None else f"[stopped: {self.error}]"


def _canonical(arguments: str | dict[str, Any]) -> str:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
    return json.dumps(arguments, sort_keys=True, ensure_ascii=False, default=str)


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
        host: a :class:`Host` to resolve LLM specs and tool names, and whose plugins
            apply; default a host built from the environment when one is needed.
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
        self._output_adapter: pydantic.TypeAdapter[Any] | None = None
        self._output_wrapped = False
        if output_type is not None:
            self._setup_output(output_type)

    # -- configuration -------------------------------------------------------------

    def _host(self) -> Host:
        if self.host is None:
            self.host = Host()
        return self.host

    @property
    def pm(self) -> Any:
        """This agent's plugin manager: the host's plugins, then the agent's own.

        Built on first use. Host plugins (defaults and installed entry points) apply to
        every agent of the host; ``plugins=`` given to this agent apply to it alone.
        Registries (tools, LLMs, stores) stay the host's.
        """
        if self._pm is None:
            pm = create_plugin_manager()
            for name, plugin in self._host().load().pm.list_name_plugin():
                if plugin is not None:  # None: a plugin blocked on the host
                    pm.register(plugin, name=name)
            for plugin in self._own_plugins:
                if not pm.is_registered(plugin):
                    pm.register(plugin)
            self._pm = pm
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

    def _setup_output(self, output_type: Any) -> None:
        adapter = pydantic.TypeAdapter(output_type)
        schema = adapter.json_schema()
        if schema.get("type") != "object":
            schema = {
                "type": "object",
                "properties": {"value": schema},
                "required": ["value"],
                "additionalProperties": False,
            }
            self._output_wrapped = True
        self._output_adapter = adapter
        self._output_schema = schema
        self._output_tool = Tool(
            name=FINAL_RESULT_TOOL,
            description="Give your final answer by calling this tool with the requested fields.",
            parameters=schema,
            function=lambda **kw: kw,
        )

    # -- public entry points ---------------------------------------------------------

    def run(self, prompt: str, *, history: list[Message] | None = None) -> Result:
        """Run to completion and return the :class:`Result` (blocking)."""
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

    def _run_sync(self, prompt: str, history: list[Message] | None) -> Result:
        events: list[Event] = []
        coro = self._drive(prompt, history, events.append, events, streaming=False, sync=True)
        try:
            coro.send(None)
        except StopIteration as done:
            return done.value
        coro.close()
        raise RuntimeError("the synchronous agent loop suspended; this is a bug in Sapient")

    async def arun(self, prompt: str, *, history: list[Message] | None = None) -> Result:
        """Run to completion from async code."""
        events: list[Event] = []
        return await self._drive(prompt, history, events.append, events, streaming=False)

    async def astream(
        self, prompt: str, *, history: list[Message] | None = None
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

    def stream(self, prompt: str, *, history: list[Message] | None = None) -> Iterator[Event]:
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

    def chat(self, history: list[Message] | None = None) -> ChatSession:
        """A conversation that keeps its history between turns."""
        return ChatSession(self, list(history or []))

    # -- the loop ----------------------------------------------------------------------

    def _emit(self, ctx: RunContext, sink: Callable[[Event], None], event: Event) -> None:
        sink(event)
        self.pm.hook.on_event(event=event, run=ctx)

    def _guard(self, hook_name: str, text: str, ctx: RunContext) -> str:
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            out = call_hookimpl(self.pm, hook_name, impl, text=text, run=ctx)
            if out is not None:
                text = out
        return text

    async def _drive(
        self,
        prompt: str,
        history: list[Message] | None,
        sink: Callable[[Event], None],
        events: list[Event],
        *,
        streaming: bool,
        sync: bool = False,
    ) -> Result:
        """The loop. With ``sync`` it never suspends (see the module docstring)."""
        llm = self.llm
        messages: list[Message] = []
        if self.system_prompt:
            messages.append(Message.system(self.system_prompt))
        messages.extend(history or [])
        ctx = RunContext(agent=self, messages=messages,
                         loop=None if sync else asyncio.get_running_loop())
        ctx.emit = lambda e: self._emit(ctx, sink, e)
        records: list[ToolCallRecord] = []
        citations: list[Citation] = []

        def finish(answer: str | None, output: Any, reason: str, error: str | None = None) -> Result:
            result = Result(answer, output, messages, events, records, ctx.usage, reason, error,
                            citations)
            ctx.emit(FinalAnswer(answer, output, reason, result))
            return result

        ctx.emit(RunStarted(prompt))
        try:
            prompt = self._guard("check_input", prompt, ctx)
        except GuardViolation as exc:
            ctx.emit(RunError(str(exc)))
            return finish(None, None, "guard", str(exc))
        messages.append(Message.user(prompt))

        tools = list(self.tools.values())
        options = dict(self.model_options)
        if self._output_adapter is not None:
            tools.append(self._output_tool)
            options["output_schema"] = self._output_schema
        output_attempts = 0
        seen_calls: dict[tuple[str, str], int] = {}
        inline = sync or getattr(llm, "blocking", True) is False

        for step in range(1, self.max_steps + 1):
            ctx.step = step
            request = ModelRequest(llm, messages, tools, options, ctx, streaming)
            try:
                if inline:
                    response = self.pm.hook.call_model(request=request)
                else:
                    response = await asyncio.to_thread(self.pm.hook.call_model, request=request)
            except LLMError as exc:
                ctx.emit(RunError(str(exc), fatal=True))
                raise
            if not isinstance(response, LLMResponse):
                raise TypeError(
                    f"call_model returned {type(response).__name__}; an LLM connector or a "
                    "call_model wrapper must return an LLMResponse."
                )
            response.usage.requests = response.usage.requests or 1
            ctx.usage = ctx.usage + response.usage
            for i, call in enumerate(response.tool_calls):
                if not call.id:
                    call.id = f"call_{step}_{i}"
            assistant = response.to_message()
            messages.append(assistant)
            ctx.emit(ModelResponded(assistant, response.usage, step))

            if response.tool_calls:
                final_calls = [c for c in response.tool_calls if c.name == FINAL_RESULT_TOOL]
                for call in response.tool_calls:
                    key = (call.name, _canonical(call.arguments))
                    seen_calls[key] = seen_calls.get(key, 0) + 1
                    if seen_calls[key] >= self.max_repeated_calls and call.name != FINAL_RESULT_TOOL:
                        msg = (
                            f"Stopped: the model called '{call.name}' with the same arguments "
                            f"{seen_calls[key]} times ({_canonical(call.arguments)[:200]}); it was "
                            "not making progress."
                        )
                        ctx.emit(RunError(msg))
                        return finish(None, None, "repeated_call", msg)
                calls = [c for c in response.tool_calls if c.name != FINAL_RESULT_TOOL]
                if sync:
                    results = self._run_tools_blocking(calls, ctx, step)
                else:
                    results = await asyncio.gather(
                        *(asyncio.to_thread(self._run_tool, c, ctx, step) for c in calls))
                for record, content, cites in results:
                    records.append(record)
                    citations.extend(cites)
                    messages.append(
                        Message.tool(
                            content,
                            tool_call_id=record.call_id,
                            name=record.name,
                            metadata={"untrusted": True, "source": record.source,
                                      "error": record.error is not None},
                        )
                    )
                if final_calls:
                    call = final_calls[0]
                    output, problem = self._validate_output(call.arguments)
                    if problem is None:
                        messages.append(Message.tool("Final result accepted.", tool_call_id=call.id,
                                                     name=FINAL_RESULT_TOOL))
                        return finish(_canonical(call.arguments), output, "answer")
                    output_attempts += 1
                    messages.append(Message.tool(problem, tool_call_id=call.id, name=FINAL_RESULT_TOOL,
                                                 metadata={"error": True}))
                    if output_attempts > self.output_retries:
                        return self._output_failed(finish, problem, ctx)
                continue

            text = response.text or ""
            if self._output_adapter is not None:
                output, problem = self._validate_output(_extract_json(text))
                if problem is None:
                    return finish(text, output, "answer")
                output_attempts += 1
                if output_attempts > self.output_retries:
                    return self._output_failed(finish, problem, ctx)
                messages.append(Message.user(
                    f"{problem}\nCall the '{FINAL_RESULT_TOOL}' tool with valid arguments."
                ))
                continue
            try:
                text = self._guard("check_output", text, ctx)
            except GuardViolation as exc:
                ctx.emit(RunError(str(exc)))
                return finish(None, None, "guard", str(exc))
            return finish(text, text, "answer")

        msg = (f"Stopped after {self.max_steps} model calls without a final answer "
               "(raise max_steps if the task needs more).")
        ctx.emit(RunError(msg))
        return finish(None, None, "max_steps", msg)

    def _output_failed(self, finish: Callable[..., Result], problem: str, ctx: RunContext) -> Result:
        msg = (f"The model gave no valid structured output after {self.output_retries + 1} "
               f"attempts. Last problem: {problem}")
        ctx.emit(RunError(msg))
        return finish(None, None, "output_invalid", msg)

    def _validate_output(self, arguments: Any) -> tuple[Any, str | None]:
        assert self._output_adapter is not None
        try:
            data = json.loads(arguments) if isinstance(arguments, str) else arguments
        except json.JSONDecodeError as exc:
            return None, f"The final result is not valid JSON: {exc.msg} at position {exc.pos}."
        if self._output_wrapped:
            if not isinstance(data, dict) or "value" not in data:
                return None, "The final result must be an object with a 'value' field."
            data = data["value"]
        try:
            return self._output_adapter.validate_python(data), None
        except pydantic.ValidationError as exc:
            lines = [f"- {'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}"
                     for e in exc.errors(include_url=False)]
            return None, "The final result does not match the required schema:\n" + "\n".join(lines)

    def _run_tools_blocking(
        self, calls: list[ToolCall], ctx: RunContext, step: int
    ) -> list[tuple[ToolCallRecord, str, list[Citation]]]:
        """Run one turn's calls from ``run()``: a lone call inline, several concurrently."""
        if len(calls) <= 1:
            return [self._run_tool(c, ctx, step) for c in calls]
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool:
            futures = [pool.submit(self._run_tool, c, ctx, step) for c in calls]
            return [f.result() for f in futures]  # the model's order

    def _run_tool(
        self, call: ToolCall, ctx: RunContext, step: int
    ) -> tuple[ToolCallRecord, str, list[Citation]]:
        """Validate, run (through the ``call_tool`` hook) and serialize one call.

        Blocking: ``arun`` calls it on a worker thread, ``run`` on the caller's thread.
        """
        ctx.emit(ToolCallStarted(call, step))
        record = ToolCallRecord(name=call.name, arguments=call.arguments, call_id=call.id)
        cites: list[Citation] = []
        started = time.perf_counter()
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            content = f"Error: there is no tool named '{call.name}'. Available tools: {known}."
            record.error = content
        else:
            record.source = tool.source
            try:
                args = tool.validate(call.arguments)
                record.arguments = args
                value = self.pm.hook.call_tool(invocation=ToolInvocation(tool, args, call, ctx))
                if isinstance(value, ToolOutput):
                    cites = list(value.citations)
                    record.data = value.data
                content = serialize_result(value)
                if len(content) > self.max_tool_result_chars:
                    content = (content[: self.max_tool_result_chars]
                               + f"\n[cut: the result had {len(content)} characters]")
                record.result = content
            except ToolArgumentError as exc:
                content = f"Error: {exc}"
                record.error = str(exc)
            except ModelRetry as exc:
                content = f"Retry: {exc}"
                record.error = str(exc)
            except ToolRefused as exc:
                content = f"Refused: {exc}"
                record.error = f"refused: {exc}"
            except Exception as exc:  # a tool failing is information for the model
                content = f"Error: tool '{call.name}' failed: {type(exc).__name__}: {exc}"
                record.error = f"{type(exc).__name__}: {exc}"
        record.duration_s = time.perf_counter() - started
        if record.error is not None:
            ctx.emit(RunError(record.error))
        ctx.emit(ToolCallFinished(record, step))
        return record, content, cites


def _extract_json(text: str) -> str:
    """The JSON object in a model's text answer (code fences and chatter removed)."""
    s = text.strip()
    if s.startswith("```"):
        s = s.strip("`")
        s = s[s.find("\n") + 1:] if "\n" in s else s
    start, end = s.find("{"), s.rfind("}")
    return s[start:end + 1] if start != -1 and end > start else s


class ChatSession:
    """A multi-turn conversation with an agent; history is kept between sends."""

    def __init__(self, agent: Agent, history: list[Message]) -> None:
        self.agent = agent
        self.history = history

    def _keep(self, result: Result) -> Result:
        self.history = [m for m in result.messages if m.role != "system"]
        return result

    def send(self, text: str) -> Result:
        return self._keep(self.agent.run(text, history=self.history))

    async def asend(self, text: str) -> Result:
        return self._keep(await self.agent.arun(text, history=self.history))

    def stream(self, text: str) -> Iterator[Event]:
        """Stream one turn; the history is updated when the turn ends."""
        for event in self.agent.stream(text, history=self.history):
            if isinstance(event, FinalAnswer) and event.result is not None:
                self._keep(event.result)
            yield event
