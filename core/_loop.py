"""One run of the agent loop, in named steps.

``Agent._drive`` reads in one screen because the work is done here, by :class:`Run`:

* :meth:`Run.start`: the ``RunStarted`` event, the input guards, the user message;
* :meth:`Run.model_turn`: one model call through the ``call_model`` hooks;
* :meth:`Run.tool_turn`: the turn's tool calls, each validated and run through the
  ``call_tool`` hooks (the one place a policy, approval or tracing wrapper applies
  to a tool), the results back into the conversation as untrusted data;
* :meth:`Run.output_turn`: structured output validated, or the model asked again;
* :meth:`Run.answer` and :meth:`Run.finish`: the output guards, then the
  :class:`Result` and its ``FinalAnswer`` event.

A step returns a :class:`Result` when the run ends there and ``None`` when it goes on.
With ``sync`` (``Agent.run``) every call is made on the caller's thread and the steps
never suspend; otherwise blocking calls go to worker threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pydantic

from ._streamguard import StreamGuard
from .errors import (
    ApprovalPending,
    GuardViolation,
    LLMError,
    ModelRetry,
    ToolArgumentError,
    ToolRefused,
)
from .llm import LLMResponse, forced_tool, tool_choice_mode
from .messages import (
    ApprovalRequested,
    Citation,
    Event,
    FinalAnswer,
    Message,
    ModelResponded,
    RunError,
    RunStarted,
    TextDelta,
    ToolCall,
    ToolCallFinished,
    ToolCallRecord,
    ToolCallStarted,
    ToolOutput,
    Usage,
)
from .plugins import call_hookimpl
from .runtime import ModelRequest, RunContext, ToolInvocation
from .tools import Tool, serialize_result

__all__ = ["Result", "Run", "StructuredOutput", "PendingCall", "FINAL_RESULT_TOOL",
           "unanswered_calls"]

FINAL_RESULT_TOOL = "final_result"
_NOT_YET = ("Not taken yet: other calls of this turn wait for approval; give the final "
            "result again after them.")

#: A finished call: its record, the text the model reads (``None``: it waits for
#: approval), and its citations.
ToolOutcome = tuple[ToolCallRecord, str | None, list[Citation]]


@dataclass
class PendingCall:
    """A tool call that waits for someone's approval (see ``ApprovalPending``).

    Attributes:
        call: the call as the model made it (its id is in ``Result.messages``).
        reasons: why it needs approval, in plain words.
    """

    call: ToolCall
    reasons: list[str] = field(default_factory=list)


def unanswered_calls(messages: list[Message]) -> list[ToolCall]:
    """The calls of the last assistant turn that no tool message answers yet.

    Only when that turn is the end of the conversation (tool messages aside): those
    are the calls a paused run still has to make when it resumes.
    """
    end = len(messages)
    while end and messages[end - 1].role == "tool":
        end -= 1
    if not end or messages[end - 1].role != "assistant":
        return []
    answered = {m.tool_call_id for m in messages[end:]}
    return [c for c in messages[end - 1].tool_calls
            if c.id not in answered and c.name != FINAL_RESULT_TOOL]


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
            ``"guard"``, ``"output_invalid"`` or ``"approval_pending"``.
        error: a plain-language explanation when the run did not end with an answer.
        citations: evidence tools returned (e.g. retrieved passages).
        pending: with ``"approval_pending"``: the calls that wait for approval; resume
            with ``agent.run(None, history=result.messages)``.
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
    pending: list[PendingCall] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.stop_reason == "answer"

    def __str__(self) -> str:
        return self.answer if self.answer is not None else f"[stopped: {self.error}]"


class StructuredOutput:
    """An ``output_type``: the JSON schema the model must follow, the ``final_result``
    tool it answers with, and the validation of what it sent."""

    def __init__(self, output_type: Any) -> None:
        self.adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(output_type)
        schema = self.adapter.json_schema()
        # Tool arguments are objects: any other type travels as {"value": ...}.
        self.wrapped = schema.get("type") != "object"
        if self.wrapped:
            schema = {"type": "object", "properties": {"value": schema},
                      "required": ["value"], "additionalProperties": False}
        self.schema = schema
        self.tool = Tool(
            name=FINAL_RESULT_TOOL,
            description="Give your final answer by calling this tool with the requested fields.",
            parameters=schema,
            function=lambda **kw: kw,
        )

    def validate(self, arguments: Any) -> tuple[Any, str | None]:
        """``(output, None)``, or ``(None, a message telling the model what is wrong)``."""
        try:
            data = json.loads(arguments) if isinstance(arguments, str) else arguments
        except json.JSONDecodeError as exc:
            return None, f"The final result is not valid JSON: {exc.msg} at position {exc.pos}."
        except RecursionError:
            return None, "The final result nests too deeply to read; send a flatter object."
        if self.wrapped:
            if not isinstance(data, dict) or "value" not in data:
                return None, "The final result must be an object with a 'value' field."
            data = data["value"]
        try:
            return self.adapter.validate_python(data), None
        except RecursionError:
            return None, "The final result nests too deeply to read; send a flatter object."
        except pydantic.ValidationError as exc:
            lines = [f"- {'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}"
                     for e in exc.errors(include_url=False)]
            return None, "The final result does not match the required schema:\n" + "\n".join(
                lines)


def canonical(arguments: str | dict[str, Any]) -> str:
    """Tool arguments as one comparable string (same call, same string).

    Arguments too deeply nested to read come back as they are (a string) or as a
    string that matches nothing else: they are never taken for a repeat.
    """
    try:
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                return arguments
        return json.dumps(arguments, sort_keys=True, ensure_ascii=False, default=str)
    except RecursionError:
        return arguments if isinstance(arguments, str) else f"<unreadable {id(arguments)}>"


def extract_json(text: str) -> str:
    """The JSON object in a model's text answer (code fences and chatter removed)."""
    s = text.strip()
    if s.startswith("```"):
        s = s.strip("`")
        s = s[s.find("\n") + 1:] if "\n" in s else s
    start, end = s.find("{"), s.rfind("}")
    return s[start:end + 1] if start != -1 and end > start else s


