"""Agent-loop overhead: Sapient vs LangChain 1.x ``create_agent`` vs a bare loop.

The same task runs in one process for all three: a scripted model (no network, no
real LLM) calls one trivial tool three times with different arguments, then answers.
Everything measured is framework overhead: message bookkeeping, argument validation,
hooks, events, thread hops. Each contender gets the same scripted decisions:

* **bare**: a hand-written loop over plain dicts, calling the function directly
  (no validation): the floor.
* **sapient**: ``Agent.run`` with a :class:`ScriptedLLM` (validation, hooks, events,
  usage accounting included).
* **langchain**: ``langchain.agents.create_agent`` (LangGraph) with a small
  ``BaseChatModel`` whose ``bind_tools`` returns itself and whose replies are
  ``AIMessage`` objects with ``tool_calls``.

Two more Sapient figures build a new ``Agent`` for every run, as a server building
one per request does, so the agent's set-up is counted: **sapient_new** (no
``host=``: the agent runs on the environment's default host, installed plugins
included) and **sapient_new_plugin** (the same with one plugin of its own, an
``on_event`` counter, so the agent gets a plugin manager of its own).

Usage::

    python benchmarks/agent_overhead.py [--runs 300] [--new-runs 50] [--quick] [--json]

``--data`` is accepted for symmetry with the other benchmarks; this one needs no data.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"

#: The scripted decisions: three tool calls with different arguments, then an answer.
CALLS: list[dict[str, int]] = [{"a": 1, "b": 2}, {"a": 3, "b": 4}, {"a": 5, "b": 6}]
ANSWER = "The sums are 3, 7 and 11."


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: first number.
        b: second number.
    """
    return a + b


def _step_of(n_tool_results: int) -> dict[str, int] | None:
    """The scripted decision after ``n_tool_results`` tool results: a call or None (answer)."""
    return CALLS[n_tool_results] if n_tool_results < len(CALLS) else None


# --- bare loop ------------------------------------------------------------------------


