"""A run resumes from its saved messages after a crash: done tool calls are not made
again, an interrupted one is reported to the model as such, and the run finishes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sapient import Agent, ConfigurationError, Message, tool
from sapient.connectors.scripted import ScriptedLLM
from sapient.core.checkpoint import INTERRUPTED, Checkpoint, load_messages, resume


def planner(messages, tools, options):
    """Book, then pay, then answer; asked again after an interruption, it checks first."""
    results = [m for m in messages if m.role == "tool"]
    if not results:
        return {"tool": "book", "args": {"what": "room 12"}}
    last = results[-1]
    if last.name == "book":
        return {"tool": "pay", "args": {"amount": 90}}
    if last.name == "pay" and last.content == INTERRUPTED:
        return {"tool": "payment_status", "args": {}}
    return f"Done: {last.content}"


class Crash(BaseException):
    """What a killed process looks like from inside: nothing after it runs."""


def make_tools(log: list[str], crash_on_pay: bool):
    @tool
    def book(what: str) -> str:
        """Book something.

        Args:
            what: what to book.
        """
        log.append(f"book {what}")
        return f"booked {what}"

    @tool
    def pay(amount: int) -> str:
        """Pay.

        Args:
            amount: euros.
        """
        log.append(f"pay {amount}")
        if crash_on_pay:
            raise Crash
        return "paid"

    @tool
    def payment_status() -> str:
        """Whether the payment went through."""
        log.append("status")
        return "paid once"

    return [book, pay, payment_status]


def test_a_crashed_run_resumes_without_repeating_done_calls(tmp_path: Path) -> None:
    saved = tmp_path / "run.json"
    log: list[str] = []
    agent = Agent(ScriptedLLM(function=planner), tools=make_tools(log, crash_on_pay=True),
                  plugins=[Checkpoint(saved)])
    with pytest.raises(Crash):
        agent.run("Book room 12 and pay for it")
    assert log == ["book room 12", "pay 90"]

    fresh = Agent(ScriptedLLM(function=planner), tools=make_tools(log, crash_on_pay=False))
    result = resume(fresh, saved)
    assert result.ok and result.answer == "Done: paid once"
    assert log == ["book room 12", "pay 90", "status"]  # booked once, paid once
    interrupted = [m for m in result.messages if m.content == INTERRUPTED]
    assert len(interrupted) == 1 and interrupted[0].name == "pay"
    assert result.messages[0].content == "Book room 12 and pay for it"


def test_resuming_a_finished_run_returns_its_answer(tmp_path: Path) -> None:
    saved = tmp_path / "run.json"
    log: list[str] = []
    agent = Agent(ScriptedLLM(function=planner), tools=make_tools(log, crash_on_pay=False),
                  plugins=[Checkpoint(saved)])
    first = agent.run("Book room 12 and pay for it")
    llm = ScriptedLLM(function=planner)
    again = resume(Agent(llm, tools=make_tools(log, crash_on_pay=False)), saved)
    assert again.answer == first.answer == "Done: paid"
    assert llm.calls == [] and log == ["book room 12", "pay 90"]


def test_bad_checkpoint_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="No saved run"):
        load_messages(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_bytes(b"\x00\xff not json")
    with pytest.raises(ConfigurationError, match="does not hold saved messages"):
        load_messages(tmp_path / "junk.json")
    with pytest.raises(ConfigurationError, match="no user prompt"):
        resume(Agent(ScriptedLLM(["x"])), [Message.assistant("hi")])


_CHILD = """
import os, signal, sys
from sapient import Agent, tool
from sapient.connectors.scripted import ScriptedLLM
from sapient.core.checkpoint import Checkpoint
sys.path.insert(0, {tests!r})
from test_robust_resume import planner

effects = open({effects!r}, "a")

@tool
def book(what: str) -> str:
    '''Book.

    Args:
        what: what.
    '''
    effects.write("book\\n"); effects.flush(); os.fsync(effects.fileno())
    return "booked " + what

@tool
def pay(amount: int) -> str:
    '''Pay.

    Args:
        amount: euros.
    '''
    effects.write("pay\\n"); effects.flush(); os.fsync(effects.fileno())
    os.kill(os.getpid(), signal.SIGKILL)

agent = Agent(ScriptedLLM(function=planner), tools=[book, pay],
              plugins=[Checkpoint({saved!r})])
agent.run("Book room 12 and pay for it")
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_run_killed_with_sigkill_resumes_in_a_new_process(tmp_path: Path) -> None:
    saved, effects = tmp_path / "run.json", tmp_path / "effects.txt"
    script = textwrap.dedent(_CHILD).format(tests=str(Path(__file__).parent),
                                            effects=str(effects), saved=str(saved))
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert effects.read_text().split() == ["book", "pay"]
    kept = json.loads(saved.read_text())["messages"]
    assert [m["name"] for m in kept if m["role"] == "tool"] == ["book"]
    assert not list(tmp_path.glob(".run.json.tmp-*"))

    log: list[str] = []
    result = resume(Agent(ScriptedLLM(function=planner),
                          tools=make_tools(log, crash_on_pay=False)), saved)
    assert result.ok and log == ["status"]  # nothing booked or paid twice
