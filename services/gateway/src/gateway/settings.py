from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from emplan_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")
    service_name: ClassVar[str] = "gateway"

    plan_registry_url: str = "http://127.0.0.1:8101"
    indicator_engine_url: str = "http://127.0.0.1:8102"
    task_assignment_url: str = "http://127.0.0.1:8103"
    evaluation_url: str = "http://127.0.0.1:8104"

    jwt_private_key_file: Path | None = Field(
        None,
        validation_alias=AliasChoices("EMPLAN_JWT_PRIVATE_KEY_FILE"),
        description="Ed25519 private key (PEM) the gateway signs its tokens with; unset when an "
        "external OIDC issuer signs them",
    )
    access_token_minutes: int = 15
    refresh_token_hours: int = 8
    login_max_failures: int = Field(5, description="failed logins before an account is locked")
    login_lockout_minutes: int = 15
    login_failures_per_username: int = Field(
        10, description="failed sign-ins per username within the window before 429"
    )
    login_failures_per_address: int = Field(
        30, description="failed sign-ins per client address within the window before 429"
    )
    login_rate_window_seconds: int = 300
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="peers whose X-Forwarded-For names the client address (a TLS proxy in front)",
    )

    upstream_connect_timeout: float = 2.0
    upstream_read_timeout: float = Field(60.0, description="seconds to wait for a service's response")
    # CORS, off unless origins are given: browsers on other origins (a front-end served elsewhere) may
    # then call the API. Answered here, preflights included, before any request reaches a service.
    cors_origins: list[str] = Field(
        default_factory=list,
        description='origins allowed by CORS, e.g. ["https://yjj.example.gov.cn"]; ["*"] for any; '
        "empty: CORS off",
    )
    cors_methods: list[str] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"],
        description="methods a cross-origin request may use",
    )
    cors_headers: list[str] = Field(
        default_factory=lambda: [
            "Authorization",
            "Content-Type",
            "If-Match",
            "X-Request-Id",
        ],
        description="request headers a cross-origin request may send",
    )
    cors_max_age: int = Field(600, description="seconds a browser may cache a preflight answer")

    def upstreams(self) -> dict[str, str]:
        return {
            "plan-registry": self.plan_registry_url,
            "indicator-engine": self.indicator_engine_url,
            "task-assignment": self.task_assignment_url,
            "evaluation": self.evaluation_url,
        }
