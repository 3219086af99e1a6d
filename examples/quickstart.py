"""A first agent: two plain-function tools, run with the scripted LLM (no model needed).

Run:  python examples/quickstart.py
Then swap the scripted LLM for a real one, e.g. Agent("llamacpp:default", ...) or
Agent("openai:gpt-4o-mini", ...), and drop the script.
"""

from __future__ import annotations

from sapient import Agent, tool
from sapient.connectors.scripted import ScriptedLLM

STOCK = {"espresso beans": 12, "oat milk": 0, "paper cups": 340}


@tool
def stock_level(item: str) -> int:
    """How many units of an item the shop has in stock.

    Args:
        item: the item's name, e.g. "oat milk".
    """
    if item not in STOCK:
        raise ValueError(f"unknown item {item!r}; known items: {', '.join(STOCK)}")
    return STOCK[item]


@tool
def reorder(item: str, quantity: int) -> str:
    """Place a reorder with the supplier.

    Args:
        item: the item's name.
        quantity: how many units to order (1-1000).
    """
    return f"ordered {quantity} x {item}"


# The script stands in for a model: it checks the stock, reorders, then answers.
llm = ScriptedLLM([
    {"tool": "stock_level", "args": {"item": "oat milk"}},
    {"tool": "reorder", "args": {"item": "oat milk", "quantity": 24}},
    "Oat milk was out of stock, so I reordered 24 units.",
])

agent = Agent(llm, tools=[stock_level, reorder], system_prompt="You run a coffee shop.")
result = agent.run("Do we need more oat milk?")
for call in result.tool_calls:
    print(f"tool {call.name}({call.arguments}) -> {call.result or call.error}")
print("answer:", result.answer)
print("tokens:", result.usage.total_tokens, "model calls:", result.usage.requests)
