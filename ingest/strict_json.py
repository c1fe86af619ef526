"""Strict JSON for untrusted input: what a parser would accept but the system must not.

:func:`check` refuses, naming the problem and where it is: bytes that are not UTF-8, syntax
errors, ``NaN``/``Infinity``, nesting deeper than a limit, lone UTF-16 surrogates (``"\\ud800"``,
which no store can encode), integers outside the signed 64-bit range and numbers too large for a
double. A document that passes decodes the same with any conforming parser.

>>> check(b'{"a": [1, 2.5, "x\\\\ud83d\\\\ude00"]}')
{'a': [1, 2.5, 'x😀']}
>>> check(b'{"a": {"b": "\\\\ud800"}}')
Traceback (most recent call last):
...
ingest.strict_json.JSONInputError: $.a.b: a lone UTF-16 surrogate (U+D800) is not text [json-text]
>>> check(b'[[[1]]]', max_depth=2)
Traceback (most recent call last):
...
ingest.strict_json.JSONInputError: $[0][0]: nested deeper than 2 levels [json-depth]
>>> try:
...     check(b'{"n": 1' + b'0' * 400 + b'}')
... except JSONInputError as e:
...     print(e.path, e.rule, e.message[:31])
$.n json-integer integer 1000000000000000000000…
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["INT64", "JSONInputError", "check", "clip"]

INT64 = (-(2**63), 2**63 - 1)
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_DIGITS = 4000  # Python refuses to read longer integers (sys.int_info.default_max_str_digits)


class JSONInputError(ValueError):
    """A request body or document that is not acceptable JSON: ``path`` (JSONPath of the
    value, ``$`` for the whole document), ``rule`` (``json-utf8``, ``json-syntax``,
    ``json-depth``, ``json-text``, ``json-integer``, ``json-number``) and a message."""

    def __init__(self, path: str, rule: str, message: str) -> None:
        super().__init__(f"{path}: {message} [{rule}]")
        self.path, self.rule, self.message = path, rule, message


def clip(text: str, limit: int = 24) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was.

    >>> clip("x" * 30, 5)
    'xxxxx… (30 characters)'
    """
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _int(text: str) -> int:
    if len(text) > _DIGITS:
        raise JSONInputError("$", "json-integer", f"an integer of {len(text)} digits is outside "
                             "the signed 64-bit range")
    return int(text)


def _constant(text: str) -> Any:
    raise JSONInputError("$", "json-syntax", f"{text} is not a JSON value")


def check(data: bytes | str, max_depth: int = 64) -> Any:
    """The decoded document, if ``data`` is strict JSON nested at most ``max_depth`` levels;
    else :class:`JSONInputError` naming the first problem and its path."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise JSONInputError("$", "json-utf8", f"byte {e.start} (0x{e.object[e.start]:02x})"
                                 " is not valid UTF-8") from None
    try:
        doc = json.loads(data, parse_int=_int, parse_constant=_constant)
    except RecursionError:
        raise JSONInputError("$", "json-depth", f"nested deeper than {max_depth} levels"
                             ) from None
    except json.JSONDecodeError as e:
        raise JSONInputError("$", "json-syntax", f"not JSON: {e.msg} at line {e.lineno} "
                             f"column {e.colno}") from None
    lone = _ESCAPED_SURROGATE.search(data) is not None  # else no string can hold one
    if not _clean(doc, max_depth, lone):  # fast pass; on a problem, find and name it
        _walk(doc, max_depth)
    return doc


def _clean(doc: Any, max_depth: int, lone: bool) -> bool:
    """Whether ``doc`` has none of the problems :func:`_walk` names (no paths kept)."""
    lo, hi = INT64
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        t = type(value)
        if t is dict or t is list:
            if depth >= max_depth:
                return False
            items = value.values() if t is dict else value
            if lone and t is dict and any(_SURROGATE.search(k) for k in value):
                return False
            for v in items:
                tv = type(v)
                if tv is dict or tv is list:
                    stack.append((v, depth + 1))
                elif tv is int:
                    if not lo <= v <= hi:
                        return False
                elif tv is float:
                    if not math.isfinite(v):
                        return False
                elif tv is str and lone and _SURROGATE.search(v):
                    return False
        elif not _clean([value], max_depth + 1, lone):
            return False
    return True




def _walk(doc: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int, str]] = [(doc, 0, "$")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, (dict, list)):
            if depth >= max_depth:
                raise JSONInputError(path, "json-depth", f"nested deeper than {max_depth} levels")
            items = (value.items() if isinstance(value, dict) else enumerate(value))
            for k, v in items:
                if isinstance(k, str):
                    _text(k, f"{path} (a key)")
                    stack.append((v, depth + 1, f"{path}.{clip(k)}"))
                else:
                    stack.append((v, depth + 1, f"{path}[{k}]"))
        elif isinstance(value, str):
            _text(value, path)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
            digits = str(abs(value))
            shown = str(value) if len(digits) <= 24 else f"{digits[:22]}… ({len(digits)} digits)"
            raise JSONInputError(path, "json-integer",
                                 f"integer {shown} is outside the signed 64-bit range")
        elif isinstance(value, float) and not math.isfinite(value):
            raise JSONInputError(path, "json-number", "a number too large for a double")


def _text(s: str, path: str) -> None:
    m = _SURROGATE.search(s)
    if m is not None:
        raise JSONInputError(path, "json-text", f"a lone UTF-16 surrogate "
                             f"(U+{ord(m.group()):04X}) is not text")
