"""The REST routes, one thin module per concern: each reads the runtime and the signed-in user
through :mod:`api.deps` and checks :data:`api.auth.RULES` with :func:`api.deps.require` before
anything else.

- :mod:`api.routes.auth`: ``POST /auth/token`` (sign in)
- :mod:`api.routes.epcis`: the GS1 EPCIS 2.0 REST binding (``/capture``, ``/events``,
  ``/epcis/genealogy``)
- :mod:`api.routes.edhr`: ``GET /api/edhr/{id}`` (device history record as HTML, PDF, JSON)
- :mod:`api.routes.health`: ``GET /health``
- :mod:`api.routes.recall`: ``POST /api/recall`` (the recall export as a zip)
- :mod:`api.routes.explorer`: the explorer page's static files at ``/explorer``
- :mod:`api.routes.integration`: ``GET /api/integration/events`` (workflow events after a
  cursor), ``GET``/``POST /api/integration/webhooks`` (admin: the webhook endpoints)
"""
