"""GraphQL takes and gives codes as enums built from the ontology's code lists
(:mod:`api.graphql.enums`), and each such enum has exactly the codes of its list: the
"GraphQL enum equals the code list" check of issue 13."""

from __future__ import annotations

from enum import StrEnum

import pytest
from graphql import GraphQLEnumType, GraphQLObjectType, get_named_type
from strawberry.types.enum import has_enum_definition

from api.graphql import schema
from api.graphql.enums import CODE_ENUMS
from ontology import codes

SCHEMA = schema._schema
#: argument names that take a code wherever they appear
CODE_ARGUMENTS = {"grade", "target", "category", "actionType", "criterion", "kind", "role",
                  "roles", "decision", "meaning", "edgeKinds", "status",
                  # the worklists' filters (issue 15)
                  "state", "level", "priority", "awaitingRole"}


@pytest.mark.parametrize("enum", CODE_ENUMS, ids=lambda e: e.__name__)
def test_graphql_enum_equals_its_code_list(enum: type[StrEnum]) -> None:
    generated = codes.SCHEMES[f"{enum.__name__}Scheme"]
    assert enum is generated  # wrapped in place, not copied
    codes_of_list = {m.value for m in generated}
    assert has_enum_definition(enum)
    definition = enum.__strawberry_definition__
    assert {v.name for v in definition.values} == codes_of_list
    assert all(v.name == v.value for v in definition.values)  # the wire value is the code
    printed = SCHEMA.get_type(enum.__name__)
    assert isinstance(printed, GraphQLEnumType)
    assert set(printed.values) == codes_of_list
    assert {v.value for v in printed.values.values()} == set(generated)  # resolvers get members


def test_every_code_list_enum_of_the_schema_is_built_from_its_code_list() -> None:
    code_lists = {c.__name__ for c in codes.SCHEMES.values()}
    in_schema = {name for name, t in SCHEMA.type_map.items()
                 if isinstance(t, GraphQLEnumType) and name in code_lists}
    assert in_schema == {e.__name__ for e in CODE_ENUMS}


def test_no_argument_takes_a_code_as_a_free_string() -> None:
    enums = {e.__name__ for e in CODE_ENUMS}
    seen = []
    for t in SCHEMA.type_map.values():
        if not isinstance(t, GraphQLObjectType) or t.name.startswith("__"):
            continue
        for fname, f in t.fields.items():
            for aname, arg in f.args.items():
                if aname in CODE_ARGUMENTS:
                    seen.append(f"{t.name}.{fname}({aname})")
                    assert get_named_type(arg.type).name in enums, seen[-1]
    # the 12 code arguments of issue 13, and decideLot(decision), qualifySupplier(status), and
    # the 11 code filters of the worklists (issue 15: state in six lists, grade, awaitingRole,
    # status, level, priority), approveDocument(decision) (issue 18 item 1),
    # approveSupplierMaterial(status), inspectIncomingLot(level) (issue 18 item 2),
    # proveNonExposure(meaning) (issue 18 item 3)
    assert len(seen) == 29, seen
