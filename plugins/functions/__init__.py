"""Built-in plain-function tools: safe arithmetic and the current time."""

from __future__ import annotations

import ast
import datetime as _dt
import math
import operator
import sys
from typing import Any

from sapient.core.hookspecs import hookimpl
from sapient.core.tools import Tool

__all__ = ["FunctionsToolkit", "calculator", "current_time", "register_tools"]

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCS = {name: getattr(math, name) for name in (
    "sqrt", "log", "log10", "log2", "exp", "sin", "cos", "tan", "floor", "ceil", "fabs")}
_FUNCS.update({"abs": abs, "round": round, "min": min, "max": max})
_CONSTS = {"pi": math.pi, "e": math.e}

#: Results are bounded before they are computed: an integer may have at most as many
#: digits as Python agrees to print (``sys.get_int_max_str_digits()``, 4300 by default),
#: so a request like ``((9**999)**999)**999`` is refused at once instead of running on.
_MAX_DIGITS = sys.get_int_max_str_digits() or 4300
_MAX_BITS = math.ceil(_MAX_DIGITS * math.log2(10))
#: Longer input is not arithmetic a model needs in one step (and parsing it is slow).
_MAX_CHARS = 10_000


def _check_size(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse an integer result too large to print, before computing it."""
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    if isinstance(op, ast.Pow) and right > 0 and abs(left) > 1:
        bits = right * math.log2(abs(left))
    elif isinstance(op, ast.Mult):
        bits = left.bit_length() + right.bit_length()
    else:
        return
    if bits > _MAX_BITS:
        raise ValueError(f"the result would have more than {_MAX_DIGITS} digits")


def _eval(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 1000:
            raise ValueError("exponent too large (limit 1000)")
        _check_size(node.op, left, right)
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTS:
        return _CONSTS[node.id]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCS and not node.keywords):
        args = [_eval(a) for a in node.args]
        if node.func.id == "round" and len(args) == 2 and abs(args[1]) > _MAX_DIGITS:
            raise ValueError(f"round() to more than {_MAX_DIGITS} digits")
        return _FUNCS[node.func.id](*args)
    raise ValueError(f"unsupported expression element: {ast.dump(node)[:60]}")


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly, instead of guessing the result.

    Args:
        expression: arithmetic such as "2 * (3 + 4) / 7" or "sqrt(2) ** 2"; supports
            + - * / // % **, parentheses, pi, e and sqrt, log, exp, sin, cos, tan,
            abs, round, min, max, floor, ceil.
    """
    if len(expression) > _MAX_CHARS:
        return (f"Error: the expression has {len(expression)} characters (at most {_MAX_CHARS}); "
                "split it into smaller steps.")
    try:
        tree = ast.parse(expression, mode="eval")
        return repr(_eval(tree))
    except ZeroDivisionError:
        return "Error: division by zero"
    except OverflowError:
        return f"Error: cannot evaluate {expression[:200]!r}: the result is too large"
    except (RecursionError, MemoryError):
        return "Error: the expression is nested too deeply; split it into smaller steps."
    except (SyntaxError, ValueError, TypeError) as exc:
        return f"Error: cannot evaluate {expression[:200]!r}: {exc}"


def current_time(timezone_offset_hours: float = 0.0) -> str:
    """The current date and time, so answers about "today" or "now" are right.

    Args:
        timezone_offset_hours: offset from UTC in hours, e.g. 1 for CET, -5 for EST.
    """
    tz = _dt.timezone(_dt.timedelta(hours=timezone_offset_hours))
    return _dt.datetime.now(tz).isoformat(timespec="seconds")


class FunctionsToolkit:
    """The built-in plain-function tools: ``FunctionsToolkit(host).tools()``.

    They need nothing from the host; it is taken for the same shape as every plugin.
    """

    def __init__(self, host: Any = None) -> None:
        self.host = host

    def tools(self) -> list[Tool]:
        tools = [Tool.from_function(calculator), Tool.from_function(current_time)]
        for t in tools:
            t.effects = frozenset()  # pure: no side effects, no outside text
        return tools


@hookimpl
def register_tools(register: Any, host: Any) -> None:
    for t in FunctionsToolkit(host).tools():
        register(t)
