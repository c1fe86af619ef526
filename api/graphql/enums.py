"""The GraphQL enums of the ontology's code lists, each built once from its generated
``StrEnum`` (:mod:`ontology.codes`), and the error a wrong code gets.

An enum's GraphQL values are the codes themselves (``graphql_name_from="value"``): ``grade:
major`` in a query, ``{"grade": "major"}`` in JSON variables, ``"major"`` in answers, the very
string the stores hold; a resolver receives the ``StrEnum`` member. ``strawberry.enum`` marks
the class of :mod:`ontology.codes` in place, so this is the one module that wraps them: import
the enums from here (they are the classes of ``ontology.codes``, marked on import).

A code that is not in its list is refused before anything runs, as GraphQL validation
requires; :class:`CodeListErrors` rewrites that error into the ``BAD_INPUT`` error every other
wrong argument gets, naming the argument and the allowed codes (``extensions.field``,
``extensions.rule``).

>>> [v.name for v in DeviationGrade.__strawberry_definition__.values]
['critical', 'major', 'minor']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import Any

import strawberry
from graphql import (
    ArgumentNode,
    EnumValueNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLSchema,
    ListValueNode,
    Node,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    get_named_type,
    visit,
)
from graphql.language import DocumentNode
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from ontology import codes
from ontology.codes import (
    ActionState,
    AlarmPriority,
    AlarmState,
    ApprovalDecision,
    AuditAction,
    BatchStatus,
    CAPAActionType,
    CAPAState,
    CauseCategory,
    ChangeState,
    DerivationKind,
    DeviationGrade,
    DeviationState,
    DispositionType,
    EffectivenessCriterion,
    ExcursionLevel,
    HoldState,
    ImpactLevel,
    InspectionLevel,
    MaterialLotStatus,
    RoleName,
    SignatureMeaning,
    SupplierStatus,
)

__all__ = [
    "CODE_ENUMS",
    "ActionState",
    "AlarmPriority",
    "AlarmState",
    "ApprovalDecision",
    "AuditAction",
    "BatchStatus",
    "CAPAActionType",
    "CAPAState",
    "CauseCategory",
    "ChangeState",
    "CodeListErrors",
    "DerivationKind",
    "DeviationGrade",
    "DeviationState",
    "DispositionType",
    "EffectivenessCriterion",
    "ExcursionLevel",
    "HoldState",
    "ImpactLevel",
    "InspectionLevel",
    "MaterialLotStatus",
    "RoleName",
    "SignatureMeaning",
    "SupplierStatus",
]

#: every GraphQL enum built from a code list
CODE_ENUMS: tuple[type[StrEnum], ...] = (
    ApprovalDecision, AuditAction, CAPAActionType, CauseCategory, DerivationKind, DeviationGrade,
    DeviationState, DispositionType, EffectivenessCriterion, ImpactLevel, MaterialLotStatus,
    RoleName, SignatureMeaning, SupplierStatus,
    # the worklists' filters (api/graphql/worklists.py)
    ActionState, AlarmPriority, AlarmState, BatchStatus, CAPAState, ChangeState, ExcursionLevel,
    HoldState,
    # the incoming inspection's level (api/graphql/suppliers.py, issue 18 item 2)
    InspectionLevel)


def _code_list(cls: type[StrEnum]) -> None:
    """Mark ``cls`` as a GraphQL enum of the same name, its values the codes."""
    en, _zh = codes.SCHEME_LABELS[cls]
    scheme = next(s for s, c in codes.SCHEMES.items() if c is cls)
    strawberry.enum(cls, name=cls.__name__, graphql_name_from="value",
                    description=f"{en.capitalize()}: code list tg:{scheme} of the ontology.")


for _cls in CODE_ENUMS:
    _code_list(_cls)
_NAMES = frozenset(c.__name__ for c in CODE_ENUMS)


def _values(node: ValueNode) -> Iterator[ValueNode]:
    if isinstance(node, ListValueNode):
        for v in node.values:
            yield from _values(v)
    else:
        yield node


class _CodeArguments(Visitor):
    """Where the document gives a code-list argument: each value node (and each variable) →
    (argument name, enum type)."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.values: dict[int, tuple[str, GraphQLEnumType]] = {}
        self.variables: dict[str, tuple[str, GraphQLEnumType]] = {}

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        arg = self.type_info.get_argument()
        named = get_named_type(arg.type) if arg is not None else None
        if not isinstance(named, GraphQLEnumType) or named.name not in _NAMES:
            return
        for v in _values(node.value):
            if isinstance(v, VariableNode):
                self.variables[v.name.value] = (node.name.value, named)
            else:
                self.values[id(v)] = (node.name.value, named)


def _code_arguments(schema: GraphQLSchema, document: DocumentNode) -> _CodeArguments:
    found = _CodeArguments(TypeInfo(schema))
    visit(document, TypeInfoVisitor(found.type_info, found))
    return found


def bad_code(field: str, value: object, enum: GraphQLEnumType, nodes: Sequence[Node] = ()
             ) -> GraphQLError:
    """The ``BAD_INPUT`` error of a code that is not in the argument's code list (or a code
    written as a quoted string)."""
    allowed = list(enum.values)
    rule = f"one of {', '.join(allowed)} (code list {enum.name})"
    if value in allowed:
        rule = f"a code of {enum.name} is written without quotes: {value}"
    return GraphQLError(f"{field}={value!r}: {rule}", nodes=list(nodes) or None,
                        extensions={"code": "BAD_INPUT", "field": field, "rule": rule})


def _rewritten(errors: Sequence[GraphQLError], found: _CodeArguments,
               variables: dict[str, Any] | None) -> list[GraphQLError]:
    out = []
    for e in errors:
        where = None
        for n in e.nodes or ():
            if id(n) in found.values:
                field, enum = found.values[id(n)]
                value = n.value if isinstance(n, EnumValueNode | StringValueNode) else None
                where = bad_code(field, value, enum, [n])
            elif isinstance(n, VariableDefinitionNode):
                name = n.variable.name.value
                if name in found.variables:
                    field, enum = found.variables[name]
                    given = (variables or {}).get(name)
                    wrong = [v for v in (given if isinstance(given, list) else [given])
                             if v not in enum.values]
                    where = bad_code(field, wrong[0] if wrong else given, enum, [n])
        out.append(where or e)
    return out


class CodeListErrors(SchemaExtension):
    """A code that is not in its code list is a ``BAD_INPUT`` error naming the argument and the
    allowed codes, whether it came as a literal (validation) or in a variable (coercion)."""

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.pre_execution_errors is None and ec.graphql_document is not None \
                and ec.validation_rules:
            schema = ec.schema._schema
            errors = validate_document(schema, ec.graphql_document, ec.validation_rules)
            if errors:
                errors = _rewritten(errors, _code_arguments(schema, ec.graphql_document),
                                    ec.variables)
            ec.pre_execution_errors = errors
        yield

    def on_execute(self) -> Iterator[None]:
        yield
        ec = self.execution_context
        result = ec.result
        if result is not None and result.errors and result.data is None \
                and ec.graphql_document is not None:
            found = _code_arguments(ec.schema._schema, ec.graphql_document)
            if found.variables:  # the result is returned as it is: rewrite its error list
                result.errors[:] = _rewritten(result.errors, found, ec.variables)
