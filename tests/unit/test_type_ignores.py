"""Every ``# type: ignore`` in our packages and tests names its error code and says why::

    value = float(q)  # type: ignore[arg-type]  # q is a stored xsd:decimal

mypy (``enable_error_code = ["ignore-without-code"]``, ``warn_unused_ignores``) rejects an
ignore without a code and one that suppresses nothing; this test adds the reason. Comments are
found with :mod:`tokenize`, so the phrase inside a string does not count.
"""

from __future__ import annotations

import io
import re
import tokenize
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IGNORE = re.compile(r"#\s*type:\s*ignore\b")
#: ``# type: ignore[code, code]  # reason`` — the reason is a comment of its own after the codes.
WELL_FORMED = re.compile(r"#\s*type:\s*ignore\[[a-z-]+(?:,\s*[a-z-]+)*\]\s+#\s*\S")


def sources() -> list[Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages: list[str] = config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return sorted(p for d in [*packages, "tests"] for p in (ROOT / d).rglob("*.py"))


def ignores(path: Path) -> list[tuple[int, str]]:
    with io.StringIO(path.read_text(encoding="utf-8")) as f:
        return [(tok.start[0], tok.string) for tok in tokenize.generate_tokens(f.readline)
                if tok.type == tokenize.COMMENT and IGNORE.search(tok.string)]


def test_the_pattern() -> None:
    assert WELL_FORMED.search("# type: ignore[arg-type]  # q is numeric")
    assert WELL_FORMED.search("# type: ignore[method-assign,assignment]  # wraps the callback")
    assert not WELL_FORMED.search("# type: ignore")
    assert not WELL_FORMED.search("# type: ignore[arg-type]")
    assert not WELL_FORMED.search("# type: ignore  # no code")


def test_every_type_ignore_names_its_code_and_reason() -> None:
    bad = [f"{path.relative_to(ROOT)}:{line}: {text}"
           for path in sources() for line, text in ignores(path)
           if not WELL_FORMED.search(text)]
    assert not bad, "write `# type: ignore[code]  # why`:\n" + "\n".join(bad)
