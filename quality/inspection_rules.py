"""Plant rules on inspection results, run by the one write path (see :data:`graph.write.Guard`),
so a capture, an EPCIS event, a GraphQL mutation or a CSV load all meet them; and the release
review's check that every planned characteristic was inspected.

An inspection result's outcome is **computed, not claimed** (:func:`judge`), from

- its values: for a variable characteristic the measured value (one sample) or the sample's
  mean with its extremes ``minValue`` / ``maxValue`` (more than one sample: the mean alone does
  not show that every sample is within the limits), converted from the result's unit to the
  characteristic's; for an attribute characteristic the defect count;
- the characteristic's limits: LSL and USL (every value within, inclusive), or the acceptance
  number Ac (defectives ≤ Ac; 0 when not stated);
- the characteristic's sample size N (1 when not stated): the samples inspected
  (``sampleCount``; one for a single measured value) must be at least N.

It is conforming when every check holds, else nonconforming. A result written (created, changed
or linked) is refused when

- **inspection-outcome**: its claimed ``inspectionOutcome`` contradicts the computed one (a value
  outside the limits, more defectives than Ac, extremes not recorded — or nonconforming although
  every check holds), naming the field, the value and the limits; or it claims none: guards only
  check a pending write (they derive nothing), so the caller states the outcome and the message
  names the computed one;
- **sample-size**: it claims conforming with fewer samples than the characteristic's sample size;
- **unit-convertible**: its unit cannot be expressed in the characteristic's;
- **instrument-calibrated**: the instrument it names (``measuredWith``; the shapes require one)
  is out of calibration at its ``resultTime`` (:func:`graph.fitness.calibration_lapse`, as for
  starting an operation). A late record — taken before the instrument's state last changed —
  is accepted when a passing calibration record was in force at its time
  (:func:`graph.fitness.calibrated_during`); the equipment-window impact then lists it.

:func:`inspection_exceptions` is the release review's part (:mod:`quality.release`): every
characteristic of the inspection plans of the batch's planned operations that no result of the
batch inspected (``inspection-missing``, with its sample size), or inspected with fewer samples
than planned (``inspection-sample-size``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from graph.errors import Problem
from graph.fitness import calibrated_during, calibration_lapse, calibrations_of
from graph.model import Direction, NodeRecord
from graph.port import GraphStore
from graph.write import PendingWrite
from ontology.codes import CharacteristicType, InspectionOutcome
from ontology.terms import C, P, R
from ontology.units import convert
from quality.pending_reads import nodes, targets

__all__ = ["Judgement", "inspection_exceptions", "inspection_rules", "judge", "samples"]

_VALUES = (P.measuredValue, P.minValue, P.maxValue)


@dataclass(frozen=True)
class Finding:
    """One reason a result is not conforming."""

    rule: str
    field: str
    value: object
    text: str


@dataclass
class Judgement:
    """The computed outcome of a result against its characteristic, and why."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        return InspectionOutcome.NONCONFORMING if self.findings else InspectionOutcome.CONFORMING


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def planned_size(char: NodeRecord) -> int:
    n = char.props.get(P.sampleSize)
    return n if isinstance(n, int) and not isinstance(n, bool) else 1


def _variable(char: NodeRecord) -> bool:
    kind = char.props.get(P.characteristicType)
    if kind is not None:
        return kind == CharacteristicType.VARIABLE
    return any(char.props.get(k) is not None for k in (P.lsl, P.usl, P.unitCode))


def samples(result: NodeRecord) -> int:
    """How many samples the result inspected: its ``sampleCount``, else one for a single
    measured value, else none."""
    n = result.props.get(P.sampleCount)
    if isinstance(n, int) and not isinstance(n, bool):
        return n
    return 1 if _num(result.props.get(P.measuredValue)) is not None else 0


