"""Plant rules on operation executions, run by the one write path (see :data:`graph.write.Guard`),
so a capture, an EPCIS event, a GraphQL mutation or a CSV load all meet them; and the route a
batch must follow, which the release review (:mod:`quality.release`) reports on.

An execution is checked when this write gives it its operation, batch or equipment (a new
``executesOperation``, ``forBatch``, ``onEquipment`` or ``usedFixture`` link); it is refused when

- **equipment-class**: a piece of equipment it uses (``onEquipment``, or a fixture through
  ``usedFixture`` — a fixture is equipment) is of no class the operation requires
  (``requiresEquipmentClass`` on the Operation, ``ofEquipmentClass`` on the Equipment), or has no
  class at all. An operation that lists several classes (a press *and* its mould) accepts each
  piece that is of any of them; whether every listed class was used is not checked (the
  ontology does not say whether several classes are alternatives or all needed). Equipment
  classes have no hierarchy in the ontology, so a class matches only itself. An operation that
  requires no class accepts any equipment;
- **route-operation**: its operation is not on the routing of the process version its batch is
  pinned to (``runsProcessVersion`` → ``hasRouting`` → ``hasOperation``), for every batch it is
  for. A batch pinned to no version, or to a version with no routing operations, is not checked
  here (release reports ``process-version-missing``);
- **route-variant**: the operation's ``variantCondition`` is false for the batch's variant
  (``tg:variant`` of its product, overridden by its work order's, overridden by its own; the
  grammar and its semantics are :mod:`quality.variants`);
- **route-branch**: the batch already took (or takes in this write) a different branch at the
  operation's sequence: operations of different branches (``tg:branch``, ``main`` when absent)
  at one sequence are alternatives, and a batch takes one. Aborted executions do not count.

And on master data:

- **variant-condition**: an operation's ``variantCondition`` that does not parse;
- **variant**: a product's, work order's or batch's ``tg:variant`` that does not parse.

A stored execution is not re-judged when the routing, an equipment's class or a variant changes
later; the release review (:func:`route_exceptions`) evaluates the route again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

from graph.errors import Problem
from graph.model import Direction, NodeRecord
from graph.write import PendingWrite
from ontology.codes import ExecutionStatus
from ontology.terms import C, P, R
from quality.pending_reads import links, nodes, targets
from quality.variants import VariantError, holds, parse_condition, parse_variant

__all__ = ["MAIN", "branch_of", "equipment_class_rules", "route_exceptions", "route_rules",
           "sequence_of", "variant_forms", "variant_of"]

MAIN = "main"
_EQUIPMENT_LINKS = (R.ON_EQUIPMENT, R.USED_FIXTURE)
_ROUTE_LINKS = frozenset({R.EXECUTES_OPERATION, R.FOR_BATCH})
_VARIANT_OF: dict[str, str] = {C.Product: P.variant, C.WorkOrder: P.variant, C.Batch: P.variant,
               C.Operation: P.variantCondition}


def branch_of(op: NodeRecord) -> str:
    return str(op.props.get(P.branch) or MAIN)


def sequence_of(op: NodeRecord) -> int:
    s = op.props.get(P.sequence)
    return int(s) if isinstance(s, (int, float)) and not isinstance(s, bool) else 0


def variant_of(layers: Iterable[NodeRecord | None]) -> dict[str, str]:
    """The variant attributes of a batch from its ``layers`` (product, work order, batch: each
    overrides the ones before it); a variant that does not parse adds nothing."""
    out: dict[str, str] = {}
    for n in layers:
        text = n.props.get(P.variant) if n is not None else None
        if text is not None:
            try:
                out.update(parse_variant(text))
            except VariantError:
                continue
    return out


def applies(op: NodeRecord, variant: Mapping[str, str]) -> bool:
    """Whether ``op`` runs for ``variant``; :class:`VariantError` if its condition is bad."""
    cond = op.props.get(P.variantCondition)
    return cond is None or holds(str(cond), variant)


# -- master data: conditions and variants parse ------------------------------------------------

def variant_forms(p: PendingWrite) -> list[Problem]:
    """Every variant condition and variant written parses (see :mod:`quality.variants`)."""
    out: list[Problem] = []
    for iri, n in sorted(i for c in _VARIANT_OF for i in p.after_of(c).items()):
        prop = _VARIANT_OF.get(n.label)
        value = n.props.get(prop) if prop else None
        old = p.before.get(iri)
        if prop is None or value is None or (old is not None and old.props.get(prop) == value):
            continue
        try:
            (parse_condition if prop == P.variantCondition else parse_variant)(value)
        except VariantError as exc:
            rule = "variant-condition" if prop == P.variantCondition else "variant"
            example = "'length = 32 mm and gauge = 20G'" if prop == P.variant else \
                "'length >= 32 mm and coating = PTFE'"
            out.append(Problem(rule=rule, field=prop, value=value, focus=iri,
                               message=f"{n.label} {n.key}: {prop} {value!r} cannot be read: "
                                       f"{exc} (e.g. {example})"))
    return out


# -- executions ---------------------------------------------------------------------------------

def _touched(p: PendingWrite, types: Iterable[str]) -> dict[str, set[str]]:
    """execution → the link types this write gives it, of ``types``."""
    wanted = set(types)
    out: dict[str, set[str]] = defaultdict(set)
    for e in p.new_edges:
        if e.type in wanted:
            out[e.src].add(e.type)
    execs = nodes(p, out)
    return {i: ts for i, ts in out.items()
            if (n := execs.get(i)) is not None and n.label == C.OperationExecution}


def equipment_class_rules(p: PendingWrite) -> list[Problem]:
    """Equipment an execution uses is of a class its operation requires."""
    touched = _touched(p, [R.EXECUTES_OPERATION, *_EQUIPMENT_LINKS])
    if not touched:
        return []
    op_of = targets(p, touched, R.EXECUTES_OPERATION)
    required = targets(p, {o for os_ in op_of.values() for o in os_}, R.REQUIRES_EQUIPMENT_CLASS)
    new = {(e.src, e.dst) for e in p.new_edges_of(_EQUIPMENT_LINKS)}
    used = [e for e in links(p, touched, _EQUIPMENT_LINKS)
            if R.EXECUTES_OPERATION in touched[e.src] or (e.src, e.dst) in new]
    class_of = targets(p, {e.dst for e in used}, R.OF_EQUIPMENT_CLASS)
    names = nodes(p, {e.dst for e in used})
    out: list[Problem] = []
    for e in sorted(used, key=lambda x: (x.src, x.type, x.dst)):
        for op in op_of.get(e.src, []):
            needs = required.get(op, [])
            has = class_of.get(e.dst, [])
            if not needs or set(needs) & set(has):
                continue
            eq = names.get(e.dst)
            field = "onEquipment" if e.type == R.ON_EQUIPMENT else "usedFixture"
            what = f"is of class {', '.join(_key(c) for c in has)}" if has else \
                "has no equipment class"
            out.append(Problem(
                rule="equipment-class", field=field, value=eq.key if eq else _key(e.dst),
                focus=e.src,
                message=f"execution {_key(e.src)} cannot use {eq.label if eq else 'equipment'} "
                        f"{eq.key if eq else _key(e.dst)}: it {what}, but operation "
                        f"{_key(op)} requires {' or '.join(_key(c) for c in sorted(needs))}"))
    return out


def _key(iri: str) -> str:
    """The business key of a minted IRI (its last segment, unquoted), for messages."""
    return unquote(iri.rsplit("/", 1)[-1])


def route_rules(p: PendingWrite) -> list[Problem]:
    """Executions follow their batch's route: the operation is on the pinned version's routing,
    its variant condition holds, and the batch takes one branch per sequence."""
    touched = _touched(p, _ROUTE_LINKS)
    if not touched:
        return []
    op_of = targets(p, touched, R.EXECUTES_OPERATION)
    batches_of = targets(p, touched, R.FOR_BATCH)
    batches = sorted({b for bs in batches_of.values() for b in bs})
    version = {b: vs[0] for b, vs in targets(p, batches, R.RUNS_PROCESS_VERSION).items()}
    routing = targets(p, set(version.values()), R.HAS_ROUTING)
    route_ops = targets(p, {r for rs in routing.values() for r in rs}, R.HAS_OPERATION)
    on_route = {v: {o for r in routing.get(v, ()) for o in route_ops.get(r, ())}
                for v in set(version.values())}
    # every execution of these batches (stored and new) with its operation, for the branches
    runs = {e.src for e in links(p, batches, [R.FOR_BATCH], Direction.DOWNSTREAM)}
    run_nodes = nodes(p, runs | set(touched))
    run_op = targets(p, runs, R.EXECUTES_OPERATION)
    run_batches = targets(p, runs, R.FOR_BATCH)
    ops = nodes(p, {o for os_ in [*run_op.values(), *op_of.values()] for o in os_})
    variants = _variants(p, batches)
    out: list[Problem] = []
    for x in sorted(touched):
        for o in op_of.get(x, []):
            op = ops.get(o)
            for b in batches_of.get(x, []):
                v = version.get(b)
                if op is None or v is None or not on_route.get(v):
                    continue
                if o not in on_route[v]:
                    out.append(_problem("route-operation", x, "executesOperation", op.key,
                                        f"operation {op.key} is not on the routing of "
                                        f"{_key(v)}, the process version batch {_key(b)} is "
                                        "pinned to"))
                    continue
                out += _variant_problems(x, op, b, variants.get(b, {}))
                others = [ops[o2] for r in runs if r != x and b in run_batches.get(r, [])
                          and _counts(run_nodes.get(r)) for o2 in run_op.get(r, []) if o2 in ops]
                clash = sorted({branch_of(y) for y in others
                                if sequence_of(y) == sequence_of(op)} - {branch_of(op)})
                if clash and _counts(run_nodes.get(x)):
                    out.append(_problem(
                        "route-branch", x, "branch", branch_of(op),
                        f"batch {_key(b)} already took branch {', '.join(clash)} at sequence "
                        f"{sequence_of(op)}; operation {op.key} is on branch {branch_of(op)}"))
    return out


def _counts(run: NodeRecord | None) -> bool:
    """An execution that takes its branch: any but an aborted one."""
    return run is not None and run.props.get(P.executionStatus) != ExecutionStatus.ABORTED


def _variants(p: PendingWrite, batches: list[str]) -> dict[str, dict[str, str]]:
    product = targets(p, batches, R.OF_PRODUCT)
    order = targets(p, batches, R.FOR_WORK_ORDER)
    layer_nodes = nodes(p, {*batches, *(x for xs in [*product.values(), *order.values()]
                                        for x in xs)})
    return {b: variant_of([*(layer_nodes.get(x) for x in product.get(b, [])),
                           *(layer_nodes.get(x) for x in order.get(b, [])),
                           layer_nodes.get(b)]) for b in batches}


def _variant_problems(x: str, op: NodeRecord, batch: str,
                      variant: Mapping[str, str]) -> list[Problem]:
    cond = op.props.get(P.variantCondition)
    try:
        if applies(op, variant):
            return []
        why = "is false"
    except VariantError as exc:
        why = f"cannot be read ({exc})"
    shown = " and ".join(f"{k} = {v}" for k, v in sorted(variant.items())) or "none declared"
    return [_problem("route-variant", x, "variantCondition", cond,
                     f"operation {op.key} runs only when {cond!r}, which {why} for batch "
                     f"{_key(batch)} (variant: {shown})")]


def _problem(rule: str, x: str, field: str, value: object, message: str) -> Problem:
    return Problem(rule=rule, field=field, value=value, focus=x,
                   message=f"execution {_key(x)}: {message}")


# -- the release review -------------------------------------------------------------------------

def route_exceptions(batch: NodeRecord, ops: Mapping[str, NodeRecord],
                     runs_of: Mapping[str, list[NodeRecord]],
                     variant: Mapping[str, str]) -> list[Problem]:
    """The route of ``batch`` (its pinned routing's operations ``ops``, its executions by
    operation ``runs_of``, its ``variant``) against what it executed, for the release review.

    - the **required steps**: operations whose variant condition holds (an unreadable condition
      is reported as ``variant-condition`` and its operation is not required); at each sequence,
      the branch the batch executed there (not counting aborted executions), else an alternative
      branch it took at another sequence if that branch has an operation here, else ``main``;
      a sequence with only alternative branches the batch never took requires nothing;
    - ``operation-missing`` (focus the batch): a required operation never executed — one with
      executions that are not completed is reported by release as ``execution-incomplete`` on
      each of them, so every required step without a completed execution is reported once;
    - ``operation-sequence`` (focus the execution): an execution of a required step that started
      before the latest end (for an execution not ended, the start) of the executions of the
      nearest earlier required step that was executed; executions at one sequence are not
      ordered among themselves;
    - ``route-variant`` (focus the execution): an execution of an operation whose variant
      condition is false for the batch; ``route-branch`` (focus the batch): executions of
      different branches at one sequence.
    """
    out: list[Problem] = []
    applicable: dict[str, NodeRecord] = {}
    for o in sorted(ops.values(), key=lambda n: n.iri):
        try:
            ok = applies(o, variant)
        except VariantError as exc:
            out.append(Problem(rule="variant-condition", field=P.variantCondition,
                               value=o.props.get(P.variantCondition), focus=o.iri,
                               message=f"operation {o.key}: its variant condition cannot be "
                                       f"read ({exc}), so no batch can be judged against it"))
            continue
        if ok:
            applicable[o.iri] = o
            continue
        for r in runs_of.get(o.iri, []):
            out.append(Problem(rule="route-variant", field=P.variantCondition,
                               value=o.props.get(P.variantCondition), focus=r.iri,
                               message=f"execution {r.key} ran operation {o.key}, whose "
                                       "variant condition is false for the batch"))
    ran = {o for o in applicable if any(_counts(r) for r in runs_of.get(o, []))}
    taken = {branch_of(applicable[o]) for o in ran} - {MAIN}
    by_seq: dict[int, list[NodeRecord]] = defaultdict(list)
    for o in applicable.values():
        by_seq[sequence_of(o)].append(o)
    prev_end = ""
    for seq in sorted(by_seq):
        group = by_seq[seq]
        branches = {branch_of(o) for o in group}
        chosen = {branch_of(o) for o in group if o.iri in ran} or (taken & branches) or \
            ({MAIN} & branches)
        if len(chosen) > 1:
            out.append(Problem(rule="route-branch", field="branch", value=sorted(chosen),
                               focus=batch.iri,
                               message=f"batch {batch.key} executed branches "
                                       f"{', '.join(sorted(chosen))} at sequence {seq}; "
                                       "they are alternatives"))
        steps = sorted((o for o in group if branch_of(o) in chosen), key=lambda n: n.key)
        runs = [r for o in steps for r in runs_of.get(o.iri, [])]
        for o in steps:
            if not runs_of.get(o.iri):
                out.append(Problem(rule="operation-missing", field="executesOperation",
                                   value=o.key, focus=batch.iri,
                                   message=f"operation {o.key} ({o.props.get(P.name, '')}) of "
                                           "the batch's route was not executed"))
        for r in sorted(runs, key=lambda n: n.key):
            start = str(r.props.get(P.startedAtTime) or "")
            if prev_end and start and start < prev_end:
                out.append(Problem(rule="operation-sequence", field="startedAtTime",
                                   value=r.props.get(P.startedAtTime), focus=r.iri,
                                   message=f"execution {r.key} started at {start}, before the "
                                           f"previous step of the route ended ({prev_end})"))
        ends = [str(r.props.get(P.endedAtTime) or r.props.get(P.startedAtTime) or "")
                for r in runs if _counts(r)]
        if any(ends):
            prev_end = max(ends)
    return out
