from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from emplan_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PLAN_REGISTRY_", extra="ignore")
    service_name: ClassVar[str] = "plan-registry"

    max_document_bytes: int = Field(
        10 * 1024 * 1024,
        gt=0,
        description="largest plan document accepted by the import (PLAN_REGISTRY_MAX_DOCUMENT_BYTES); "
        "the request body limit (EMPLAN_MAX_BODY_BYTES, 20 MB) stays above it",
    )
    max_event_bytes: int = Field(
        900_000,
        gt=0,
        description="largest plan.published event; NATS refuses messages over its max_payload (1 MB)",
    )
