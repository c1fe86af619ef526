"""Limits that keep one GraphQL request from exhausting the service.

Depth, aliases (counted through fragment expansion), tokens and an estimated cost are checked
before execution; introspection is off and unexpected errors are masked in production. Each
refusal is a GraphQL error with ``extensions.code`` so clients can tell limits from bugs (a code
outside its code list is ``BAD_INPUT``: :class:`api.graphql.enums.CodeListErrors`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from api.graphql.enums import CodeListErrors

__all__ = ["Limits", "extensions"]

#: arguments that bound how many items a list field returns
PAGE_ARGS = ("first", "limit", "unitLimit")


@dataclass(frozen=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 20
    max_tokens: int = 4_000
    max_cost: int = 50_000
    default_page: int = 100  # assumed size of a list field without a page argument


def _page(node: FieldNode, variables: Mapping[str, Any], default: int) -> int:
    for arg in node.arguments or ():
        if arg.name.value in PAGE_ARGS:
            if isinstance(arg.value, IntValueNode):
                return int(arg.value.value)
            if isinstance(arg.value, VariableNode):
                value = variables.get(arg.value.name.value)
                if isinstance(value, int):
                    return value
    return default


def query_cost(schema: GraphQLSchema, op: OperationDefinitionNode,
               fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any],
               default_page: int) -> int:
    """Estimated number of values a query resolves: each field costs 1, times the page size of
    every list field above it (fragments expanded, cycles cut)."""
    root = schema.get_root_type(op.operation)

    def named(t: Any) -> Any:
        while isinstance(t, (GraphQLNonNull, GraphQLList)):
            t = t.of_type
        return t

    def is_list(t: Any) -> bool:
        while isinstance(t, GraphQLNonNull):
            t = t.of_type
        return isinstance(t, GraphQLList)

    def cost(sel: SelectionSetNode | None, parent: GraphQLNamedType | None,
             seen: frozenset[str]) -> int:
        if sel is None or not isinstance(parent, GraphQLObjectType):
            return 0
        total = 0
        for s in sel.selections:
            if isinstance(s, FieldNode):
                fdef = parent.fields.get(s.name.value)
                if fdef is None:
                    continue
                mult = _page(s, variables, default_page) if is_list(fdef.type) else 1
                total += mult * (1 + cost(s.selection_set, named(fdef.type), seen))
            elif isinstance(s, InlineFragmentNode):
                cond = (schema.get_type(s.type_condition.name.value) if s.type_condition
                        else parent)
                total += cost(s.selection_set, cond, seen)
            elif isinstance(s, FragmentSpreadNode) and s.name.value not in seen:
                frag = fragments.get(s.name.value)
                if frag is not None:
                    total += cost(frag.selection_set,
                                  schema.get_type(frag.type_condition.name.value),
                                  seen | {s.name.value})
        return total

    return cost(op.selection_set, root, frozenset())


def _cost_rule(limits: Limits) -> type[ValidationRule]:
    class MaxCost(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            doc = context.document
            fragments = {d.name.value: d for d in doc.definitions
                         if isinstance(d, FragmentDefinitionNode)}
            for op in doc.definitions:
                if isinstance(op, OperationDefinitionNode):
                    c = query_cost(context.schema, op, fragments, {}, limits.default_page)
                    if c > limits.max_cost:
                        context.report_error(GraphQLError(
                            f"query cost {c} exceeds the limit of {limits.max_cost}; ask for "
                            "smaller pages or use the export", extensions={"code": "COST_LIMIT"}))

    return MaxCost


def _masked(error: GraphQLError) -> bool:
    """Mask only unexpected failures; refusals and not-found answers stay readable."""
    original = error.original_error
    if original is None:
        return False
    return not (isinstance(original, GraphQLError) or getattr(original, "code", None))


class Authorization(SchemaExtension):
    """Every root field and mutation is checked against the authorization table before it
    resolves (nested fields are reached only through an authorized root)."""

    def resolve(self, _next: Callable[..., Any], root: Any, info: Any, *args: Any,
                **kwargs: Any) -> Any:
        if info.path.prev is None:
            from api.auth import authorize

            authorize(f"{info.parent_type.name}.{info.field_name}", info.context.get("user"))
        return _next(root, info, *args, **kwargs)


def extensions(production: bool, limits: Limits = Limits()
               ) -> list[Callable[[], SchemaExtension]]:
    """Extension factories (strawberry builds fresh instances per request)."""
    out: list[Callable[[], SchemaExtension]] = [
        lambda: QueryDepthLimiter(max_depth=limits.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: AddValidationRules([_cost_rule(limits)]),
        CodeListErrors,
        Authorization,
    ]
    if production:
        out += [DisableIntrospection,
                lambda: MaskErrors(should_mask_error=_masked, error_message="Internal error.")]
    return out
