"""Capture of documents (own JSON, EPCIS 2.0, RDF) and equipment signals (:mod:`ingest.signals`).

Ingest sits above ``quality`` (a signal excursion opens a deviation and a hold through the
exception loop) and takes a :class:`graph.session.Session`; identifier parsing and resolution,
which the API uses too, live below in :mod:`graph.identifiers`.
"""
