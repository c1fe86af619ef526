"""GraphQL ``parameterSpecs``: the parameter specs to pick from on the explorer's SPC page
(issue 15 item 7), each with its limits, unit (as stored and as people write it), subgroup
rule, and how much data it has: observations (one per execution) and the samples they
summarise (the sum of their ``tg:sampleCount``)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.types import runtime_of
from graph.model import Direction
from ontology.terms import C, P, R
from ontology.units import display_unit
from quality.detection import SpecLimits

__all__ = ["ParameterSpecRow", "Query"]


@strawberry.type
class ParameterSpecRow:
    key: str
    name: str | None
    operation: str | None
    unit: str | None
    unit_shown: str | None = strawberry.field(description="The unit as people write it (°C, "
                                                          "%RH, particles/m³).")
    lsl: float | None
    usl: float | None
    subgroup_size: int | None = strawberry.field(description="Samples per subgroup (null: one "
                                                             "subgroup per execution).")
    observations: int = strawberry.field(description="Parameter observations (one per "
                                                     "execution).")
    samples: int = strawberry.field(description="Samples the observations summarise.")


def shown_unit(unit: str | None, parameter: str | None = None) -> str | None:
    """``display_unit``, with relative humidity written %RH."""
    if unit is None:
        return None
    text = display_unit(unit)
    return f"{text}RH" if text == "%" and parameter and parameter.upper().endswith("RH") \
        else text


@strawberry.type
class Query:
    @strawberry.field(description="Every parameter spec with its limits, subgroup size and the "
                                  "count of its observations and samples, by key.")
    def parameter_specs(self, info: Info[Any, None]) -> list[ParameterSpecRow]:
        store = runtime_of(info).store
        specs = {s.iri: s for s in store.nodes_of_class(C.ParameterSpec)}
        obs_links = store.links(list(specs), [R.OBSERVES], Direction.DOWNSTREAM)
        obs = store.get_many({e.src for e in obs_links})
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for e in obs_links:
            o = obs.get(e.src)
            if o is not None:
                counts[e.dst][0] += 1
                n = o.props.get(P.sampleCount)
                counts[e.dst][1] += n if isinstance(n, int) else 0
        ops = {e.src: e.dst for e in store.links(list(specs), [R.SPEC_OF])}
        op_nodes = store.get_many(set(ops.values()))
        rows = []
        for iri, s in specs.items():
            lim = SpecLimits.of(s.props)
            unit = s.props.get(P.unitCode)
            op = op_nodes.get(ops.get(iri, ""))
            rows.append(ParameterSpecRow(
                key=s.key, name=_opt(s.props.get(P.name)), operation=op.key if op else None,
                unit=_opt(unit), unit_shown=shown_unit(_opt(unit), s.key),
                lsl=lim.lsl, usl=lim.usl, subgroup_size=lim.subgroup_size or None,
                observations=counts[iri][0], samples=counts[iri][1]))
        return sorted(rows, key=lambda r: r.key)


def _opt(v: object) -> str | None:
    return None if v is None else str(v)
