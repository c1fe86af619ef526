"""The one Settings object: every knob, read once from the environment (``TRACEGRAPH_*``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACEGRAPH_", extra="ignore")

    store: Literal["embedded", "neo4j"] = "embedded"
    data_dir: Path = Path("data")
    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    default_actor: str = "system"
    secret_key: str | None = None  # token signing; default: a random key kept in data_dir
    neo4j_uri: str | None = Field(default=None, validation_alias="NEO4J_URI")
    neo4j_user: str = Field(default="neo4j", validation_alias="NEO4J_USER")
    neo4j_password: str = Field(default="", validation_alias="NEO4J_PASSWORD")
    neo4j_database: str | None = Field(default=None, validation_alias="NEO4J_DATABASE")
    # request limits (api.bodies): bodies over them get 413 before parsing; JSON deeper than
    # max_json_depth gets 400
    max_request_bytes: int = 10_000_000  # GraphQL and every other route
    max_upload_bytes: int = 200_000_000  # EPCIS capture (/capture, /events), /api/recall
    max_json_depth: int = 64
    # equipment signals: the broker the serve process listens on for QC notifications
    mqtt_host: str | None = None
    mqtt_port: int = 1883
    # SPC capability (quality.capability.MinSample): below either, Cpk/Ppk are not assessable
    spc_min_subgroups: int = Field(default=25, ge=2)
    spc_min_values: int = Field(default=100, ge=2)
    # the eDHR printed to PDF (GET /api/edhr/{id}?format=pdf, `tracegraph quality edhr`)
    edhr_paper: Literal["A4", "Letter"] = "A4"
    # signal consumers (`tracegraph signals …`): the embedded store's page cache and mmap
    # window in that process, MB (issue 17 G: bounded memory; the API keeps the defaults)
    signals_cache_mb: int = Field(default=2, ge=1)
    signals_mmap_mb: int = Field(default=0, ge=0)
    # store upgrades (tracegraph.upgrade): where the automatic backup before an upgrade goes;
    # default: <data_dir>-upgrade-backups beside the data directory
    upgrade_backup_dir: Path | None = None
    # integration events (issue 18 item 6, tracegraph.integration): the HMAC-SHA256 key the
    # webhooks are signed with (no secret: nothing is delivered), and the outbox poll interval
    webhook_secret: str | None = Field(default=None, repr=False)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    # document control (issue 18 item 1): days after a document revision becomes Effective
    # before an operator must have trained on it to start an operation under it (a revision's
    # own tg:trainingGraceDays wins)
    document_training_grace_days: int = Field(default=14, ge=0, le=366)
    # issue 15 item 4: the plant's IANA time zone (e.g. Asia/Shanghai): the explorer and the eDHR
    # show times in it (stored times stay UTC)
    plant_timezone: str = "UTC"

    @field_validator("plant_timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"TRACEGRAPH_PLANT_TIMEZONE {v!r} is not an IANA time zone "
                             "(e.g. Asia/Shanghai, Europe/Berlin, UTC)") from None
        return v

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "tracegraph.sqlite"


@functools.cache
def settings() -> Settings:
    return Settings()
