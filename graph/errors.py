"""Errors a user can cause on the write path: each names the input and the rule it broke."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

__all__ = ["EventConflictError", "Problem", "RefusedError", "WriteRejectedError"]


def _shown(value: Any) -> Any:
    """A value as messages show it: a code (a member of an ``ontology.codes`` enum) as the
    string the stores hold."""
    return value.value if isinstance(value, Enum) else value


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (event, focus node, field), what value, which rule."""

    rule: str
    message: str
    field: str = ""
    value: Any = None
    focus: str | None = None
    event_id: str | None = None
    severity: str = "Violation"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = " ".join(x for x in (self.event_id and f"event {self.event_id}",
                                     self.focus and f"node {self.focus}",
                                     self.field and f"field {self.field}") if x)
        return f"{where}: {self.message} [{self.rule}] (value: {_shown(self.value)!r})"


class WriteRejectedError(ValueError):
    """The write was refused; nothing was written. ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n  ".join(str(p) for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"write rejected, {len(problems)} problem(s):\n  {lines}{more}")


class EventConflictError(WriteRejectedError):
    """An event id was re-used for different content."""


class RefusedError(Exception):
    """A workflow refused an operation: ``code`` is stable for APIs and the message names the
    field, the value and the rule."""

    def __init__(self, code: str, message: str, field: str, value: Any = None) -> None:
        super().__init__(f"{field} {_shown(value)!r}: {message} [{code}]")
        self.code = code
        self.field = field
        self.value = value

    def problem(self) -> Problem:
        """The refusal as a structured :class:`Problem`."""
        return Problem(rule=self.code, message=str(self), field=self.field, value=self.value)
