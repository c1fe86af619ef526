"""The whole GraphQL schema: the core root types of :mod:`api.schema` merged with each
feature's own root types (one module per feature, e.g. ``api/gql_<feature>.py``).

A feature adds its ``Query``/``Mutation``/``Subscription`` classes to the tuples below and an
authorization rule per root field to :data:`api.auth.RULES`.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.tools import merge_types

from api import gql_explorer, gql_quality, gql_versions
from api import schema as core
from api.gql_signals import SignalQuery, SignalSubscription
from api.limits import extensions

__all__ = ["build_schema", "schema"]

QUERIES: tuple[type, ...] = (core.Query, gql_explorer.Query, gql_versions.Query,
                             gql_quality.QualityQuery, SignalQuery)
MUTATIONS: tuple[type, ...] = (core.Mutation, gql_versions.Mutation, gql_quality.QualityMutation)
SUBSCRIPTIONS: tuple[type, ...] = (SignalSubscription,)


def build_schema(production: bool) -> strawberry.Schema:
    kwargs: dict[str, Any] = {}
    if SUBSCRIPTIONS:
        kwargs["subscription"] = merge_types("Subscription", SUBSCRIPTIONS)
    return strawberry.Schema(query=merge_types("Query", QUERIES),
                             mutation=merge_types("Mutation", MUTATIONS),
                             extensions=extensions(production), **kwargs)


schema = build_schema(production=False)
