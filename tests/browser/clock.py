"""How the explorer's formatter (api/explorer/js/format.js) writes a stored UTC time, computed
independently with zoneinfo: the date in the locale's order (en-US: 01/05/2026, zh-CN:
2026/01/05), 24-hour time, then Chromium's short zone name — "UTC", or "GMT+8" for a zone
with a whole-hour offset (the zones these tests use)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["shown_time"]


def shown_time(stored: str, zone: str = "UTC", lang: str = "en") -> str:
    at = datetime.fromisoformat(stored.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    offset = at.utcoffset()
    hours = int(offset.total_seconds() // 3600) if offset is not None else 0
    name = "UTC" if zone == "UTC" else f"GMT{hours:+d}"
    date = f"{at:%Y/%m/%d}" if lang == "zh" else f"{at:%m/%d/%Y}"
    return f"{date} {at:%H:%M:%S} {name}"
