"""What every example chatbot shares: options, the embedded-model first step, the chat loop.

Each bot is one file that builds an agent; this module gives them the same command
line (``--llm``, ``--question``, ``--home``), prints answers with their tool steps and
citations, and helps the tiny embedded model take its first step.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sapient import Agent, hookimpl
from sapient.core.llm import LLMResponse
from sapient.core.messages import Message, ToolCall

#: The model used when no --llm is given: Gemma 3 270M through llama.cpp, in process.
DEFAULT_LLM = "llamacpp:default"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--llm", default=None,
                   help=f"model spec (default {DEFAULT_LLM}, the embedded model); any "
                        "OpenAI-compatible model works, e.g. openai:gpt-4o-mini or "
                        "openai:http://127.0.0.1:11434/v1#llama3.1")
    p.add_argument("--question", action="append", metavar="TEXT",
                   help="ask this and exit (repeatable); without it, chat")
    p.add_argument("--home", default=None,
                   help="where the example keeps its data (default ~/.sapient/examples)")
    return p


def home_dir(args: argparse.Namespace, name: str) -> Path:
    base = Path(args.home).expanduser() if args.home else Path.home() / ".sapient" / "examples"
    return base / name


class FirstStep:
    """Takes the first step for the embedded 270M model, which cannot pick tools itself.

    The first model turn becomes the tool call ``route(question)`` names (the tool
    still runs for real); later turns ask the model for one sentence from the
    evidence, in the completion form a base model follows. With ``--llm`` naming a
    capable model this plugin is not used: the model chooses.
    """

    def __init__(self, route: Callable[[str], tuple[str, dict[str, Any]]]) -> None:
        self.route = route

    @hookimpl(tryfirst=True)
    def call_model(self, request: Any) -> Any:
        run = request.run
        if run is None or not request.tools:
            return None
        question = next(m.content for m in request.messages if m.role == "user") or ""
        if run.step == 1:
            name, args = self.route(question)
            return LLMResponse(tool_calls=[ToolCall(name, args)], finish_reason="tool_calls",
                               model="router")
        evidence = next((m.content for m in reversed(request.messages) if m.role == "tool"), "")
        prompt = (f"Evidence:\n{(evidence or '')[:1500]}\n\nQuestion: {question}\n"
                  "Answer in one sentence, using only the evidence:")
        return request.llm.complete([Message.user(prompt)], (), max_tokens=80,
                                    stop=["\n\n", "Question:"])


def plugins_for(args: argparse.Namespace, llm: Any,
                route: Callable[[str], tuple[str, dict[str, Any]]]) -> list[Any]:
    """The router for the embedded default model; nothing for a model given by --llm."""
    return [FirstStep(route)] if llm is None and not args.llm else []


def show(agent: Agent, question: str, out: Any = None) -> Any:
    """Ask one question; print the tool steps, the answer and its citations."""
    out = out or sys.stdout
    print(f"\nyou> {question}", file=out, flush=True)
    result = agent.run(question)
    for rec in result.tool_calls:
        outcome = rec.error or (rec.result or "")
        outcome = " ".join(outcome.split())
        print(f"  [{rec.name}] {outcome[:160]}{'…' if len(outcome) > 160 else ''}", file=out)
    print(f"bot> {result.answer if result.ok else '(no answer: ' + str(result.error) + ')'}",
          file=out)
    for c in result.citations[:5]:
        print(f"  source [{c.source_id}] {' '.join(c.text.split())[:100]}", file=out)
    return result


def converse(agent: Agent, questions: list[str] | None, banner: str,
             after: Callable[[Any], None] | None = None) -> int:
    """Answer the given questions, or chat (lines from stdin) until /exit.

    ``after(result)`` runs after each answer (e.g. to point at a saved chart).
    """
    print(banner)

    def ask(question: str) -> Any:
        result = show(agent, question)
        if after is not None:
            after(result)
        return result

    if questions:
        results = [ask(q) for q in questions]
        return 0 if all(r.ok for r in results) else 1
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("you> " if interactive else "").strip()
        except (EOFError, KeyboardInterrupt):
            return 0
        if line in ("/exit", "/quit"):
            return 0
        if line:
            ask(line)