def bare_run(prompt: str) -> str:
    """The floor: a hand-written loop with no framework at all."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    tools = {"add": add}
    i = 0
    while True:
        n = sum(1 for m in messages if m["role"] == "tool")
        args = _step_of(n)
        if args is None:
            messages.append({"role": "assistant", "content": ANSWER})
            return ANSWER
        call = {"id": f"c{i}", "name": "add", "arguments": json.dumps(args)}
        i += 1
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        result = tools[call["name"]](**json.loads(call["arguments"]))
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": str(result)})


# --- Sapient --------------------------------------------------------------------------


def make_sapient() -> Callable[[str], str]:
    from sapient import Agent, ToolCall
    from sapient.connectors.scripted import ScriptedLLM

    counter = iter(range(10**9))

    def script(messages: Any, tools: Any, options: Any) -> Any:
        n = sum(1 for m in messages if m.role == "tool")
        args = _step_of(n)
        if args is None:
            return ANSWER
        return ToolCall("add", json.dumps(args), f"c{next(counter)}")

    agent = Agent(ScriptedLLM(function=script), tools=[add])

    def run(prompt: str) -> str:
        result = agent.run(prompt)
        if result.answer != ANSWER or len(result.tool_calls) != 3:
            raise RuntimeError(f"sapient run went wrong: {result.stop_reason} {result.error}")
        return result.answer

    return run


def make_sapient_new(with_plugin: bool) -> Callable[[str], str]:
    """Sapient with a new agent per run (see the module docstring)."""
    from sapient import Agent, ToolCall, hookimpl, tool
    from sapient.connectors.scripted import ScriptedLLM

    counter = iter(range(10**9))
    add_tool = tool(add)  # the tool is built once, like a server's tools

    def script(messages: Any, tools: Any, options: Any) -> Any:
        n = sum(1 for m in messages if m.role == "tool")
        args = _step_of(n)
        if args is None:
            return ANSWER
        return ToolCall("add", json.dumps(args), f"c{next(counter)}")

    class CountEvents:
        def __init__(self) -> None:
            self.events = 0

        @hookimpl
        def on_event(self, event: Any) -> None:
            self.events += 1

    def run(prompt: str) -> str:
        plugins = [CountEvents()] if with_plugin else []
        agent = Agent(ScriptedLLM(function=script), tools=[add_tool], plugins=plugins)
        result = agent.run(prompt)
        if result.answer != ANSWER or (plugins and plugins[0].events < 10):
            raise RuntimeError(f"sapient run went wrong: {result.stop_reason} {result.error}")
        return result.answer

    return run


# --- LangChain ------------------------------------------------------------------------


def make_langchain() -> Callable[[str], str]:
    from langchain.agents import create_agent
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, ToolMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    counter = iter(range(10**9))

    class ScriptedChatModel(BaseChatModel):
        """Replies like the scripted model above: tool calls, then the answer."""

        @property
        def _llm_type(self) -> str:
            return "scripted"

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                      **kwargs: Any) -> ChatResult:
            n = sum(1 for m in messages if isinstance(m, ToolMessage))
            args = _step_of(n)
            if args is None:
                msg = AIMessage(content=ANSWER)
            else:
                msg = AIMessage(content="", tool_calls=[
                    {"name": "add", "args": args, "id": f"c{next(counter)}", "type": "tool_call"}
                ])
            return ChatResult(generations=[ChatGeneration(message=msg)])

    graph = create_agent(ScriptedChatModel(), tools=[add])

    def run(prompt: str) -> str:
        state = graph.invoke({"messages": [{"role": "user", "content": prompt}]})
        answer = state["messages"][-1].content
        n_tools = sum(1 for m in state["messages"] if isinstance(m, ToolMessage))
        if answer != ANSWER or n_tools != 3:
            raise RuntimeError(f"langchain run went wrong: {answer!r}, {n_tools} tool results")
        return answer

    return run


# --- measurement ----------------------------------------------------------------------


def measure(run: Callable[[str], str], runs: int, warmup: int) -> dict[str, float]:
    """Mean and median seconds per run, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        run("What are 1+2, 3+4 and 5+6?")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run("What are 1+2, 3+4 and 5+6?")
        times.append(time.perf_counter() - t0)
    return {"mean": statistics.fmean(times), "median": statistics.median(times),
            "stdev": statistics.pstdev(times)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="timed runs per contender")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first")
    parser.add_argument("--new-runs", type=int, default=50,
                        help="timed runs of the new-agent-per-run contenders")
    parser.add_argument("--quick", action="store_true", help="50 runs, 5 warm-up")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds; the best round's mean is reported")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="unused (no data)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.warmup, args.rounds, args.new_runs = 50, 5, 1, 10

    contenders = {"bare": bare_run, "sapient": make_sapient(), "langchain": make_langchain(),
                  "sapient_new": make_sapient_new(False),
                  "sapient_new_plugin": make_sapient_new(True)}
    best: dict[str, dict[str, float]] = {}
    # Interleave rounds so machine noise hits every contender alike; keep the best round.
    for _ in range(args.rounds):
        for name, run in contenders.items():
            new = name.startswith("sapient_new")
            stats = measure(run, args.new_runs if new else args.runs,
                            min(args.warmup, 3) if new else args.warmup)
            if name not in best or stats["mean"] < best[name]["mean"]:
                best[name] = stats

    steps = len(CALLS) + 1  # model calls per run
    bare, sap, lc = (best[k]["mean"] for k in ("bare", "sapient", "langchain"))
    print(f"Agent overhead: {len(CALLS)} tool calls + 1 answer = {steps} model steps per run; "
          f"{args.runs} runs x {args.rounds} round(s); Python {platform.python_version()}")
    print(f"{'contender':<11} {'mean ms/run':>12} {'median ms':>10} {'us/step':>9} "
          f"{'overhead us/step':>17}")
    for name in ("bare", "sapient", "langchain"):
        s = best[name]
        over = (s["mean"] - bare) / steps
        print(f"{name:<11} {s['mean'] * 1e3:>12.3f} {s['median'] * 1e3:>10.3f} "
              f"{s['mean'] / steps * 1e6:>9.1f} {over * 1e6:>17.1f}")
    for name in ("sapient_new", "sapient_new_plugin"):
        s = best[name]
        print(f"{name:<19} {s['mean'] * 1e3:>8.3f} ms/run mean, {s['median'] * 1e3:.3f} median "
              f"(a new agent per run: {(s['median'] - best['sapient']['median']) * 1e3:+.3f} ms "
              "over the reused agent's median)")
    sap_over = (sap - bare) / steps
    lc_over = (lc - bare) / steps
    print(f"LangChain / Sapient time per run: {lc / sap:.1f}x; "
          f"overhead per step (minus bare): LangChain {lc_over * 1e6:.0f} us vs "
          f"Sapient {sap_over * 1e6:.0f} us = {lc_over / sap_over:.1f}x; "
          f"Sapient / bare: {sap / bare:.0f}x")
    if args.json:
        print(json.dumps({
            "sapient_s_per_run": sap,
            "langchain_s_per_run": lc,
            "bare_s_per_run": bare,
            "langchain_over_sapient": lc / sap,
            "sapient_over_bare": sap / bare,
            "langchain_overhead_over_sapient_overhead_per_step": lc_over / sap_over,
            "sapient_median_s_per_run": best["sapient"]["median"],
            "langchain_median_s_per_run": best["langchain"]["median"],
            "bare_median_s_per_run": best["bare"]["median"],
            "sapient_new_agent_median_s_per_run": best["sapient_new"]["median"],
            "sapient_new_agent_with_plugin_median_s_per_run":
                best["sapient_new_plugin"]["median"],
            "steps_per_run": steps,
            "runs": args.runs,
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
