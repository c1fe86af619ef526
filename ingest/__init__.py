"""Capture of documents (own JSON, later EPCIS and CSV) and equipment signals."""
