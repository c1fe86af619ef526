"""The business rules every write passes (see :data:`graph.write.Guard`).

Each feature keeps its rules in its own module and lists them here; :meth:`Runtime.open` hands
them to the one write path, so a capture, a GraphQL mutation, an EPCIS event or a signal all
meet the same rules.
"""

from __future__ import annotations

from graph.write import Guard
from quality.holds import held_material_guard

__all__ = ["default_guards"]


def default_guards() -> list[Guard]:
    return [held_material_guard]
