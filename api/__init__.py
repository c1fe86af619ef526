"""The HTTP API: GraphQL at /graphql, REST where a standard wants it, and the explorer.

:mod:`api.app` assembles the FastAPI application from :mod:`api.routes` (the REST routes, one
thin module each) and :mod:`api.graphql` (the schema, one module per domain on the shared types
of :mod:`api.graphql.types`); :mod:`api.deps` gives routes the runtime and the signed-in user;
:mod:`api.auth` holds the tokens and the authorization table every operation is checked against.
"""
