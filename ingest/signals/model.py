"""The one observation model every signal adapter emits, and the tag mapping configuration.

An :class:`Observation` is one sample of one tag: which equipment and tag, the value and its
unit, when the source measured it (UTC milliseconds), when we received it, the source's quality
and the source's sequence number. A :class:`TagMap` (validated at start) says which equipment
and which process parameter each source address feeds. The inverse of :func:`text_to_ms`,
``ms_to_text``, lives in :mod:`ontology.datatypes` (quality and the API use it too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Observation", "Quality", "TagBinding", "TagMap", "text_to_ms"]

Quality = Literal["good", "uncertain", "bad"]


@dataclass(frozen=True, slots=True)
class Observation:
    equipment: str  # equipment tag (the Equipment node's business key)
    tag: str  # the parameter code the tag feeds (ParameterSpec code suffix)
    value: float
    unit: str
    source_ms: int  # source time, UTC epoch milliseconds
    received_ms: int  # receive time, UTC epoch milliseconds
    quality: Quality = "good"
    sequence: int = 0  # the transport's sequence number (0 when it has none)

    @property
    def stream(self) -> tuple[str, str]:
        return (self.equipment, self.tag)

    def content(self) -> tuple[str, str, float, str, int, str]:
        """What the sample says, independent of how it travelled (contract comparisons)."""
        return (self.equipment, self.tag, self.value, self.unit, self.source_ms, self.quality)


def text_to_ms(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone")
    return round(dt.timestamp() * 1000)


def now_ms() -> int:
    return round(datetime.now(UTC).timestamp() * 1000)


class TagBinding(BaseModel):
    """One source address → equipment (or room) → process (or environment) parameter."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    address: str = Field(min_length=1, description="MQTT topic, OPC UA NodeId or CSV tag name")
    equipment: str | None = Field(None, min_length=1, description="equipment tag")
    room: str | None = Field(None, min_length=1, description="room code (environment "
                             "monitoring: TEMP, RH, DP, PC05, PC5)")
    parameter: str = Field(min_length=1, description="parameter code, e.g. MELT-TEMP")
    unit: str = Field(min_length=1, description="UCUM unit the source sends")
    residence_delay: float = Field(
        default=0.0, ge=0, le=86_400, alias="residenceDelay",
        description="seconds from the sensor to where the material is recorded "
                    "(tg:residenceDelay, quality.residence): a sample at t belongs to the "
                    "execution running at t + delay")
    drift: int = Field(default=0, ge=0, description="watch the parameter for drift (equipment "
                       "health, issue 17 item 2): EWMA/CUSUM on subgroup means of this many "
                       "samples; 0 = off")

    @property
    def delay_ms(self) -> int:
        return round(self.residence_delay * 1000)

    @model_validator(mode="after")
    def _one_source(self) -> TagBinding:
        if (self.equipment is None) == (self.room is None):
            raise ValueError(f"address {self.address!r}: give exactly one of equipment or room")
        return self

    @property
    def source(self) -> str:
        """The stream's source key: the equipment tag or the room code."""
        return self.equipment if self.equipment is not None else str(self.room)


class TagMap(BaseModel):
    """The tag mapping: validated when a consumer starts (unknown fields, duplicate addresses,
    empty values are refused with the field named)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tags: list[TagBinding] = Field(min_length=1)

    @field_validator("tags")
    @classmethod
    def _unique(cls, tags: list[TagBinding]) -> list[TagBinding]:
        seen: set[str] = set()
        delays: dict[tuple[str, str], float] = {}
        for t in tags:
            if t.address in seen:
                raise ValueError(f"address {t.address!r} is mapped twice")
            seen.add(t.address)
            d = delays.setdefault((t.source, t.parameter), t.residence_delay)
            if d != t.residence_delay:  # one stream, one place of the material
                raise ValueError(f"residenceDelay {t.residence_delay!r} of {t.address!r} differs "
                                 f"from {d!r} of the same equipment and parameter")
        return tags

    def by_address(self) -> dict[str, TagBinding]:
        return {t.address: t for t in self.tags}

    @classmethod
    def load(cls, path: Path) -> TagMap:
        return cls.model_validate(json.loads(path.read_text()))
