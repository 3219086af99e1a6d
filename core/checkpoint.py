"""Save a run's messages as it goes, and resume it after a crash.

A long run (many model and tool calls) that dies half way, from a killed process, a
lost machine or an out-of-memory kill, should not start over: the tool calls it made
may have cost time or money, and some may have changed things. :class:`Checkpoint`
is a plugin that writes the run's messages to a JSON file after every model turn and
every finished tool call (write to a temporary file, fsync, atomic rename: the file
always holds one complete state). :func:`resume` continues from that file::

    from sapient import Agent
    from sapient.core.checkpoint import Checkpoint, resume

    agent = Agent(llm, tools=[...], plugins=[Checkpoint("run.json")])
    agent.run("Reconcile the March invoices")        # ... the process is killed ...

    # later, in a new process:
    agent = Agent(llm, tools=[...])
    result = resume(agent, "run.json")               # goes on where it stopped

Tool calls whose results were saved are not made again. A call that had started but
whose result was not saved gets a tool message saying it was interrupted and its
effect is unknown, so the model checks before repeating something with side effects,
instead of the loop silently calling it a second time. Resuming a run that already
ended returns its answer without calling the model.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from .errors import ConfigurationError
from .hookspecs import hookimpl
from .messages import Message, ToolCall, Usage

__all__ = ["Checkpoint", "load_messages", "save_messages", "prepare_resume", "resume"]

INTERRUPTED = ("Interrupted: the run stopped before this call finished, so its result is "
               "unknown and it may or may not have taken effect. Check before calling it again.")


def message_to_dict(m: Message) -> dict[str, Any]:
    """A message as JSON-ready data (tool calls with their arguments as JSON text)."""
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments_json()}
                             for c in m.tool_calls]
    for key in ("tool_call_id", "name"):
        if getattr(m, key):
            out[key] = getattr(m, key)
    if m.metadata:
        out["metadata"] = json.loads(json.dumps(m.metadata, default=str))
    return out


def message_from_dict(d: dict[str, Any]) -> Message:
    """The inverse of :func:`message_to_dict`."""
    calls = [ToolCall(c["name"], c.get("arguments", "{}"), c.get("id", ""))
             for c in d.get("tool_calls", [])]
    return Message(d["role"], d.get("content"), calls, d.get("tool_call_id"), d.get("name"),
                   dict(d.get("metadata") or {}))


def save_messages(path: str | Path, messages: list[Message]) -> None:
    """Write ``messages`` to ``path`` atomically (a crash leaves the old or the new file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    data = {"format": "sapient-messages", "version": 1,
            "messages": [message_to_dict(m) for m in messages]}
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_messages(path: str | Path) -> list[Message]:
    """Messages saved by :func:`save_messages` (or by a :class:`Checkpoint`)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [message_from_dict(d) for d in data["messages"]]
    except FileNotFoundError:
        raise ConfigurationError(f"No saved run at {path}; nothing to resume.") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{path} does not hold saved messages of a run ({exc}); "
                                 "give the file a Checkpoint wrote.") from None


class Checkpoint:
    """A plugin saving each run's messages to ``path`` after every step (see module doc).

    One file per agent run at a time: give each concurrent run its own checkpoint.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._finished: dict[str, Message] = {}  # results of the turn in progress

    @hookimpl
    def on_event(self, event: Any, run: Any) -> None:
        kind = event.kind
        if kind not in ("ModelResponded", "ToolCallFinished", "FinalAnswer"):
            return
        with self._lock:
            if kind == "ModelResponded":
                self._finished.clear()
            elif kind == "ToolCallFinished":
                rec = event.record
                text = rec.result if rec.error is None else f"Error: {rec.error}"
                self._finished[rec.call_id] = Message.tool(
                    text or "", tool_call_id=rec.call_id, name=rec.name,
                    metadata={"untrusted": True, "source": rec.source,
                              "error": rec.error is not None})
            messages = list(run.messages)
            done = {m.tool_call_id for m in messages if m.role == "tool"}
            messages += [m for cid, m in self._finished.items() if cid not in done]
            save_messages(self.path, messages)


def prepare_resume(messages: list[Message]) -> list[Message]:
    """The saved messages ready to continue: system messages dropped (the agent adds its
    own), every tool call without a saved result answered as interrupted."""
    out = [m for m in messages if m.role != "system"]
    if not any(m.role == "user" for m in out):
        raise ConfigurationError("The saved messages hold no user prompt; nothing to resume.")
    answered = {m.tool_call_id for m in out if m.role == "tool"}
    fixed: list[Message] = []
    for m in out:
        fixed.append(m)
        for call in m.tool_calls if m.role == "assistant" else []:
            if call.id not in answered:
                fixed.append(Message.tool(INTERRUPTED, tool_call_id=call.id, name=call.name,
                                          metadata={"error": True, "interrupted": True}))
    return fixed


def resume(agent: Any, saved: str | Path | list[Message]) -> Any:
    """Continue the run saved in ``saved`` (a checkpoint file or messages) with ``agent``.

    Returns the run's :class:`~sapient.Result`. A run that had already ended with an
    answer is returned as it was, without a model call.
    """
    messages = saved if isinstance(saved, list) else load_messages(saved)
    history = prepare_resume(messages)
    last = history[-1]
    if last.role == "assistant" and not last.tool_calls:
        from ._loop import Result

        return Result(last.content, last.content, history, [], [], Usage(), "answer")
    return agent.run(None, history=history)
