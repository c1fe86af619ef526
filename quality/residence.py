"""Signals in their true context (issue 17, item 4): the one place where a sample's time is
shifted by its tag's residence (transport) delay.

A sensor upstream of where the material is recorded sees the material earlier: an extruder's
melt temperature measured at ``t`` describes the tubing that passes the downstream point at
``t + delay``. So a sample at ``t`` belongs to the execution (and batch) whose window contains
:func:`material_ms` ``(t, delay)``, and an execution from ``start`` to ``end`` is described by
the samples taken in :func:`sample_window` ``(start, end, delay)`` = ``[start - delay,
end - delay]``. Everyone who attributes samples to an execution calls these: the signal
pipeline (context, excursion → affected lots, per-execution aggregates), the SPC chart's raw
subgroups and, through the aggregates, the eDHR. The delay is set per tag in the tag map
(``residenceDelay``, seconds) and recorded on each aggregate as ``tg:residenceDelay``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ontology.terms import P

__all__ = ["delay_of", "delay_seconds", "material_ms", "sample_window"]


def material_ms(sample_ms: int, delay_ms: int) -> int:
    """When the material a sample taken at ``sample_ms`` describes reaches the recorded point."""
    return sample_ms + delay_ms


def sample_window(start_ms: int, end_ms: int, delay_ms: int) -> tuple[int, int]:
    """The sample times that describe the material recorded from ``start_ms`` to ``end_ms``
    (the inverse of :func:`material_ms`)."""
    return material_ms(start_ms, -delay_ms), material_ms(end_ms, -delay_ms)


def delay_seconds(delay_ms: int) -> float:
    """The delay as ``tg:residenceDelay`` records it (seconds)."""
    return delay_ms / 1000


def delay_of(props: Mapping[str, object]) -> int:
    """The delay (ms) an aggregate records in ``tg:residenceDelay`` (absent: 0)."""
    v = props.get(P.residenceDelay)
    return round(float(v) * 1000) if isinstance(v, int | float) and not isinstance(v, bool) \
        else 0
