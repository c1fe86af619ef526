"""A genealogy page as one typed JSON value (issue 16 item 1): the rows of
:class:`graph.pages.GenealogyPage` prepared for the ``Genealogy.rows`` field, so a bulk page of
1,000 nodes is not resolved field by field. The same values as the ``nodes``/``edges`` fields
(secrets left out, as :meth:`api.graphql.types.Node.of` leaves them out)."""

from __future__ import annotations

from typing import Any, cast

from strawberry.scalars import JSON

from api.graphql.types import _SECRETS
from graph.pages import GenealogyPage

__all__ = ["page_rows"]


def page_rows(page: GenealogyPage | None) -> JSON:
    if page is None:
        return cast(JSON, {"nodes": [], "edges": []})
    return cast(JSON, {
        "nodes": [{"iri": n.iri, "class": n.label, "key": n.key, "depth": d,
                   "properties": _public(n.props), "recordedAt": n.recorded_at,
                   "updatedAt": n.updated_at}
                  for n, d in page.nodes],
        # (the page's own dicts: they are serialised as they are, never changed)
        "edges": [{"source": e.src, "type": e.type, "target": e.dst, "edgeId": e.eid,
                   "properties": e.props, "recordedAt": e.recorded_at}
                  for e in page.edges]})


def _public(props: dict[str, Any]) -> dict[str, Any]:
    """The properties without secrets (most records have none: then the record's own dict)."""
    if _SECRETS.isdisjoint(props):
        return props
    return {k: v for k, v in props.items() if k not in _SECRETS}
