"""Closed quality loops: deviations, holds, CAPA, change control, batch release, e-signatures."""
