"""The whole GraphQL schema: each domain's root types merged into one ``Query``, ``Mutation``
and ``Subscription``.

One module per domain, all built on the shared types and helpers of :mod:`api.graphql.types`:

- :mod:`~api.graphql.accounts`: the signed-in account, audit trail, e-signatures, accounts
- :mod:`~api.graphql.genealogy`: lookups, genealogy (as-built context, witness paths), mass
  balance
- :mod:`~api.graphql.recall`: recall and equipment-window impact
- :mod:`~api.graphql.capture`: the capture mutation
- :mod:`~api.graphql.explorer`: what the explorer page needs (status overlays, deviation view,
  SPC chart)
- :mod:`~api.graphql.versions`: process versions and change control
- :mod:`~api.graphql.quality`: the closed quality loop (deviations, CAPA, dispositions, release)
- :mod:`~api.graphql.signals`: raw signal windows and the QC notification subscription
- :mod:`~api.graphql.vocabulary`: the ontology's labels in English or Chinese
- :mod:`~api.graphql.environment`: room conditions per operation of a batch (issue 17)
- :mod:`~api.graphql.worklists`: worklists (filtered, sorted, cursor-paged connections) and
  the signed-in user's "my work"
- :mod:`~api.graphql.specs`: the parameter specs to pick from (the explorer's SPC page)
- :mod:`~api.graphql.as_of`: a record as known at a past record time (issue 18 item 4)
- :mod:`~api.graphql.whatif`: what-if recall hypotheses and proofs of non-exposure (issue 18)
- :mod:`~api.graphql.recalls`: recall records (lifecycle, consignees, 806/NMPA report data)
- :mod:`~api.graphql.documents`: controlled documents, their revisions, approvals and training
  (issue 18 item 1)
- :mod:`~api.graphql.integration`: the integration events and webhook subscriptions (issue 18
  item 6)

:mod:`~api.graphql.limits` holds the per-request limits and the authorization extension. A
domain adds its ``Query``/``Mutation``/``Subscription`` classes to the tuples below (their order
is the order of the root fields) and an authorization rule per root field to
:data:`api.auth.RULES`.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from api.graphql import (
    accounts,
    as_of,
    capture,
    documents,
    environment,
    explorer,
    genealogy,
    health,
    integration,
    kpi,
    quality,
    recall,
    recalls,
    signals,
    specs,
    suppliers,
    versions,
    vocabulary,
    whatif,
    worklists,
)
from api.graphql.limits import Schema, extensions

__all__ = ["build_schema", "schema"]

QUERIES: tuple[type, ...] = (accounts.Query, genealogy.Query, recall.Query, explorer.Query,
                             versions.Query, quality.Query, signals.Query, vocabulary.Query,
                             environment.Query, health.Query, worklists.Query, specs.Query,
                             kpi.Query,  # issue 15 item 3: KPI dashboard
                             as_of.Query,  # issue 18 item 4
                             whatif.Query,  # issue 18 item 3
                             recalls.Query,  # issue 18 item 5
                             documents.Query,  # issue 18 item 1
                             suppliers.Query,  # issue 18 item 2
                             integration.Query)  # issue 18 item 6: integration events
MUTATIONS: tuple[type, ...] = (capture.Mutation, accounts.Mutation, versions.Mutation,
                               quality.Mutation, health.Mutation, whatif.Mutation,
                               recalls.Mutation, documents.Mutation, suppliers.Mutation)
SUBSCRIPTIONS: tuple[type, ...] = (signals.Subscription,)


def build_schema(production: bool) -> strawberry.Schema:
    """The schema; in production without field suggestions ("Did you mean …?")."""
    kwargs: dict[str, Any] = {}
    if SUBSCRIPTIONS:
        kwargs["subscription"] = merge_types("Subscription", SUBSCRIPTIONS)
    return Schema(query=merge_types("Query", QUERIES),
                  mutation=merge_types("Mutation", MUTATIONS),
                  extensions=extensions(production),
                  config=StrawberryConfig(disable_field_suggestions=production), **kwargs)


schema = build_schema(production=False)
