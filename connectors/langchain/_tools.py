"""Tools both ways: a Sapient tool as a LangChain tool, and a LangChain tool as a Sapient one.

The JSON schema travels unchanged in both directions, so a model sees the same
parameters whichever framework offers the tool. Argument problems found by Sapient's
validation become LangChain ``ToolException`` messages (shown to the model when
``handle_tool_error`` is on, as it is here), and a LangChain tool's exceptions reach
the Sapient agent as tool errors it feeds back to the model.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sapient.core.errors import ModelRetry, ToolArgumentError
from sapient.core.tools import Tool, serialize_result

__all__ = ["to_langchain_tool", "from_langchain_tool"]

_NAME_OK = re.compile(r"[^A-Za-z0-9_-]")


def to_langchain_tool(tool: Tool) -> Any:
    """A LangChain ``StructuredTool`` that validates and runs a Sapient :class:`Tool`.

    The tool's JSON schema is its ``args_schema``; the result is the text the
    Sapient model would have seen (``serialize_result``).
    """
    from langchain_core.tools import StructuredTool, ToolException

    def checked(kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            return tool.validate(kwargs)
        except ToolArgumentError as exc:
            raise ToolException(str(exc)) from None

    def run(**kwargs: Any) -> str:
        try:
            return serialize_result(tool.invoke(checked(kwargs)))
        except ModelRetry as exc:
            raise ToolException(str(exc)) from None

    async def arun(**kwargs: Any) -> str:
        loop = asyncio.get_running_loop()  # an async tool runs on the caller's loop
        try:
            return serialize_result(await asyncio.to_thread(tool.invoke, checked(kwargs),
                                                            loop=loop))
        except ModelRetry as exc:
            raise ToolException(str(exc)) from None

    return StructuredTool(name=tool.name, description=tool.description,
                          args_schema=tool.parameters, func=run, coroutine=arun,
                          handle_tool_error=True)


def from_langchain_tool(lc_tool: Any, *, name: str | None = None) -> Tool:
    """A Sapient :class:`Tool` that calls a LangChain tool (any ``BaseTool``).

    The schema is the one LangChain would send to a model
    (``convert_to_openai_tool``); async-only tools are awaited.
    """
    from langchain_core.utils.function_calling import convert_to_openai_tool

    function = convert_to_openai_tool(lc_tool)["function"]
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    tool_name = name or _NAME_OK.sub("_", function["name"])[:64]

    if getattr(lc_tool, "func", None) is None and getattr(lc_tool, "coroutine", None) is not None:
        async def acall(arguments: dict[str, Any]) -> Any:
            return _content(await lc_tool.ainvoke(arguments))

        fn: Any = acall
    else:
        def call(arguments: dict[str, Any]) -> Any:
            return _content(lc_tool.invoke(arguments))

        fn = call
    tool = Tool.from_json_schema(tool_name, function.get("description") or tool_name, schema,
                                 fn, pass_arguments_as_dict=True)
    tool.metadata["langchain_tool"] = type(lc_tool).__name__
    return tool


def _content(value: Any) -> Any:
    """A ``ToolMessage`` result becomes its content; anything else passes through."""
    content = getattr(value, "content", None)
    return content if content is not None and hasattr(value, "tool_call_id") else value
