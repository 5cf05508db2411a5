"""Settings every service shares, read from the environment.

Each service subclasses `ServiceSettings` with its own `env_prefix` (`PLAN_REGISTRY_`, …) for its own
options. The options common to the whole deployment (`DATABASE_URL`, `NATS_URL`, `EMPLAN_*`) carry
explicit aliases, which pydantic-settings reads without the service prefix.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def database_name_for(service: str, prefix: str = "emplan_") -> str:
    """The database a service owns on a shared server: `emplan_plan_registry` for `plan-registry`."""
    return prefix + service.replace("-", "_")


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database, with the asyncpg driver."""
    parsed = make_url(url).set(drivername="postgresql+asyncpg", database=database)
    return parsed.render_as_string(hide_password=False)


class ServiceSettings(BaseSettings):
    """Options of one service process. Subclasses set `service_name` and `env_prefix`."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    service_name: ClassVar[str] = "service"

    env: Environment = Field(
        Environment.development, validation_alias=AliasChoices("EMPLAN_ENV"), description="deployment kind"
    )
    server_database_url: str = Field(
        DEFAULT_SERVER_URL,
        validation_alias=AliasChoices("DATABASE_URL"),
        description="PostgreSQL server; each service uses its own database on it",
    )
    database_url: str | None = Field(
        None, description="this service's own database; derived from DATABASE_URL when unset"
    )
    database_prefix: str = Field(
        "emplan_",
        validation_alias=AliasChoices("EMPLAN_DATABASE_PREFIX"),
        description="prefix of the per-service database names on the DATABASE_URL server",
    )
    nats_url: str = Field(
        "nats://127.0.0.1:4222",
        validation_alias=AliasChoices("NATS_URL"),
        description="NATS server; several servers of a cluster comma-separated",
    )
    nats_stream_replicas: int = Field(
        1,
        ge=1,
        le=5,
        validation_alias=AliasChoices("EMPLAN_NATS_STREAM_REPLICAS"),
        description="copies of each JetStream stream: 3 on a three-node cluster (docs/operations.md)",
    )
    jwt_public_key_file: Path | None = Field(
        None,
        validation_alias=AliasChoices("EMPLAN_JWT_PUBLIC_KEY_FILE"),
        description="PEM public key or JWKS file of the token issuer",
    )
    jwt_jwks_url: str | None = Field(
        None,
        validation_alias=AliasChoices("EMPLAN_JWT_JWKS_URL"),
        description="JWKS URL of an external OIDC issuer (used when no key file is given)",
    )
    jwt_issuer: str = Field("emplan", validation_alias=AliasChoices("EMPLAN_JWT_ISSUER"))
    jwt_audience: str = Field("emplan", validation_alias=AliasChoices("EMPLAN_JWT_AUDIENCE"))
    jwt_algorithms: list[str] = Field(
        default_factory=lambda: ["EdDSA", "RS256", "ES256"],
        validation_alias=AliasChoices("EMPLAN_JWT_ALGORITHMS"),
    )
    log_level: str = Field("INFO", validation_alias=AliasChoices("EMPLAN_LOG_LEVEL"))
    log_format: str = Field("json", validation_alias=AliasChoices("EMPLAN_LOG_FORMAT"))
    max_body_bytes: int = Field(
        20 * 1024 * 1024,
        validation_alias=AliasChoices("EMPLAN_MAX_BODY_BYTES"),
        description="largest request body accepted (uploads included)",
    )
    exchange_cursor_key_file: Path | None = Field(
        None,
        validation_alias=AliasChoices("EMPLAN_EXCHANGE_CURSOR_KEY_FILE"),
        description="secret every service signs exchange cursors with (docs/exchange.md)",
    )
    exchange_cursor_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("EMPLAN_EXCHANGE_CURSOR_KEY"),
        description="the same secret given directly (the file is preferred)",
    )
    db_pool_size: int = 10
    metrics_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("EMPLAN_METRICS_TOKEN"),
        description="bearer token Prometheus presents for /metrics and /readyz/details (see docs/operations.md)",
    )
    metrics_sample_seconds: float = Field(
        5.0,
        gt=0,
        validation_alias=AliasChoices("EMPLAN_METRICS_SAMPLE_SECONDS"),
        description="how often the outbox backlog and consumer lag are sampled for /metrics",
    )
    consumer_max_attempts: int = Field(
        5, description="handler failures before an event goes to the dead-letter subject"
    )

    @model_validator(mode="after")
    def _derive_database_url(self) -> ServiceSettings:
        if self.database_url is None:
            self.database_url = with_database(
                self.server_database_url, database_name_for(self.service_name, self.database_prefix)
            )
        else:
            self.database_url = with_database(self.database_url, make_url(self.database_url).database or "")
        return self

    @property
    def async_database_url(self) -> str:
        assert self.database_url is not None
        return self.database_url
