"""Limits that keep one GraphQL request from exhausting the service.

Tokens are counted while parsing; depth, aliases (counted through fragment expansion) and an
estimated cost are measured before execution in one pass that measures each fragment once.
Introspection is off and unexpected errors are masked in production. Each refusal is a GraphQL
error with ``extensions.code`` so clients can tell limits from bugs. A code outside its code list is
``BAD_INPUT``: :class:`api.graphql.enums.CodeListErrors`.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import strawberry
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
    is_leaf_type,
)
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.types import ExecutionContext
from strawberry.utils.logging import StrawberryLogger

from api.graphql.enums import CodeListErrors
from ingest.strict_json import clip

__all__ = ["LIST_BOUNDS", "LOGGED_CHARS", "Limits", "Measure", "OneOperation", "Schema",
           "extensions"]

#: an error is logged with at most this many characters per line (message, traceback lines)
LOGGED_CHARS = 1000

#: arguments that bound how many items a list field returns
PAGE_ARGS = ("first", "limit", "unitLimit")
#: list fields whose length the schema bounds, not a page ("Type.field" → at most this many
#: items: counts per class, one entry per hypothesis asked); a domain module adds its own
LIST_BOUNDS: dict[str, int] = {}


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


@dataclass(frozen=True)
class Measure:
    """What a selection asks for: nesting depth (fields with sub-selections), aliases and the
    estimated number of values it resolves (each field 1, times the page size of every list
    field above it), fragments expanded."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0

    def __add__(self, o: Measure) -> Measure:
        return Measure(max(self.depth, o.depth), self.aliases + o.aliases, self.cost + o.cost)


def _named(t: Any) -> Any:
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


def _is_list(t: Any) -> bool:
    while isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)


class _Measurer:
    """Measures selections, each fragment once: a spread costs a lookup, not a re-expansion,
    so a document of fragments that each spread the previous one twice is measured in time
    linear in its length (cycles are cut; the spec rules refuse them)."""

    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode],
                 variables: Mapping[str, Any], default_page: int) -> None:
        self.schema, self.fragments = schema, fragments
        self.variables, self.default_page = variables, default_page
        self.memo: dict[tuple[str, int], Measure] = {}
        self.busy: set[str] = set()

    def fragment(self, name: str, page: int) -> Measure:
        done = self.memo.get((name, page))
        if done is not None:
            return done
        frag = self.fragments.get(name)
        if frag is None or name in self.busy:
            return Measure()
        self.busy.add(name)
        m = self.selections(frag.selection_set,
                            self.schema.get_type(frag.type_condition.name.value), page)
        self.busy.discard(name)
        self.memo[(name, page)] = m
        return m

    def selections(self, sel: SelectionSetNode | None, parent: GraphQLNamedType | None,
                   page: int | None = None) -> Measure:
        """``page``: the page size a paged parent asked for (``genealogy(first: 5000)`` pages
        its ``nodes``), assumed for its list fields without a page argument of their own."""
        total = Measure()
        default = self.default_page if page is None else page
        for s in sel.selections if sel is not None else ():
            if isinstance(s, FieldNode):
                fdef = (parent.fields.get(s.name.value)
                        if isinstance(parent, GraphQLObjectType) else None)
                paged = (fdef is not None and not _is_list(fdef.type)
                         and any(a.name.value in PAGE_ARGS for a in s.arguments or ()))
                child = (self.selections(s.selection_set, _named(fdef.type) if fdef else None,
                                         _page(s, self.variables, default) if paged else None)
                         if s.selection_set else Measure())
                depth = (1 + child.depth if s.selection_set
                         and not s.name.value.startswith("__") else 0)
                cost = 0
                if fdef is not None and isinstance(parent, GraphQLObjectType):
                    # a list of objects resolves each item; a list of scalars (a witness path,
                    # a list of keys) is one value, bounded by the field's own limits
                    mult = (LIST_BOUNDS.get(f"{parent.name}.{s.name.value}")
                            or _page(s, self.variables, default)
                            if _is_list(fdef.type) and not is_leaf_type(_named(fdef.type))
                            else 1)
                    cost = mult * (1 + child.cost)
                total += Measure(depth, child.aliases + (1 if s.alias else 0), cost)
            elif isinstance(s, InlineFragmentNode):
                cond = (self.schema.get_type(s.type_condition.name.value) if s.type_condition
                        else parent)
                total += self.selections(s.selection_set, cond, page)
            elif isinstance(s, FragmentSpreadNode):
                total += self.fragment(s.name.value, default)
        return total


