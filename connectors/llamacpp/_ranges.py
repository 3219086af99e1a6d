"""GBNF for JSON numbers within bounds (``minimum``, ``maximum``, ``exclusive*``).

llama-cpp-python's schema converter leaves bounds out (its own source says so), so a
model asked for a ``limit`` of at most 50 could write 500 under a "constrained"
call. A bound on a decimal numeral is a comparison digit by digit, which a grammar
can state exactly: ``0 <= x <= 400`` is ``[0-9] | [1-9] [0-9] | [1-3] [0-9] [0-9] |
"400"``. The same digit-by-digit comparison handles fractions (``0.5 < x <= 1``),
so every bound is enforced exactly; only numbers with more than 16 integer digits or
15 fraction digits, and exponents, are left out of a bounded number (a subset of the
valid values, never more).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["integer_rule", "number_rule"]

#: Most integer digits and fraction digits a bounded number may have (as the
#: converter's own number rule).
INT_DIGITS = 16
FRAC_DIGITS = 15


def _lit(text: str) -> str:
    return f'"{text}"'


def _alts(parts: list[str]) -> str | None:
    parts = [p for p in parts if p]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"


def _same_length(lo: str, hi: str) -> str:
    """Digit strings of one length from ``lo`` to ``hi`` (leading zeros allowed)."""
    if lo == hi:
        return _lit(lo)
    if len(lo) == 1:
        return f"[{lo}-{hi}]"
    rest = len(lo) - 1
    if lo[0] == hi[0]:
        return f"{_lit(lo[0])} {_same_length(lo[1:], hi[1:])}"
    parts = []
    first, last = int(lo[0]), int(hi[0])
    if lo[1:] != "0" * rest:
        parts.append(f"{_lit(lo[0])} {_same_length(lo[1:], '9' * rest)}")
        first += 1
    tail = None
    if hi[1:] != "9" * rest:
        tail = f"{_lit(hi[0])} {_same_length('0' * rest, hi[1:])}"
        last -= 1
    if first <= last:
        digits = str(first) if first == last else f"{first}-{last}"
        parts.append(f"[{digits}] [0-9]{{{rest}}}")
    if tail:
        parts.append(tail)
    return _alts(parts) or '""'


def uint_range(lo: int, hi: int | None) -> str | None:
    """Decimal numerals without leading zeros for ``lo <= n <= hi`` (``hi`` None: no cap)."""
    if hi is not None and lo > hi:
        return None
    top = hi if hi is not None else 10 ** INT_DIGITS - 1
    parts = []
    for n in range(len(str(lo)), len(str(top)) + 1):
        a = lo if n == len(str(lo)) else 10 ** (n - 1)
        b = top if n == len(str(top)) else 10 ** n - 1
        if hi is None and a == 10 ** (n - 1) and n > 1:  # every longer numeral
            parts.append(f"[1-9] [0-9]{{{n - 1},{INT_DIGITS - 1}}}")
            break
        parts.append(_same_length(str(a), str(b)))
    return _alts(parts)


def _signed(pos: str | None, neg: str | None) -> str | None:
    return _alts([pos or "", f'"-" {neg}' if neg else ""])


def integer_rule(schema: dict[str, Any]) -> str | None:
    """GBNF for the integers ``schema``'s bounds allow, or None when none does."""
    lo, hi = _bounds(schema)
    ilo = None if lo is None else int(_ceil(lo[0]) + (1 if lo[1] and lo[0] == _ceil(lo[0])
                                                      else 0))
    ihi = None if hi is None else int(_floor(hi[0]) - (1 if hi[1] and hi[0] == _floor(hi[0])
                                                       else 0))
    if ilo is not None and ihi is not None and ilo > ihi:
        return None
    pos = None if ihi is not None and ihi < 0 else uint_range(max(ilo or 0, 0), ihi)
    neg = None
    if ilo is None or ilo < 0:
        neg = uint_range(max(1, -ihi if ihi is not None and ihi < 0 else 1),
                         None if ilo is None else -ilo)
    return _signed(pos, neg)


def _ceil(d: Decimal) -> Decimal:
    return d.to_integral_value(rounding="ROUND_CEILING")


def _floor(d: Decimal) -> Decimal:
    return d.to_integral_value(rounding="ROUND_FLOOR")


Bound = tuple[Decimal, bool]  # value, exclusive


def _bounds(schema: dict[str, Any]) -> tuple[Bound | None, Bound | None]:
    """The tightest lower and upper bounds (draft-4 boolean ``exclusive*`` too)."""
    def num(v: Any) -> Decimal | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        return Decimal(str(v))

    lows: list[Bound] = []
    highs: list[Bound] = []
    lo, hi = num(schema.get("minimum")), num(schema.get("maximum"))
    ex_lo, ex_hi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if lo is not None:
        lows.append((lo, ex_lo is True))
    if hi is not None:
        highs.append((hi, ex_hi is True))
    if num(ex_lo) is not None:
        lows.append((num(ex_lo), True))  # type: ignore[arg-type]
    if num(ex_hi) is not None:
        highs.append((num(ex_hi), True))  # type: ignore[arg-type]
    low = max(lows, key=lambda b: (b[0], b[1])) if lows else None
    high = min(highs, key=lambda b: (b[0], not b[1])) if highs else None
    return low, high


