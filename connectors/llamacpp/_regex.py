"""A JSON-schema ``pattern`` as a GBNF rule for the inside of a JSON string.

Why not the converter's own pattern support: llama-cpp-python's port handles only
patterns anchored with ``^...$``, passes ``\\d`` and ``\\w`` through as escapes that
llama.cpp's grammar parser rejects, and copies character classes verbatim, so
``[^@]`` or ``.`` admit a raw ``"``, a backslash or a newline: text that is no
longer a JSON string. Here the pattern is parsed by Python's own regular-expression
parser (``re._parser``, the same one ``jsonschema`` matches with), and every
character set is written as the JSON text that encodes it: ``"`` and ``\\`` as their
escapes, control characters left out.

The grammar accepts a subset of what the pattern matches, never more:

* JSON Schema matches patterns anywhere in the string (``re.search``); the grammar
  matches the whole string, which is one of those matches.
* ``\\d``, ``\\w`` and ``\\s`` are their ASCII members (digits, letters, ``_``, the
  space); their negations and negated classes that contain them range over
  printable ASCII.

Lookarounds, back-references, word boundaries and inline flags cannot be written
as a grammar: :class:`UnsupportedPattern` is raised, and the caller falls back to
a plain string that is checked against the schema after decoding.
"""

from __future__ import annotations

from typing import Any

__all__ = ["UnsupportedPattern", "pattern_rule"]

_MAX_CODE = 0x10FFFF
#: Characters a JSON string may hold unescaped (the space up; not ``"``, ``\\``, DEL or
#: surrogates).
_JSON_RAW = [(0x20, 0x21), (0x23, 0x5B), (0x5D, 0x7E), (0x80, 0xD7FF), (0xE000, _MAX_CODE)]
_PRINTABLE_ASCII = [(0x20, 0x7E)]
_DIGIT = [(0x30, 0x39)]
_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_SPACE = [(0x09, 0x0D), (0x20, 0x20)]


class UnsupportedPattern(ValueError):
    """A regular-expression feature a grammar cannot express."""


Ranges = list[tuple[int, int]]


