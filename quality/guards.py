"""The business rules every write passes (see :data:`graph.write.Guard`), registered here.

Each feature keeps its rules in its own module of :mod:`quality` and lists them in
:func:`default_guards`; the composition root (``Runtime.open`` in the ``tracegraph`` package,
two layers up) hands them to the one write path, so a capture, a GraphQL mutation, an EPCIS
event or a signal all meet the same rules.
"""

from __future__ import annotations

from graph.write import Guard
from quality.closed_batch import closed_batch_rules
from quality.deviation_guard import capa_closure, deviation_lifecycle
from quality.documents import document_lifecycle
from quality.environment import room_limit_rules
from quality.holds import held_material_guard
from quality.inspection_rules import inspection_rules
from quality.material_rules import consumption_rules
from quality.record_rules import derivation_rules, gs1_identifiers
from quality.route_rules import equipment_class_rules, route_rules, variant_forms
from quality.shipping_rules import shipping_rules
from quality.spec_guards import spec_units
from quality.supplier_rules import receipt_rules
from quality.version_guards import version_guards

__all__ = ["default_guards"]


def default_guards() -> list[Guard]:
    """Every write guard, in the order the write path runs them."""
    return [*version_guards(), deviation_lifecycle, capa_closure, held_material_guard,
            spec_units, gs1_identifiers, derivation_rules, closed_batch_rules, consumption_rules,
            shipping_rules, inspection_rules,
            # execution and route rules (issue 14)
            variant_forms, equipment_class_rules, route_rules,
            # room limits (issue 17 item 1)
            room_limit_rules,
            # document control (issue 18 item 1)
            document_lifecycle,
            # approved supplier list at receipt (issue 18 item 2)
            receipt_rules]
