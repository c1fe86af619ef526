"""A genealogy page as one typed JSON value (issue 16 item 1): the rows of
:class:`graph.pages.GenealogyPage` prepared for the ``Genealogy.rows`` field, so a bulk page of
1,000 nodes is not resolved field by field. The same values as the ``nodes``/``edges`` fields
(secrets left out, as :meth:`api.graphql.types.Node.of` leaves them out).

Properties read as stored JSON text (the embedded engine) go into the answer as that text
(``orjson.Fragment``: the HTTP answer is written by orjson), never decoded and encoded again;
only a text naming a secret property is decoded, to leave the secret out."""

from __future__ import annotations

from typing import Any, cast

import orjson
from strawberry.scalars import JSON

from api.graphql.types import _SECRETS
from graph.pages import GenealogyPage

__all__ = ["page_rows"]

#: how a secret property's name appears in a stored JSON text
_SECRET_KEYS = tuple(orjson.dumps(k).decode() + ":" for k in sorted(_SECRETS))


def page_rows(page: GenealogyPage | None) -> JSON:
    if page is None:
        return cast(JSON, {"nodes": [], "edges": []})
    return cast(JSON, {
        "nodes": [{"iri": i, "class": lb, "key": k, "depth": d, "properties": _public(p),
                   "recordedAt": r, "updatedAt": u}
                  for (i, lb, k, p, r, u, _), d in page.raw_nodes],
        # (the page's own dicts or texts: they are serialised as they are, never changed)
        "edges": [{"source": s, "type": t, "target": dst, "edgeId": eid,
                   "properties": orjson.Fragment(p) if isinstance(p, str) else p,
                   "recordedAt": r}
                  for s, t, dst, eid, p, r, _ in page.raw_edges]})


def _public(props: str | dict[str, Any]) -> Any:
    """The properties without secrets: a stored text naming none as it is, a record's own dict
    when it holds none."""
    if isinstance(props, str):
        if not any(k in props for k in _SECRET_KEYS):
            return orjson.Fragment(props)
        props = orjson.loads(props)
        assert isinstance(props, dict)
    if _SECRETS.isdisjoint(props):
        return props
    return {k: v for k, v in props.items() if k not in _SECRETS}
