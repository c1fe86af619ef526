"""GraphQL capture: one ``tracegraph.capture/1`` document written atomically as the signed-in
user; a refused document answers ``ok: false`` with every problem and writes nothing.
(EPCIS 2.0 documents are captured over REST: :mod:`api.routes.epcis`.)"""

from __future__ import annotations

from typing import Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.types import Problem, runtime_of, user_of
from graph.authority import Principal
from graph.errors import WriteRejectedError

__all__ = ["CaptureResult", "Mutation"]


@strawberry.type
class CaptureResult:
    ok: bool
    tx: int | None = None
    events_written: int = 0
    events_skipped: int = 0
    nodes_created: int = 0
    nodes_updated: int = 0
    edges_created: int = 0
    problems: list[Problem] = strawberry.field(default_factory=list)
    warnings: list[Problem] = strawberry.field(default_factory=list)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Write one tracegraph.capture/1 document atomically, as "
                                     "the signed-in user.")
    def capture(self, info: Info[Any, None], document: JSON) -> CaptureResult:
        rt = runtime_of(info)
        try:
            user = user_of(info)
            r = rt.capture(cast(dict[str, Any], document),
                           principal=Principal(user.username, user.roles))
        except WriteRejectedError as e:
            return CaptureResult(ok=False, problems=[Problem.of(p) for p in e.problems])
        return CaptureResult(
            ok=True, tx=r.tx, events_written=r.events_written, events_skipped=r.events_skipped,
            nodes_created=r.nodes_created, nodes_updated=r.nodes_updated,
            edges_created=r.edges_created,
            warnings=[Problem.of_warning(w) for w in r.warnings])
