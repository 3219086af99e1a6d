"""llama.cpp's native log, routed through Sapient so normal output stays clean."""

from __future__ import annotations

import collections
import ctypes
import sys
from typing import Any

__all__ = ["error_mark", "last_llama_errors", "quiet_llama_log"]

#: ggml's log levels (ggml.h). llama-cpp-python's own table predates DEBUG and maps
#: WARN (3) to "error", which is why its notices printed even with verbose=False.
_GGML_ERROR = 4
_GGML_CONT = 5
_STATE: dict[str, Any] = {"verbose": False, "level": 0, "callback": None, "count": 0}
_ERRORS: collections.deque[str] = collections.deque(maxlen=20)


def _on_log(level: int, text: bytes, _user: Any) -> None:
    """llama.cpp's log: kept quiet (errors remembered for messages) unless verbose."""
    try:  # an exception must not cross back into C
        if level != _GGML_CONT:
            _STATE["level"] = level
        line = text.decode("utf-8", "replace")
        if _STATE["verbose"]:
            sys.stderr.write(line)
        elif _STATE["level"] >= _GGML_ERROR and line.strip():
            _ERRORS.append(line.strip())
            _STATE["count"] += 1
    except Exception:  # noqa: S110 - logging is best effort
        pass


def quiet_llama_log(verbose: bool = False) -> None:
    """Route llama.cpp's own log through Sapient: silent unless ``verbose``.

    llama.cpp writes notices straight to stderr (``llama_kv_cache_iswa: using
    full-size SWA cache`` on every load of a Gemma 3 model) and llama-cpp-python's
    ``verbose=False`` does not stop them, so normal output would carry native log
    lines. Errors are kept (``last_llama_errors``) so Sapient's own messages can
    quote them.
    """
    import llama_cpp

    _STATE["verbose"] = _STATE["verbose"] or verbose
    if _STATE["callback"] is None:
        _STATE["callback"] = llama_cpp.llama_log_callback(_on_log)  # kept alive here
        llama_cpp.llama_log_set(_STATE["callback"], ctypes.c_void_p(0))


def last_llama_errors(since: int | None = None) -> list[str]:
    """The latest error lines llama.cpp logged (newest last); ``since`` a ``error_mark()``."""
    lines = list(_ERRORS)
    if since is None:
        return lines
    return lines[len(lines) - min(len(lines), _STATE["count"] - since):]


def error_mark() -> int:
    """How many error lines have been logged so far (for ``last_llama_errors(since=)``)."""
    return int(_STATE["count"])