class Run:
    """The state and the steps of one run of ``agent`` (see the module docstring).

    Args:
        agent: the :class:`~sapient.Agent` (its LLM, tools, limits and plugins).
        history: earlier messages of the conversation.
        sink: receives every event (a list's ``append``, or a stream's queue).
        events: the list ``Result.events`` will hold.
        streaming: stream the model's text as ``TextDelta`` events.
        sync: run every call on the caller's thread (``Agent.run``).
    """

    def __init__(self, agent: Any, history: list[Message] | None,
                 sink: Callable[[Event], None], events: list[Event], *,
                 streaming: bool, sync: bool) -> None:
        self.agent = agent
        self.llm = agent.llm
        self.pm = agent.pm
        self.sink, self.events = sink, events
        self.streaming, self.sync = streaming, sync
        self.messages: list[Message] = []
        if agent.system_prompt:
            self.messages.append(Message.system(agent.system_prompt))
        self.messages.extend(history or [])
        self.ctx = RunContext(agent=agent, messages=self.messages,
                              loop=None if sync else asyncio.get_running_loop())
        self.ctx.emit = self.emit
        self.records: list[ToolCallRecord] = []
        self.citations: list[Citation] = []
        self.output: StructuredOutput | None = agent._output
        self.tools: list[Tool] = list(agent.tools.values())
        self.options = dict(agent.model_options)
        if self.output is not None:
            self.tools.append(self.output.tool)
            self.options["output_schema"] = self.output.schema
        self.output_attempts = 0
        self.seen_calls: dict[tuple[str, str], int] = {}
        self.pending: list[PendingCall] = []
        # Streamed text passes the output guards before anyone sees it.
        self.stream_guard = (StreamGuard(lambda text: self.guard("check_output", text))
                             if streaming and self.pm.hook.check_output.get_hookimpls()
                             else None)
        # A model that answers from memory needs no worker thread even in async runs.
        self.inline_model = sync or getattr(self.llm, "blocking", True) is False

    # -- events and endings ------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to the run's sink, then to the ``on_event`` hooks.

        Streamed text goes through the stream guard first (it may hold it back).
        """
        if self.stream_guard is not None and isinstance(event, TextDelta):
            text = self.stream_guard.feed(event.text)
            if not text:
                return
            event = TextDelta(text)
        self._deliver(event)

    def _deliver(self, event: Event) -> None:
        self.sink(event)
        self.pm.hook.on_event(event=event, run=self.ctx)

    def release_text(self, final: str | None = None, *, drop: bool = False) -> None:
        """End the model turn's stream: the held-back text, guarded (or ``drop`` it)."""
        guard = self.stream_guard
        if guard is None:
            return
        rest = "" if drop else guard.flush(final)
        guard.reset()
        if rest:
            self._deliver(TextDelta(rest))

    def guard(self, hook_name: str, text: str) -> str:
        """Pass ``text`` through the ``check_input``/``check_output`` hooks in turn."""
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            out = call_hookimpl(self.pm, hook_name, impl, text=text, run=self.ctx)
            if out is not None:
                text = out
        return text

    def finish(self, answer: str | None, output: Any, reason: str,
               error: str | None = None) -> Result:
        """The :class:`Result`, announced by a ``FinalAnswer`` event."""
        self.release_text(drop=reason == "guard")
        result = Result(answer, output, self.messages, self.events, self.records,
                        self.ctx.usage, reason, error, self.citations, list(self.pending))
        self.emit(FinalAnswer(answer, output, reason, result))
        return result

    def stop(self, reason: str, message: str) -> Result:
        """End without an answer, saying why (a ``RunError`` event, ``Result.error``)."""
        self.emit(RunError(message))
        return self.finish(None, None, reason, message)

    # -- the steps ---------------------------------------------------------------------

    def start(self, prompt: str) -> Result | None:
        """Announce the run and guard the prompt; a refused prompt ends the run."""
        self.emit(RunStarted(prompt))
        try:
            prompt = self.guard("check_input", prompt)
        except GuardViolation as exc:
            return self.stop("guard", str(exc))
        self.messages.append(Message.user(prompt))
        return None

    async def resume(self) -> Result | None:
        """Continue a run whose prompt and steps so far are the history: saved messages
        of a run that crashed (:mod:`sapient.core.checkpoint`), or of a run paused for
        approval. Calls of the last turn that no tool message answers run first
        (through the ``call_tool`` hooks, so the policy asks again); a run paused
        again ends here, otherwise the model goes on."""
        last = next((m.content or "" for m in reversed(self.messages) if m.role == "user"), "")
        self.emit(RunStarted(last))
        self.ctx.state["resumed"] = True
        calls = unanswered_calls(self.messages)
        if not calls:
            return None
        self._add_results(await self._run_tools(calls, self.ctx.step))
        return self.pause() if self.pending else None

    def pause(self) -> Result:
        """End the run until the pending calls are answered (``approval_pending``)."""
        names = ", ".join(f"'{p.call.name}'" for p in self.pending)
        return self.finish(None, None, "approval_pending",
                           f"Waiting for approval of {names}; resume the run once answered.")

    async def model_turn(self, step: int) -> LLMResponse:
        """One model call through the ``call_model`` hooks; its message joins the run."""
        self.ctx.step = step
        self.release_text()  # a new turn: nothing of the last one may stay held
        request = ModelRequest(self.llm, self.messages, self.tools, dict(self.options),
                               self.ctx, self.streaming)
        try:
            if self.inline_model:
                response = self.pm.hook.call_model(request=request)
            else:
                response = await asyncio.to_thread(self.pm.hook.call_model, request=request)
        except LLMError as exc:
            self.emit(RunError(str(exc), fatal=True))
            raise
        if not isinstance(response, LLMResponse):
            raise TypeError(
                f"call_model returned {type(response).__name__}; an LLM connector or a "
                "call_model wrapper must return an LLMResponse."
            )
        response.usage.requests = response.usage.requests or 1
        self.ctx.usage = self.ctx.usage + response.usage
        for i, call in enumerate(response.tool_calls):
            call.id = call.id or f"call_{step}_{i}"
        if response.tool_calls:
            self.release_text()  # text before tool calls is not the answer: show it now
        assistant = response.to_message()
        self.messages.append(assistant)
        self.emit(ModelResponded(assistant, response.usage, step))
        return response

    async def tool_turn(self, response: LLMResponse, step: int) -> Result | None:
        """Run the turn's tool calls and put their results in the conversation.

        Stops the run when a call repeats too often; a ``final_result`` call (with an
        ``output_type``) goes to :meth:`output_turn` once the other calls have run.
        """
        stopped = self._repeated(response.tool_calls)
        if stopped is not None:
            return stopped
        final = [c for c in response.tool_calls
                 if self.output is not None and c.name == FINAL_RESULT_TOOL]
        calls = [c for c in response.tool_calls if not any(c is f for f in final)]
        self._add_results(await self._run_tools(calls, step))
        self._relax_tool_choice(calls)
        if self.pending:  # the final result comes after the approvals
            for call in final:
                self.messages.append(Message.tool(_NOT_YET, tool_call_id=call.id,
                                                  name=FINAL_RESULT_TOOL))
            return self.pause()
        for extra in final[1:]:
            self.messages.append(Message.tool("Ignored: only the first final result counts.",
                                              tool_call_id=extra.id, name=FINAL_RESULT_TOOL))
        return self.output_turn(final[0].arguments, call=final[0]) if final else None

    def _add_results(self, outcomes: list[ToolOutcome]) -> None:
        """Put finished calls' results into the conversation (waiting ones stay out)."""
        for record, content, cites in outcomes:
            if content is None:
                continue
            self.records.append(record)
            self.citations.extend(cites)
            self.messages.append(Message.tool(
                content, tool_call_id=record.call_id, name=record.name,
                metadata={"untrusted": True, "source": record.source,
                          "error": record.error is not None}))

    def text_turn(self, response: LLMResponse) -> Result | None:
        """A reply without tool calls: structured output to check, or the answer."""
        text = response.text or ""
        if self.output is not None:
            return self.output_turn(extract_json(text), text=text)
        return self.answer(text)

    def output_turn(self, arguments: Any, *, call: ToolCall | None = None,
                    text: str | None = None) -> Result | None:
        """Validate structured output (a ``final_result`` call's arguments, or the JSON
        in a text reply); when invalid, tell the model what is wrong and go on, until
        ``output_retries`` is spent."""
        assert self.output is not None
        output, problem = self.output.validate(arguments)
        if problem is None:
            if call is None:
                return self.finish(text, output, "answer")
            self.messages.append(Message.tool("Final result accepted.", tool_call_id=call.id,
                                              name=FINAL_RESULT_TOOL))
            return self.finish(canonical(call.arguments), output, "answer")
        self.output_attempts += 1
        if call is not None:
            self.messages.append(Message.tool(problem, tool_call_id=call.id,
                                              name=FINAL_RESULT_TOOL, metadata={"error": True}))
        if self.output_attempts > self.agent.output_retries:
            return self.stop("output_invalid", (
                f"The model gave no valid structured output after {self.output_attempts} "
                f"attempts. Last problem: {problem}"))
        if call is None:
            self.messages.append(Message.user(
                f"{problem}\nCall the '{FINAL_RESULT_TOOL}' tool with valid arguments."))
        return None

    def answer(self, text: str) -> Result:
        """Guard the final text and end the run with it."""
        try:
            text = self.guard("check_output", text)
        except GuardViolation as exc:
            return self.stop("guard", str(exc))
        self.release_text(text)  # the stream ends with exactly the guarded answer
        return self.finish(text, text, "answer")

    # -- inside the tool turn ----------------------------------------------------------

    def _repeated(self, calls: list[ToolCall]) -> Result | None:
        """Stop when a call (same tool, same arguments) comes ``max_repeated_calls`` times."""
        for call in calls:
            if call.name == FINAL_RESULT_TOOL:
                continue
            key = (call.name, canonical(call.arguments))
            seen = self.seen_calls[key] = self.seen_calls.get(key, 0) + 1
            if seen >= self.agent.max_repeated_calls:
                return self.stop("repeated_call", (
                    f"Stopped: the model called '{call.name}' with the same arguments "
                    f"{seen} times ({key[1][:200]}); it was not making progress."))
        return None

    def _relax_tool_choice(self, calls: list[ToolCall]) -> None:
        """A ``"required"`` choice holds until a tool was called, a named one until
        that tool was; then the model may answer (``"auto"``), as with OpenAI's API."""
        choice = self.options.get("tool_choice")
        mode = tool_choice_mode(choice)
        if (mode == "required" and calls) or (
                mode == "tool" and any(c.name == forced_tool(choice) for c in calls)):
            self.options["tool_choice"] = "auto"

    async def _run_tools(self, calls: list[ToolCall], step: int) -> list[ToolOutcome]:
        """Run one turn's calls, results in the model's order. From ``run()`` a lone call
        runs inline and several on a short-lived pool; async runs use worker threads."""
        if not self.sync:
            return list(await asyncio.gather(
                *(asyncio.to_thread(self.run_tool, c, step) for c in calls)))
        if len(calls) <= 1:
            return [self.run_tool(c, step) for c in calls]
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool:
            return [f.result() for f in [pool.submit(self.run_tool, c, step) for c in calls]]

    def run_tool(self, call: ToolCall, step: int) -> ToolOutcome:
        """Validate, run (through the ``call_tool`` hooks) and serialize one call.

        Blocking. Whatever goes wrong becomes the text the model reads next: an
        unknown tool, invalid arguments, ``ModelRetry``, a tool or wrapper raising.
        """
        self.emit(ToolCallStarted(call, step))
        record = ToolCallRecord(name=call.name, arguments=call.arguments, call_id=call.id)
        cites: list[Citation] = []
        started = time.perf_counter()
        tool = self.agent.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.agent.tools)) or "none"
            content = f"Error: there is no tool named '{call.name}'. Available tools: {known}."
            record.error = content
        else:
            record.source = tool.source
            try:
                content, cites = self._invoke(tool, call, record)
            except ApprovalPending as exc:  # asked someone who answers later: pause
                self.pending.append(PendingCall(call, list(exc.reasons)))
                self.emit(ApprovalRequested(call, list(exc.reasons), step))
                return record, None, []
            except ToolArgumentError as exc:
                content, record.error = f"Error: {exc}", str(exc)
            except ModelRetry as exc:
                content, record.error = f"Retry: {exc}", str(exc)
            except ToolRefused as exc:  # a policy said no: the model hears why
                content, record.error = f"Refused: {exc}", f"refused: {exc}"
            except Exception as exc:  # a tool failing is information for the model
                content = f"Error: tool '{call.name}' failed: {type(exc).__name__}: {exc}"
                record.error = f"{type(exc).__name__}: {exc}"
        record.duration_s = time.perf_counter() - started
        if record.error is not None:
            self.emit(RunError(record.error))
        self.emit(ToolCallFinished(record, step))
        return record, content, cites

    def _invoke(self, tool: Tool, call: ToolCall,
                record: ToolCallRecord) -> tuple[str, list[Citation]]:
        """The validated call through the ``call_tool`` hooks; its result as text."""
        args = tool.validate(call.arguments)
        record.arguments = args
        value = self.pm.hook.call_tool(invocation=ToolInvocation(tool, args, call, self.ctx))
        cites: list[Citation] = []
        if isinstance(value, ToolOutput):
            cites = list(value.citations)
            record.data = value.data
        content = serialize_result(value)
        limit = self.agent.max_tool_result_chars
        if len(content) > limit:
            content = content[:limit] + f"\n[cut: the result had {len(content)} characters]"
        record.result = content
        return content, cites