def _limits(char: NodeRecord) -> str:
    lo, hi = char.props.get(P.lsl), char.props.get(P.usl)
    unit = char.props.get(P.unitCode) or ""
    return f"[{'-∞' if lo is None else lo}, {'∞' if hi is None else hi}] {unit}".rstrip()


def judge(result: NodeRecord, char: NodeRecord) -> Judgement:
    """The outcome the result's values, the characteristic's limits and its sample size give."""
    out = Judgement()
    n, planned = samples(result), planned_size(char)
    if _variable(char):
        _judge_values(result, char, n, out)
    else:
        d = result.props.get(P.defectCount)
        ac = _num(char.props.get(P.acceptanceNumber)) or 0.0
        defects = _num(d)
        if defects is None:
            out.findings.append(Finding("inspection-outcome", P.defectCount, d,
                                        "it records no defect count"))
        elif defects > ac:
            out.findings.append(Finding(
                "inspection-outcome", P.defectCount, d,
                f"{d} defective(s) in the sample, more than the acceptance number Ac = {ac:g}"))
    if n < planned:
        out.findings.append(Finding(
            "sample-size", P.sampleCount, result.props.get(P.sampleCount),
            f"{n} sample(s) inspected, fewer than the sample size {planned} of characteristic "
            f"{char.key}"))
    return out


def _judge_values(result: NodeRecord, char: NodeRecord, n: int, out: Judgement) -> None:
    given, unit = result.props.get(P.unitCode), char.props.get(P.unitCode)
    lo, hi = _num(char.props.get(P.lsl)), _num(char.props.get(P.usl))
    values = {k: v for k in _VALUES if (v := _num(result.props.get(k))) is not None}
    if not values:
        out.findings.append(Finding("inspection-outcome", P.measuredValue, None,
                                    "it records no measured value"))
        return
    for k, v in values.items():
        try:
            x = convert(v, str(given), str(unit)) if given and unit else v
        except ValueError as exc:
            out.findings.append(Finding("unit-convertible", P.unitCode, given, str(exc)))
            return
        shown = f"{v:g} {given or unit or ''}".rstrip()
        if lo is not None and x < lo:
            out.findings.append(Finding("inspection-outcome", k, v,
                                        f"{k} {shown} is below the LSL {lo:g}"))
        if hi is not None and x > hi:
            out.findings.append(Finding("inspection-outcome", k, v,
                                        f"{k} {shown} is above the USL {hi:g}"))
    if n > 1:
        for k, limit in ((P.minValue, lo), (P.maxValue, hi)):
            if limit is not None and k not in values:
                out.findings.append(Finding(
                    "inspection-outcome", k, None,
                    f"{n} samples were measured but their {k} is not recorded: the mean alone "
                    "does not show every sample within the limits"))


# -- the write guard ------------------------------------------------------------------------
def inspection_rules(p: PendingWrite) -> list[Problem]:
    """Every inspection result written: outcome as computed, instrument calibrated then."""
    linked = {e.src for e in p.new_edges_of([R.FOR_CHARACTERISTIC, R.MEASURED_WITH])}
    cands = nodes(p, linked - set(p.after))
    results = {i: n for i, n in [*p.after.items(), *cands.items()]
               if n.label == C.InspectionResult}
    if not results:
        return []
    char_of = targets(p, results, R.FOR_CHARACTERISTIC)
    instrument_of = targets(p, results, R.MEASURED_WITH)
    chars = nodes(p, {c for cs in char_of.values() for c in cs})
    instruments = nodes(p, {t for ts in instrument_of.values() for t in ts})
    problems: list[Problem] = []
    for iri, res in sorted(results.items()):
        for c in char_of.get(iri, []):
            if c in chars:
                problems += _outcome_problems(res, chars[c])
        at = str(res.props.get(P.resultTime) or p.tx.at)
        for t in instrument_of.get(iri, []):
            if t in instruments:
                problems += _instrument_problems(p, res, instruments[t], at)
    return problems


