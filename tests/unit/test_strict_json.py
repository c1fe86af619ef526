"""Strict JSON for untrusted bodies: what is refused (and where), what passes unchanged."""

from __future__ import annotations

import doctest
import json

import pytest

from api import bodies
from ingest import strict_json
from ingest.strict_json import INT64, JSONInputError, check


@pytest.mark.parametrize(("data", "path", "rule"), [
    (b'{"a": "\xc3"}', "$", "json-utf8"),
    (b'{"a": 1,}', "$", "json-syntax"),
    (b'[NaN]', "$", "json-syntax"),
    (b'[Infinity]', "$", "json-syntax"),
    (b'{"a": [1, {"b": [[[]]]}]}', "$.a[1].b[0]", "json-depth"),
    (b'{"k": {"\\udfff": 1}}', "$.k (a key)", "json-text"),
    (b'{"a": ["ok", "\\ud800x"]}', "$.a[1]", "json-text"),
    (json.dumps({"n": INT64[1] + 1}).encode(), "$.n", "json-integer"),
    (json.dumps({"n": INT64[0] - 1}).encode(), "$.n", "json-integer"),
    (b'{"n": 1' + b"0" * 5000 + b"}", "$", "json-integer"),
    (b'{"x": -1e999}', "$.x", "json-number"),
])
def test_refusals_name_the_rule_and_the_path(data: bytes, path: str, rule: str) -> None:
    with pytest.raises(JSONInputError) as e:
        check(data, max_depth=4)
    assert (e.value.path, e.value.rule) == (path, rule)


def test_strict_documents_decode_unchanged() -> None:
    doc = {"s": "x\U0001f600\\ud800", "i": [INT64[0], INT64[1]], "f": 1.5e300, "b": True,
           "n": None, "deep": [[[1]]]}
    assert check(json.dumps(doc).encode(), max_depth=4) == doc


def test_module_doctests_run() -> None:
    for m in (strict_json, bodies):
        assert doctest.testmod(m).failed == 0
