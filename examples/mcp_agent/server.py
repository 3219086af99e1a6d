"""A small MCP server written with the official SDK: a warehouse's stock levels.

It speaks MCP over stdio, so any MCP client can start it as a subprocess:
``python server.py``. The agent in ``bot.py`` does exactly that.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

STOCK = {
    "aurora-x2": {"units": 42, "warehouse": "Lyon", "reorder_at": 50},
    "soil-probe": {"units": 310, "warehouse": "Lyon", "reorder_at": 100},
    "mist-valve": {"units": 7, "warehouse": "Porto", "reorder_at": 20},
}

server = MCPServer("warehouse", instructions="Stock levels of the Lumora Labs warehouses.")


@server.tool()
def list_items() -> list[str]:
    """List the item codes the warehouse keeps."""
    return sorted(STOCK)


@server.tool()
def stock_level(item: str) -> dict:
    """How many units of an item are in stock, where, and whether to reorder.

    Args:
        item: the item code, e.g. "aurora-x2" (see list_items).
    """
    if item not in STOCK:
        raise ToolError(f"unknown item {item!r}; known items: {', '.join(sorted(STOCK))}")
    entry = STOCK[item]
    return {"item": item, **entry, "reorder": entry["units"] < entry["reorder_at"]}


if __name__ == "__main__":
    server.run()  # stdio
