"""The validation pack (issue 19 item 1): the requirements catalogue
(:mod:`tracegraph.validation.catalogue`, ``requirements.toml`` shipped in the package), the
pytest plugin that traces the ``req``-marked tests to it (:mod:`tracegraph.validation.plugin`),
and ``tracegraph validation run`` (IQ, OQ, PQ and the report, :mod:`tracegraph.validation.run`).
"""
