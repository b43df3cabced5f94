"""JSON from places that cannot be trusted (a socket any client writes to, a file the user names), parsed so that
no nesting can exhaust the stack: too deep is a ValueError, never a RecursionError."""

from __future__ import annotations

import json
from typing import Any

from kizunasr_vs.core.errors import KizunaError


class TooDeep(KizunaError, ValueError):
    """JSON nested deeper than the reader accepts."""


def nesting_depth(value: Any, limit: int) -> int:
    """How deep arrays and objects nest in a parsed JSON ``value``, counted without recursion; the count stops
    soon after ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def loads(text: str | bytes, max_depth: int) -> Any:
    """``json.loads``, with TooDeep for arrays and objects nested more than ``max_depth`` levels (json.JSONDecodeError,
    also a ValueError, for broken JSON)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(f"nested deeper than {max_depth} levels of arrays and objects") from None
    if nesting_depth(value, max_depth) > max_depth:
        raise TooDeep(f"nested deeper than {max_depth} levels of arrays and objects")
    return value
