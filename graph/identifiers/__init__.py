"""Identifier resolution, read by both ``ingest/`` and ``api/``: :mod:`graph.identifiers.gs1`
parses and writes GS1 keys in every form (barcode scan, element string, Digital Link, EPC URN),
and :mod:`graph.identifiers.identify` finds the nodes a typed or scanned text identifies."""