def _normal(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _intersect(a: Ranges, b: Ranges) -> Ranges:
    out = [(max(x0, y0), min(x1, y1)) for x0, x1 in a for y0, y1 in b]
    return _normal([(lo, hi) for lo, hi in out if lo <= hi])


def _complement(ranges: Ranges, universe: Ranges) -> Ranges:
    out: Ranges = []
    for lo, hi in universe:
        start = lo
        for x0, x1 in _normal(ranges):
            if x1 < start or x0 > hi:
                continue
            if x0 > start:
                out.append((start, x0 - 1))
            start = max(start, x1 + 1)
        if start <= hi:
            out.append((start, hi))
    return out


def _char(code: int) -> str:
    c = chr(code)
    if c.isascii() and c.isalnum():
        return c
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def _set_rule(ranges: Ranges) -> str:
    """The JSON text of one character from ``ranges`` (escaped where JSON wants it)."""
    ranges = _normal(ranges)
    alts = []
    raw = _intersect(ranges, _JSON_RAW)
    if raw:
        body = "".join(_char(lo) if lo == hi else f"{_char(lo)}-{_char(hi)}" for lo, hi in raw)
        alts.append(f"[{body}]")
    if _intersect(ranges, [(0x22, 0x22)]):
        alts.append(r'"\\\""')
    if _intersect(ranges, [(0x5C, 0x5C)]):
        alts.append(r'"\\\\"')
    if not alts:
        raise UnsupportedPattern("a character set with no character JSON can hold unescaped")
    return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"


def _category(cat: Any, consts: Any) -> tuple[Ranges, bool]:
    """(ranges, negated) of a ``\\d``-style category."""
    table = {consts.CATEGORY_DIGIT: (_DIGIT, False), consts.CATEGORY_NOT_DIGIT: (_DIGIT, True),
             consts.CATEGORY_WORD: (_WORD, False), consts.CATEGORY_NOT_WORD: (_WORD, True),
             consts.CATEGORY_SPACE: (_SPACE, False), consts.CATEGORY_NOT_SPACE: (_SPACE, True)}
    if cat not in table:
        raise UnsupportedPattern(f"the category {cat}")
    return table[cat]


def _in_set(items: list[tuple[Any, Any]], consts: Any) -> Ranges:
    """The characters of a ``[...]`` class."""
    negate = False
    ranges: Ranges = []
    has_category = False
    for op, arg in items:
        if op is consts.NEGATE:
            negate = True
        elif op is consts.LITERAL:
            ranges.append((arg, arg))
        elif op is consts.RANGE:
            ranges.append(arg)
        elif op is consts.CATEGORY:
            has_category = True
            cat, negated = _category(arg, consts)
            ranges.extend(_complement(cat, _PRINTABLE_ASCII) if negated else cat)
        else:
            raise UnsupportedPattern(f"{op} inside a character class")
    if not negate:
        return ranges
    # Python's \d and \w are Unicode-wide; over ASCII their complement stays sound.
    universe = _PRINTABLE_ASCII if has_category else [(0, _MAX_CODE)]
    return _complement(ranges, universe)


class _Writer:
    def __init__(self, consts: Any) -> None:
        self.c = consts

    def seq(self, items: Any, top: bool = False) -> str:
        items = list(items)
        if top:  # anchors at the ends of the whole pattern only
            while items and items[0][0] is self.c.AT and items[0][1] in (
                    self.c.AT_BEGINNING, self.c.AT_BEGINNING_STRING):
                items.pop(0)
            while items and items[-1][0] is self.c.AT and items[-1][1] in (
                    self.c.AT_END, self.c.AT_END_STRING):
                items.pop()
        parts = [self.node(op, arg) for op, arg in items]
        if not parts:
            return '""'
        return parts[0] if len(parts) == 1 else "(" + " ".join(parts) + ")"

    def node(self, op: Any, arg: Any) -> str:
        c = self.c
        if op is c.LITERAL:
            return _set_rule([(arg, arg)])
        if op is c.NOT_LITERAL:
            return _set_rule(_complement([(arg, arg)], [(0, _MAX_CODE)]))
        if op is c.ANY:
            return _set_rule(_complement([(0x0A, 0x0A)], [(0, _MAX_CODE)]))
        if op is c.IN:
            return _set_rule(_in_set(arg, c))
        if op is c.BRANCH:
            return "(" + " | ".join(self.seq(alt) for alt in arg[1]) + ")"
        if op is c.SUBPATTERN:
            _group, add_flags, del_flags, body = arg
            if add_flags or del_flags:
                raise UnsupportedPattern("inline flags")
            return self.seq(body)
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            low, high, body = arg
            inner = self.seq(body)
            if high == c.MAXREPEAT:
                return f"{inner}{{{low},}}" if low > 1 else f"{inner}{'+' if low else '*'}"
            if (low, high) == (0, 1):
                return f"{inner}?"
            return f"{inner}{{{low}}}" if low == high else f"{inner}{{{low},{high}}}"
        raise UnsupportedPattern(f"the regular-expression feature {op}")


def pattern_rule(pattern: str) -> str:
    """GBNF for a JSON string (quotes included) whose text matches ``pattern`` whole.

    Raises:
        UnsupportedPattern: the pattern uses something a grammar cannot express, or
            Python cannot parse it.
    """
    try:
        import re._constants as consts
        import re._parser as parser
    except ImportError:  # Python 3.10
        import sre_constants as consts  # type: ignore[no-redef]
        import sre_parse as parser  # type: ignore[no-redef]
    try:
        parsed = parser.parse(pattern)
    except Exception as exc:  # re.error, RecursionError on absurd nesting
        raise UnsupportedPattern(f"Python cannot parse it ({exc})") from exc
    flags = parsed.state.flags & ~(consts.SRE_FLAG_UNICODE)
    if flags:
        raise UnsupportedPattern("flags such as (?i)")
    body = _Writer(consts).seq(parsed, top=True)
    return f'"\\"" {body} "\\"" space'
