"""The HTTP API: GraphQL at /graphql, REST where a standard wants it, and the explorer."""
