from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from emplan_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INDICATOR_ENGINE_", extra="ignore")
    service_name: ClassVar[str] = "indicator-engine"
    # --- data values (definitions and data feature)
    data_min_year: int = Field(2000, description="earliest year a data value may carry")
    data_max_year: int = Field(2035, description="latest year a data value may carry")
    jump_factor: int = Field(3, ge=2, description="a value over this many times last year's is flagged")
    # Bulk uploads of a million rows are ~30 MB of CSV: this service takes larger bodies than the rest.
    max_body_bytes: int = Field(
        256 * 1024 * 1024, validation_alias=AliasChoices("INDICATOR_ENGINE_MAX_BODY_BYTES")
    )
