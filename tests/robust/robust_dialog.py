"""A long scripted dialog for the memory tests (and ``benchmarks/memory.py``).

The scripted model reads its context like a model would: asked a question about the
user, it looks for the answer in the messages it was sent (never in the question
itself) and says "I do not know" when it is not there. Asked to summarise, it writes
a lossy summary (only the latest topic), so facts survive only if the memory recalls
them, not because the summary happened to keep everything.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sapient import Agent, ConversationMemory, Message, tool
from sapient.connectors.scripted import ScriptedLLM
from sapient.core.memory import SUMMARY_INSTRUCTIONS, estimate_tokens

SYSTEM = "You are a helpful assistant."

FACTS = [
    "Hello! My name is Ada Quill and my dog is called Biscuit.",
    "I was born in Lisbon in 1987, and my favourite colour is teal.",
]
QUESTIONS = [
    ("What is my dog called?", r"dog is called (\w+)", "Biscuit"),
    ("Which city was I born in?", r"born in ([A-Z]\w+)", "Lisbon"),
    ("What is my favourite colour?", r"favourite colou?r is (\w+)", "teal"),
]
_SUMMARY_HEAD = SUMMARY_INSTRUCTIONS.split("{")[0][:40]


@tool
def lookup(topic: str) -> str:
    """Look a topic up in the encyclopedia.

    Args:
        topic: what to look up.
    """
    rng = random.Random(topic)
    return f"{topic}: " + " ".join(rng.choice(_VOCAB) for _ in range(40)) + "."


_VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "pu", "ra", "si", "to", "ve", "zu")
          for b in ("bar", "den", "fix", "gol", "hum", "jat", "kip", "lun", "mox", "nuf",
                    "pel", "quo", "rin", "sot", "tav", "vex")]


def filler(turn: int, rng: random.Random) -> str:
    """A user message about some topic, sometimes asking to look it up."""
    topic = " ".join(rng.choice(_VOCAB) for _ in range(2))
    words = " ".join(rng.choice(_VOCAB) for _ in range(rng.randint(8, 20)))
    if turn % 10 == 0:
        return f"Please lookup {topic} for me."
    return f"Tell me about {topic}. I keep hearing {words}."


def _context_text(messages: Sequence[Message]) -> str:
    return "\n".join(m.content or "" for m in messages[:-1])


def brain(messages: Sequence[Message], tools: Sequence[Any], options: dict[str, Any]) -> Any:
    """The scripted model: summarise, answer from context, call a tool, or chat."""
    if messages and (messages[0].content or "").startswith(_SUMMARY_HEAD):
        topics = re.findall(r"Tell me about ([\w ]+)\.", messages[-1].content or "")
        return f"The user asked about {topics[-1]}." if topics else "Small talk."
    last = messages[-1]
    if last.role == "tool":
        return f"Here is what I found: {(last.content or '')[:120]}"
    text = last.content or ""
    for question, pattern, _ in QUESTIONS:
        if text == question:
            found = re.search(pattern, _context_text(messages))
            return f"It is {found.group(1)}." if found else "I do not know."
    if text.startswith("Please lookup") and tools:
        return {"tool": "lookup", "args": {"topic": text[len("Please lookup "):-len(" for me.")]}}
    rng = random.Random(text)
    return "Sure. " + " ".join(rng.choice(_VOCAB) for _ in range(rng.randint(20, 45))) + "."


@dataclass
class DialogRun:
    """What a dialog produced: the answers to the questions, tokens sent per turn."""

    answers: dict[str, str] = field(default_factory=dict)
    tokens: list[int] = field(default_factory=list)
    summary_calls: int = 0
    llm: Any = None


def sent_tokens(messages: Sequence[Message]) -> int:
    """Tokens of the conversation sent to the model (the agent's system prompt excluded)."""
    return sum(ConversationMemory._tokens(m, estimate_tokens) for m in messages
               if not (m.role == "system" and m.content == SYSTEM))


def dialog_messages(turns: int = 200, *, seed: int = 0) -> Iterator[str]:
    """``turns`` user messages: the facts first, the questions last, filler between."""
    rng = random.Random(seed)
    for turn in range(1, turns + 1):
        if turn <= len(FACTS):
            yield FACTS[turn - 1]
        elif turn > turns - len(QUESTIONS):
            yield QUESTIONS[turn - (turns - len(QUESTIONS)) - 1][0]
        else:
            yield filler(turn, rng)


def run_dialog(memory: ConversationMemory | None, turns: int = 200, *,
               seed: int = 0) -> DialogRun:
    """The dialog of :func:`dialog_messages` through a chat session with ``memory``."""
    llm = ScriptedLLM(function=brain)
    session = Agent(llm, tools=[lookup], system_prompt=SYSTEM).chat(memory=memory)
    out = DialogRun(llm=llm)
    for text in dialog_messages(turns, seed=seed):
        before = len(llm.calls)
        result = session.send(text)
        first = next(c for c in llm.calls[before:] if c.messages[-1].role == "user"
                     and not (c.messages[0].content or "").startswith(_SUMMARY_HEAD))
        out.tokens.append(sent_tokens(first.messages))
        if text in {q for q, _, _ in QUESTIONS}:
            out.answers[text] = result.answer or ""
    out.summary_calls = sum(1 for c in llm.calls
                            if (c.messages[0].content or "").startswith(_SUMMARY_HEAD))
    return out