def _problem(rule: str, res: NodeRecord, field: str, value: object, message: str) -> Problem:
    return Problem(rule=rule, field=field, value=value, focus=res.iri,
                   message=f"inspection result {res.key}: {message}")


def _outcome_problems(res: NodeRecord, char: NodeRecord) -> list[Problem]:
    j = judge(res, char)
    claimed = res.props.get(P.inspectionOutcome)
    spec = (f"characteristic {char.key}: limits {_limits(char)}, sample size "
            f"{planned_size(char)}")
    out = [_problem(f.rule, res, f.field, f.value, f"{f.text} ({spec})")
           for f in j.findings if f.rule == "unit-convertible"]
    if out:
        return out
    if claimed is None:
        why = "; ".join(f.text for f in j.findings) or "every check holds"
        return [_problem("inspection-outcome", res, P.inspectionOutcome, None,
                         f"no outcome stated; its values give {j.outcome} ({why}; {spec}): "
                         "state it")]
    if claimed == InspectionOutcome.CONFORMING:
        return [_problem(f.rule, res, f.field, f.value,
                         f"cannot be conforming: {f.text} ({spec})") for f in j.findings]
    if claimed == InspectionOutcome.NONCONFORMING and not j.findings:
        return [_problem("inspection-outcome", res, P.inspectionOutcome, claimed,
                         f"claimed nonconforming, but its values are within the limits and "
                         f"{samples(res)} sample(s) were inspected ({spec}): it is conforming")]
    return []


def _instrument_problems(p: PendingWrite, res: NodeRecord, eq: NodeRecord,
                         at: str) -> list[Problem]:
    why = calibration_lapse(eq, at)
    if why is None:
        return []
    late = bool(eq.updated_at) and at < eq.updated_at
    if late and calibrated_during(calibrations_of(p.store, [eq.iri]).get(eq.iri, []), at, at):
        return []  # measured while a passing calibration was in force; found out of it later
    return [_problem("instrument-calibrated", res, P.measuredWith, eq.key,
                     f"measured at {at} with {eq.label} {eq.key}: {why}")]


# -- the release review ---------------------------------------------------------------------
def inspection_exceptions(st: GraphStore, batch: str, operations: Iterable[str],
                          results: Mapping[str, NodeRecord]) -> list[Problem]:
    """Every characteristic planned at ``operations`` (the batch's pinned version's operations
    it must run) that none of ``results`` (the batch's inspection results) inspected, or only
    with fewer samples than its sample size."""
    ops = sorted(set(operations))
    plans = sorted({e.src for e in st.links(ops, [R.INSPECTION_PLAN_OF], Direction.DOWNSTREAM)}) \
        if ops else []
    planned = st.get_many(sorted({e.src for e in st.links(plans, [R.CHARACTERISTIC_OF],
                                                          Direction.DOWNSTREAM)})) if plans else {}
    chars = {i: n for i, n in planned.items() if n.label == C.InspectionCharacteristic}
    if not chars:
        return []
    found: dict[str, list[NodeRecord]] = {}
    for e in st.links(sorted(results), [R.FOR_CHARACTERISTIC]):
        found.setdefault(e.dst, []).append(results[e.src])
    out: list[Problem] = []
    for c, char in sorted(chars.items(), key=lambda kv: kv[1].key):
        size = planned_size(char)
        done = found.get(c, [])
        name = char.props.get(P.name, "")
        if not done:
            out.append(Problem(
                rule="inspection-missing", field=P.forCharacteristic, value=char.key, focus=batch,
                message=f"characteristic {char.key} ({name}) was planned with sample size "
                        f"{size} but not inspected"))
            continue
        best = max(done, key=lambda r: (samples(r), r.iri))
        if samples(best) < size:
            out.append(Problem(
                rule="inspection-sample-size", field=P.sampleCount, value=samples(best),
                focus=best.iri,
                message=f"characteristic {char.key} ({name}) was inspected on {samples(best)} "
                        f"sample(s), fewer than its sample size {size}"))
    return out
