from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from emplan_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INDICATOR_ENGINE_", extra="ignore")
    service_name: ClassVar[str] = "indicator-engine"
