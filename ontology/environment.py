"""Environment parameters and their default limits per cleanroom class, read from
``ontology/tracegraph.ttl`` (the single source of truth; issue 17 item 1):

- each ``tg:EnvironmentParameterScheme`` concept has its unit (``tg:environmentUnit``);
- each ``tg:CleanroomClassScheme`` concept lists, per parameter, its default limits
  (``tg:environmentDefault "<parameter> <LSL> <action low> <alert low> <alert high> <action high>
  <USL>"``, ``-`` for none): ISO 14644-1:2015 particle concentrations and the plant's
  temperature, humidity and pressure-differential defaults.

>>> DEFAULTS["ISO 7"]["PC05"].usl
352000.0
>>> UNITS["PC5"]
'{particles}/m3'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from rdflib import Graph, Namespace
from rdflib.namespace import SKOS

from ontology.codes import CleanroomClass, EnvironmentParameter
from ontology.terms import P
from ontology.vocab import ONTOLOGY_PATH

__all__ = ["DEFAULTS", "PARTICLES", "UNITS", "EnvLimits", "room_spec_key"]

TG = Namespace("https://w3id.org/tracegraph#")
#: the particle-count parameters (counts per m³: never negative)
PARTICLES = frozenset({EnvironmentParameter.PC05, EnvironmentParameter.PC5})
_FIELDS = (P.lsl, P.actionLow, P.alertLow, P.alertHigh, P.actionHigh, P.usl)


@dataclass(frozen=True)
class EnvLimits:
    """Default limits of one environment parameter for one cleanroom class."""

    lsl: float | None
    action_low: float | None
    alert_low: float | None
    alert_high: float | None
    action_high: float | None
    usl: float | None

    def props(self) -> dict[str, float]:
        """As parameter-spec properties (absent limits left out)."""
        vals = (self.lsl, self.action_low, self.alert_low, self.alert_high, self.action_high,
                self.usl)
        return {str(k): v for k, v in zip(_FIELDS, vals, strict=True) if v is not None}


def room_spec_key(room: str, parameter: str) -> str:
    """The business key of a room's limit spec of one parameter."""
    return f"{room}/{parameter}"


@cache
def _graph() -> Graph:
    return Graph().parse(ONTOLOGY_PATH, format="turtle")


def _read() -> tuple[Mapping[str, str], Mapping[str, Mapping[str, EnvLimits]]]:
    g = _graph()
    units = {str(g.value(c, SKOS.notation)): str(u)
             for c, u in g.subject_objects(TG.environmentUnit)}
    defaults: dict[str, dict[str, EnvLimits]] = {}
    for c, text in g.subject_objects(TG.environmentDefault):
        cls = str(g.value(c, SKOS.notation))
        param, *vals = str(text).split()
        if param not in units or len(vals) != 6:
            raise ValueError(f"tg:environmentDefault {text!r} on {cls}: "
                             "'<parameter> <6 limits or ->' of a known parameter")
        nums = [None if v == "-" else float(v) for v in vals]
        defaults.setdefault(cls, {})[param] = EnvLimits(*nums)
    assert set(units) == {p.value for p in EnvironmentParameter}, units
    assert set(defaults) <= {c.value for c in CleanroomClass}, defaults
    return (MappingProxyType(units),
            MappingProxyType({k: MappingProxyType(v) for k, v in defaults.items()}))


#: the unit of each environment parameter (samples and limits in any other unit are refused)
UNITS: Mapping[str, str]
#: default limits per cleanroom class (``tg:cleanroomClass`` value) and parameter
DEFAULTS: Mapping[str, Mapping[str, EnvLimits]]
UNITS, DEFAULTS = _read()