def has_bounds(schema: dict[str, Any]) -> bool:
    lo, hi = _bounds(schema)
    return lo is not None or hi is not None


# -- fractions ----------------------------------------------------------------------------

#: A digit string compared with a bound's fraction digits: (digits, exclusive) or None
#: when that side no longer constrains.
Side = tuple[str, bool] | None


def _digits(low: Side, high: Side, budget: int) -> tuple[bool, list[str]]:
    """Digit strings D (value 0.D) within the bounds: (empty allowed, non-empty alternatives).

    ``low = (s, excl)`` asks ``0.D >= 0.s`` (``>`` when excl); ``high`` asks ``<=``/``<``.
    """
    if low == ("", False):  # ">= 0" says nothing
        low = None
    empty_ok = ((low is None or (low[0] == "" and not low[1]))
                and (high is None or not high[1] or high[0] != ""))
    if budget <= 0:
        return empty_ok, []
    if low is None and high is None:
        return True, [f"[0-9]{{1,{budget}}}"]
    if low is None and high == ("", False):  # zero only
        return True, [f'"0"{{1,{budget}}}']
    if low == ("", True) and high is None:  # anything but zero
        return False, [f'"0"{{0,{budget - 1}}} [1-9] [0-9]{{0,{budget - 1}}}']
    if high == ("", True):  # below zero: nothing
        return False, []
    groups: dict[tuple[Side, Side], list[int]] = {}
    for d in range(10):
        new_low: Side = None
        if low is not None:
            l0 = int(low[0][0]) if low[0] else 0
            if d < l0:
                continue
            if d == l0:
                new_low = (low[0][1:], low[1])
        new_high: Side = None
        if high is not None:
            h0 = int(high[0][0]) if high[0] else 0
            if d > h0:
                continue
            if d == h0:
                new_high = (high[0][1:], high[1])
        groups.setdefault((new_low, new_high), []).append(d)
    alts = []
    for (nl, nh), ds in groups.items():
        rest_empty, rest = _digits(nl, nh, budget - 1)
        tail = _alts(rest)
        if tail is None and not rest_empty:
            continue
        dset = f"[{ds[0]}]" if len(ds) == 1 else f"[{ds[0]}-{ds[-1]}]"
        if tail is None:
            alts.append(dset)
        else:
            alts.append(f"{dset} ({tail})?" if rest_empty else f"{dset} {tail}")
    return empty_ok, alts


def _fraction(low: Side, high: Side) -> str | None:
    """The optional ``.digits`` part for fractions within the bounds; None if none fits."""
    empty_ok, alts = _digits(low, high, FRAC_DIGITS)
    body = _alts(alts)
    if body is None:
        return '""' if empty_ok else None
    return f'("." {body}){"?" if empty_ok else ""}'


def _split(value: Decimal) -> tuple[int, str]:
    text = format(abs(value), "f")
    whole, _, frac = text.partition(".")
    return int(whole), frac.rstrip("0")


def _magnitude(low: Bound | None, high: Bound | None) -> str | None:
    """Unsigned decimals ``I(.F)?`` between a lower bound (>= 0) and an upper bound."""
    li, lf = _split(low[0]) if low else (0, "")
    lex = low[1] if low else False
    if high is None:
        parts = [_edge(li, (lf, lex), None), _whole(uint_range(li + 1, None))]
        return _alts([p for p in parts if p])
    hi_, hf = _split(high[0])
    hex_ = high[1]
    if li == hi_:
        return _edge(li, (lf, lex), (hf, hex_))
    parts = [_edge(li, (lf, lex), None), _whole(uint_range(li + 1, hi_ - 1)),
             _edge(hi_, None, (hf, hex_))]
    return _alts([p for p in parts if p])


def _whole(ints: str | None) -> str | None:
    """Integers with any fraction."""
    return None if ints is None else f'{ints} ("." [0-9]{{1,{FRAC_DIGITS}}})?'


def _edge(whole: int, low: Side, high: Side) -> str | None:
    frac = _fraction(low, high)
    if frac is None:
        return None
    return _lit(str(whole)) if frac == '""' else f"{_lit(str(whole))} {frac}"


def number_rule(schema: dict[str, Any]) -> str | None:
    """GBNF for the JSON numbers ``schema``'s bounds allow, or None when none does."""
    lo, hi = _bounds(schema)
    if lo is not None and hi is not None and (lo[0] > hi[0] or (
            lo[0] == hi[0] and (lo[1] or hi[1]))):
        return None
    pos = None
    if hi is None or hi[0] >= 0:
        pos_low = lo if lo is not None and lo[0] >= 0 else None
        pos_high = hi if hi is None or not (hi[0] == 0 and hi[1]) else None
        pos = None if hi is not None and hi[0] == 0 and hi[1] else _magnitude(pos_low, pos_high)
    neg = None
    if lo is None or lo[0] < 0:
        # -x within bounds <=> x between -hi (or just above 0) and -lo.
        n_low: Bound = (-hi[0], hi[1]) if hi is not None and hi[0] < 0 else (Decimal(0), True)
        n_high = (-lo[0], lo[1]) if lo is not None else None
        neg = _magnitude(n_low, n_high)
    return _signed(pos, neg)
