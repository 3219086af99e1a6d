"""Sapient: make LLMs smarter by grounding them in tools, documents, graphs and series.

Importing this package does no I/O, loads no plugins and imports no optional SDK.
"""

from __future__ import annotations

from sapient.core._lazy import lazy_exports
from sapient.core.agent import Agent, ChatSession, Result
from sapient.core.errors import (
    ConfigurationError,
    GuardViolation,
    LLMError,
    ModelRetry,
    OutputValidationError,
    PluginError,
    SapientError,
    ToolArgumentError,
    ToolDefinitionError,
    ToolExecutionError,
    ToolTimeoutError,
)
from sapient.core.hookspecs import hookimpl, hookspec
from sapient.core.llm import LLM, LLMResponse, StreamDelta
from sapient.core.memory import ConversationMemory
from sapient.core.messages import Citation, Message, ToolCall, ToolOutput, Usage
from sapient.core.plugins import Host
from sapient.core.settings import Settings
from sapient.core.tools import Tool, tool

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "ChatSession",
    "Citation",
    "ConfigurationError",
    "ConversationMemory",
    "GuardViolation",
    "Host",
    "LLM",
    "LLMError",
    "LLMResponse",
    "Message",
    "ModelRetry",
    "OutputValidationError",
    "PluginError",
    "Result",
    "SapientError",
    "Settings",
    "StreamDelta",
    "Tool",
    "ToolArgumentError",
    "ToolCall",
    "ToolDefinitionError",
    "ToolExecutionError",
    "ToolOutput",
    "ToolTimeoutError",
    "Usage",
    "hookimpl",
    "hookspec",
    "lazy_exports",
    "tool",
    "__version__",
]