def _limits_rule(limits: Limits) -> type[ValidationRule]:
    class RequestLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            doc = context.document
            fragments = {d.name.value: d for d in doc.definitions
                         if isinstance(d, FragmentDefinitionNode)}
            measurer = _Measurer(context.schema, fragments, {}, limits.default_page)
            aliases = 0
            for op in doc.definitions:
                if not isinstance(op, OperationDefinitionNode):
                    continue
                try:
                    m = measurer.selections(op.selection_set,
                                            context.schema.get_root_type(op.operation))
                except RecursionError:
                    context.report_error(GraphQLError(
                        "fragments nest too deeply to measure", extensions={
                            "code": "DEPTH_LIMIT"}))
                    return
                aliases += m.aliases
                name = op.name.value if op.name else "anonymous"
                if m.depth > limits.max_depth:
                    context.report_error(GraphQLError(
                        f"'{name}' exceeds maximum operation depth of {limits.max_depth}",
                        [op], extensions={"code": "DEPTH_LIMIT"}))
                if m.cost > limits.max_cost:
                    context.report_error(GraphQLError(
                        f"query cost {_size(m.cost)} exceeds the limit of {limits.max_cost}; "
                        "ask for smaller pages or use the export",
                        extensions={"code": "COST_LIMIT"}))
            if aliases > limits.max_aliases:
                context.report_error(GraphQLError(
                    f"{_size(aliases)} aliases found. Allowed: {limits.max_aliases}",
                    extensions={"code": "ALIAS_LIMIT"}))

    return RequestLimits


def _size(n: int) -> str:
    """A count for a message (a doubling document's counts have hundreds of digits)."""
    return str(n) if n < 10**15 else f"{n:.3g}"


def _masked(error: GraphQLError) -> bool:
    """Mask only unexpected failures; refusals and not-found answers stay readable."""
    original = error.original_error
    if original is None:
        return False
    return not (isinstance(original, GraphQLError) or getattr(original, "code", None))


class OneOperation(SchemaExtension):
    """A document with several operations must name the one to run: graphql-core would ask
    for ``operationName``, but strawberry runs the first one; this refuses before validation
    (one error, not one per anonymous operation)."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        doc = ctx.graphql_document
        ops = [d for d in doc.definitions
               if isinstance(d, OperationDefinitionNode)] if doc is not None else []
        # the name the client sent (strawberry's operation_name falls back to the first one)
        if len(ops) > 1 and getattr(ctx, "_provided_operation_name", None) is None:
            ctx.pre_execution_errors = [GraphQLError(
                f"the document has {len(ops)} operations and no operationName: send one "
                "operation, or name the one to run", extensions={
                    "code": "BAD_INPUT", "field": "operationName", "rule": "one-operation"})]
        yield


class Schema(strawberry.Schema):
    """The schema, logging each error bounded (a 10 MB argument is not written to the log)."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        for e in errors:
            trace = (traceback.format_exception(e.original_error) if e.original_error
                     else [])
            StrawberryLogger.logger.error("%s", "".join(
                clip(line, LOGGED_CHARS) for line in [str(e) + "\n", *trace]).rstrip())


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
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: AddValidationRules([_limits_rule(limits)]),
        OneOperation,
        CodeListErrors,
        Authorization,
    ]
    if production:
        out += [DisableIntrospection,
                lambda: MaskErrors(should_mask_error=_masked, error_message="Internal error.")]
    return out
