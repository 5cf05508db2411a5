"""The `emplan` command's HTTP side: one httpx client on the gateway, a token, problem+json errors.

Imported only when a command runs (never for `--help`), so the command starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

TOKEN_PATH = "/api/v1/auth/token"


class ApiError(Exception):
    """An answer of 4xx/5xx, from its problem+json body when it has one."""

    def __init__(
        self, status: int, code: str, detail: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or []

    @classmethod
    def of(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "code" in body:
            return cls(
                response.status_code, str(body["code"]), str(body.get("detail", "")), body.get("errors")
            )
        return cls(response.status_code, "http_error", response.text[:500] or response.reason_phrase)


@dataclass
class Credentials:
    token: str | None = None
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    client_secret: str | None = None

    @property
    def usable(self) -> bool:
        return bool(
            self.token or (self.username and self.password) or (self.client_id and self.client_secret)
        )


@dataclass
class Api:
    url: str
    credentials: Credentials = field(default_factory=Credentials)
    timeout: float = 120.0
    _client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.url.rstrip("/"), timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def login(self) -> str:
        """A token: the given one, or one issued for the password or client credentials."""
        credentials = self.credentials
        if credentials.token:
            return credentials.token
        if credentials.username and credentials.password:
            form = {
                "grant_type": "password",
                "username": credentials.username,
                "password": credentials.password,
            }
        elif credentials.client_id and credentials.client_secret:
            form = {
                "grant_type": "client_credentials",
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret,
            }
        else:
            raise ApiError(
                401,
                "credentials_missing",
                "未提供凭据：请设置 EMPLAN_TOKEN，或 EMPLAN_USERNAME/EMPLAN_PASSWORD，"
                "或 EMPLAN_CLIENT_ID/EMPLAN_CLIENT_SECRET",
            )
        response = self.client.post(TOKEN_PATH, data=form)
        if response.status_code != 200:
            raise ApiError.of(response)
        credentials.token = str(response.json()["access_token"])
        return credentials.token

    def request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if auth:
            headers["Authorization"] = f"Bearer {self.login()}"
        response = self.client.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise ApiError.of(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()
