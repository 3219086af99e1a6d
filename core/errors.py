"""One error hierarchy for the whole framework.

Every error Sapient raises derives from :class:`SapientError`, so callers can catch
one type. Errors carry their context as attributes (never only in the message), and
their messages say what went wrong *and* how to fix it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SapientError",
    "ConfigurationError",
    "PluginError",
    "ToolDefinitionError",
    "ToolArgumentError",
    "ToolExecutionError",
    "ToolTimeoutError",
    "ModelRetry",
    "LLMError",
    "GuardViolation",
    "OutputValidationError",
    "ToolRefused",
    "ApprovalPending",
]


class SapientError(Exception):
    """Root of every error raised by Sapient."""


class ConfigurationError(SapientError):
    """Something the user must configure is missing or wrong (no LLM, bad setting)."""


class PluginError(SapientError):
    """A plugin failed to load or registered something invalid.

    Attributes:
        plugin: name of the plugin (entry-point name or module) at fault.
    """

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class ToolDefinitionError(SapientError):
    """A tool cannot be built (unsupported type hint, bad schema, duplicate name).

    Raised at registration time, never during a run, so mistakes surface early.
    """

    def __init__(self, message: str, *, tool: str | None = None) -> None:
        super().__init__(message)
        self.tool = tool


class ToolArgumentError(SapientError):
    """The model sent arguments that do not match the tool's schema.

    The agent loop feeds ``str(error)`` back to the model so it can retry; the tool
    function is never called with invalid arguments.

    Attributes:
        tool: the tool's name.
        problems: one human-readable line per problem found.
    """

    def __init__(self, tool: str, problems: list[str]) -> None:
        self.tool = tool
        self.problems = list(problems)
        lines = "\n".join(f"- {p}" for p in self.problems)
        super().__init__(
            f"Invalid arguments for tool '{tool}':\n{lines}\n"
            "Fix the arguments to match the tool's parameter schema and call it again."
        )


class ToolExecutionError(SapientError):
    """A tool raised while running. The original exception is ``__cause__``."""

    def __init__(self, tool: str, message: str) -> None:
        super().__init__(f"Tool '{tool}' failed: {message}")
        self.tool = tool


class ToolTimeoutError(ToolExecutionError):
    """A tool ran longer than its timeout."""

    def __init__(self, tool: str, timeout: float) -> None:
        super().__init__(tool, f"timed out after {timeout:g} s")
        self.timeout = timeout


class ModelRetry(SapientError):
    """Raised *by a tool* to send feedback to the model and let it try again.

    Example: ``raise ModelRetry("No customer with id 42; list customers first.")``.
    """


class LLMError(SapientError):
    """A model backend failed (connection, authentication, rate limit, bad reply).

    Attributes:
        provider: connector name, e.g. ``"openai"``.
        model: the model id, if known.
        status_code: HTTP status where the backend gave one.
        retryable: whether trying again later can help.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.status_code = status_code
        self.retryable = retryable


class GuardViolation(SapientError):
    """A guard hook refused an input or an output.

    Attributes:
        stage: ``"input"`` or ``"output"``.
        guard: name of the guard that refused.
    """

    def __init__(self, message: str, *, stage: str = "input", guard: str | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.guard = guard


class OutputValidationError(SapientError):
    """The model failed to produce a valid structured output within the retry budget.

    Attributes:
        errors: the validation messages of the last attempt.
        raw: the last raw output received.
    """

    def __init__(self, message: str, *, errors: list[str] | None = None, raw: Any = None) -> None:
        super().__init__(message)
        self.errors = errors or []
        self.raw = raw


class ToolRefused(SapientError):
    """A policy refused a tool call (not approved, or too risky after untrusted input).

    The loop sends the message back to the model (``Refused: ...``), so it can answer
    without the call or ask the user.

    Attributes:
        tool: the tool that was refused.
        reasons: why approval was needed, in plain words.
    """

    def __init__(self, message: str, *, tool: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.tool = tool
        self.reasons = reasons or []


def not_utf8(what: object, exc: UnicodeDecodeError) -> str:
    """One sentence for a file that is not UTF-8 text (shared by every file reader)."""
    bad = exc.object[exc.start:exc.start + 1]
    byte = f"byte 0x{bad[0]:02x} " if bad else ""
    return (f"{what} is not UTF-8 text ({byte}at position {exc.start}); save it as UTF-8 "
            "and run again.")


class ApprovalPending(SapientError):
    """An approval callback cannot answer now: pause the run until someone does.

    Raised by an ``approve`` callback (never by a tool). The loop does not run the
    call; when the turn's other calls are done the run ends with
    ``stop_reason="approval_pending"`` and the waiting calls in ``Result.pending``.
    ``agent.run(None, history=result.messages)`` later resumes it: the calls still
    unanswered there run first (asking the callback again, which now answers), then
    the model goes on. ``sapient serve`` uses this to hand a side-effecting call to
    its client as an OpenAI ``tool_calls`` entry (docs/security.md).

    Attributes:
        tool: the tool whose call waits.
        reasons: why approval is needed, in plain words.
    """

    def __init__(self, message: str = "This call waits for approval.", *, tool: str = "",
                 reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.tool = tool
        self.reasons = reasons or []
