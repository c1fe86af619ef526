"""HTTP route for how the explorer writes times and units (issue 15 item 4):
``GET /api/formatting`` answers the plant's time zone (``TRACEGRAPH_PLANT_TIMEZONE``) and the unit
codes with the way people write them (:func:`ontology.units.display_table`, the one table; the
spec units of the plant composed by the same rule). Open, like ``/health``: it shows no record,
and the page needs it before sign-in (``api/explorer/js/format.js`` loads it once).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import RuntimeDep
from ontology.terms import C, P
from ontology.units import display_table

__all__ = ["router"]

router = APIRouter()


@router.get("/api/formatting")
def formatting(rt: RuntimeDep) -> dict[str, Any]:
    specs = {str(u) for s in rt.store.nodes_of_class(C.ParameterSpec)
             if isinstance(u := s.props.get(P.unitCode), str) and u}
    return {"plantTimeZone": rt.settings.plant_timezone, "units": display_table(sorted(specs))}
