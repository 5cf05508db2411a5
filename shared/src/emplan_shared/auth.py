"""Who is calling, and what they may see: token verification, roles, and jurisdiction.

Every service verifies the bearer token itself (not only the gateway), so a call that bypasses the
gateway gets nothing it should not. A jurisdiction is a region and everything below it; with GB/T 2260
codes that is a code prefix (`14` a province, `1409` a city, `140902` a county), which goes straight
into SQL as `region_code LIKE '1409%'` so objects outside it are never loaded.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from jwt import PyJWK, PyJWKClient, PyJWKSet
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

from emplan_shared.audit.context import Actor, set_actor
from emplan_shared.errors import Forbidden, NotFound, ProblemItem, RefusedRegion, Unauthorized
from emplan_shared.settings import ServiceSettings

_REGION_CODE = re.compile(r"^\d{6}$")


class Role(StrEnum):
    system_admin = "system_admin"
    bureau_planner = "bureau_planner"
    department_reporter = "department_reporter"
    evaluator = "evaluator"
    viewer = "viewer"
    machine_client = "machine_client"


def jurisdiction_prefix(region_code: str) -> str:
    """The code prefix shared by a region and all regions below it (`140900` → `1409`)."""
    if not _REGION_CODE.match(region_code):
        raise ValueError(f"not a 6-digit GB/T 2260 code: {region_code!r}")
    if region_code == "000000":  # the whole country
        return ""
    prefix = region_code
    while prefix.endswith("00"):
        prefix = prefix[:-2]
    return prefix


class Principal(BaseModel):
    """The caller, as the token's claims describe them."""

    subject: str = Field(description="account or client id")
    name: str | None = None
    roles: frozenset[Role]
    region_code: str = Field(description="the account's region; its jurisdiction is this and below")
    department_id: str | None = None
    token_id: str | None = None
    is_client: bool = False

    def has_any(self, *roles: Role) -> bool:
        return Role.system_admin in self.roles or any(role in self.roles for role in roles)

    @property
    def jurisdiction(self) -> str:
        return jurisdiction_prefix(self.region_code)

    def can_see(self, region_code: str) -> bool:
        return region_code.startswith(self.jurisdiction)

    def require_region(self, region_code: str | None, *, field: str) -> None:
        """A region a request names (a filter, a body field) outside the jurisdiction is refused
        404, as if it did not exist, rather than quietly met with the jurisdiction (an empty list
        would tell the caller nothing about why). The refusal is recorded in the service's audit
        trail (`RefusedRegion`, see `emplan_shared.audit.refusals`)."""
        if region_code is not None and not self.can_see(region_code):
            raise NotFound(
                f"地区 {region_code} 不存在或不在当前账号的管辖范围内",
                code="region_not_found",
                errors=[ProblemItem(field=field, code="region_not_found", detail="不在管辖范围内")],
                refused_region=RefusedRegion(region_code, field),
            )

    def within(self, column: InstrumentedAttribute[str] | ColumnElement[str]) -> ColumnElement[bool]:
        """SQL condition: the row's region lies in the caller's jurisdiction."""
        return column.startswith(self.jurisdiction, autoescape=True)


# Called with a token's verified claims on every request; raises Unauthorized when the token was
# revoked (its account disabled, its client rotated). The signature cache never skips it.
RevocationCheck = Callable[[dict[str, Any]], Awaitable[None]]


class RevocationList:
    """Revocations a process has heard of (from the `auth.revoked` event feed): per subject, the
    lowest token version still valid, or never again when disabled. Entries are kept for as long
    as a token issued before them could still be unexpired."""

    def __init__(self, keep_seconds: float = 3600.0) -> None:
        self.keep_seconds = keep_seconds
        self._entries: dict[tuple[str, str], tuple[int | None, float]] = {}

    def revoke(self, kind: str, subject: str, *, min_version: int | None) -> None:
        """Tokens of `subject` with a version below `min_version` (all of them when None) fail."""
        current = self._entries.get((kind, subject))
        if current is not None and current[0] is not None and min_version is not None:
            min_version = max(min_version, current[0])
        self._entries[(kind, subject)] = (min_version, time.monotonic() + self.keep_seconds)

    def reinstate(self, kind: str, subject: str, *, min_version: int) -> None:
        """An account enabled again: tokens from `min_version` on are valid."""
        self._entries[(kind, subject)] = (min_version, time.monotonic() + self.keep_seconds)

    def is_revoked(self, claims: dict[str, Any]) -> bool:
        kind = "client" if claims.get("typ") == "client" else "user"
        entry = self._entries.get((kind, str(claims.get("sub"))))
        if entry is None:
            return False
        min_version, keep_until = entry
        if keep_until < time.monotonic():
            del self._entries[(kind, str(claims.get("sub")))]
            return False
        if min_version is None:
            return True
        version = claims.get("ver")
        return not isinstance(version, int) or version < min_version

    async def check(self, claims: dict[str, Any]) -> None:
        if self.is_revoked(claims):
            raise Unauthorized("访问令牌已被撤销", code="token_revoked")


class TokenVerifier:
    """Verifies emplan's own tokens (a key file) or an external OIDC issuer's (its JWKS URL).

    A signature check costs about 0.2 ms; a client sends the same token many times, so verified
    tokens are remembered until they expire (bounded, least recently used dropped first).
    """

    cache_size = 10_000

    def __init__(self, settings: ServiceSettings) -> None:
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()
        # Services: the revocation feed's list; the gateway replaces it with its own database check.
        self.revocations = RevocationList(keep_seconds=3600.0)
        self.revocation_check: RevocationCheck | None = self.revocations.check
        # Told of every refused token (the gateway records them in its audit trail).
        self.on_refused: Callable[[str, Unauthorized], Awaitable[None]] | None = None
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        # `none` is never accepted, whatever the token header asks for.
        self.algorithms = [a for a in settings.jwt_algorithms if a.lower() != "none"]
        self._keys: list[Any] = []
        self._jwks_client: PyJWKClient | None = None
        if settings.jwt_public_key_file is not None:
            self._keys = _load_keys(settings.jwt_public_key_file)
        elif settings.jwt_jwks_url:
            self._jwks_client = PyJWKClient(settings.jwt_jwks_url, cache_keys=True, lifespan=3600)

    @property
    def configured(self) -> bool:
        return bool(self._keys) or self._jwks_client is not None

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            claims = await self._verify_cached(token)
            if self.revocation_check is not None:
                await self.revocation_check(claims)
        except Unauthorized as exc:
            if self.on_refused is not None:
                await self.on_refused(token, exc)
            raise
        return claims

    async def _verify_cached(self, token: str) -> dict[str, Any]:
        claims = self._verified.get(token)
        if claims is not None:
            if claims["exp"] > time.time():
                self._verified.move_to_end(token)
                return claims
            del self._verified[token]
        claims = await self._verify_signature(token)
        self._verified[token] = claims
        if len(self._verified) > self.cache_size:
            self._verified.popitem(last=False)
        return claims

    async def _verify_signature(self, token: str) -> dict[str, Any]:
        if self._jwks_client is not None:
            # PyJWKClient fetches over blocking HTTP; keep it off the event loop.
            try:
                signing_key = await asyncio.to_thread(self._jwks_client.get_signing_key_from_jwt, token)
            except jwt.PyJWTError as exc:  # unknown kid, unreachable issuer, malformed token
                raise _as_unauthorized(exc) from exc
            return self._decode(token, signing_key.key)
        if not self._keys:
            raise Unauthorized("服务未配置令牌校验密钥", code="token_verification_unavailable")
        header = _header(token)
        candidates = [
            k for k in self._keys if not isinstance(k, PyJWK) or k.key_id in (None, header.get("kid"))
        ]
        last_error: Exception | None = None
        for key in candidates or self._keys:
            try:
                return self._decode(token, key.key if isinstance(key, PyJWK) else key)
            except jwt.InvalidSignatureError as exc:
                last_error = exc
        raise _as_unauthorized(last_error or jwt.InvalidSignatureError())

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=5,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise _as_unauthorized(exc) from exc


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise _as_unauthorized(exc) from exc


def _as_unauthorized(exc: Exception) -> Unauthorized:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return Unauthorized("访问令牌已过期", code="token_expired")
    if isinstance(exc, jwt.InvalidAudienceError):
        return Unauthorized("访问令牌的受众不正确", code="token_invalid")
    return Unauthorized("访问令牌无效", code="token_invalid")


def _load_keys(path: Path) -> list[Any]:
    text = path.read_text()
    if text.lstrip().startswith("{"):
        return list(PyJWKSet.from_json(text).keys)
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return [load_pem_public_key(text.encode())]


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        roles = frozenset(Role(r) for r in claims.get("roles", []) if r in Role.__members__)
        return Principal(
            subject=str(claims["sub"]),
            name=claims.get("name"),
            roles=roles,
            region_code=str(claims["region"]),
            department_id=claims.get("dept"),
            token_id=claims.get("jti"),
            is_client=claims.get("typ") == "client",
        )
    except (KeyError, ValueError) as exc:
        raise Unauthorized("访问令牌缺少必要的声明", code="token_invalid") from exc


async def current_principal(request: Request) -> Principal:
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("缺少访问令牌（Authorization: Bearer …）", code="token_missing")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = principal_from_claims(await verifier.verify(token.strip()))
    request.state.principal = principal
    # Writes made while answering this request are attributed to this caller in the audit trail.
    set_actor(
        Actor(
            subject=principal.subject,
            kind="client" if principal.is_client else "user",
            name=principal.name,
            region_code=principal.region_code,
        )
    )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Any:
    """Dependency: the caller holds one of these roles (system admins hold them all)."""

    async def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any(*roles):
            raise Forbidden("当前账号无权执行此操作", code="role_required")
        return principal

    return Depends(_check)


def access_rule(*roles: Role | str, scope: str = "jurisdiction", **extra: Any) -> dict[str, Any]:
    """`openapi_extra` declaring who may call an operation, read by the access-matrix test:
    `roles` that may call it ("any" for every signed-in caller, none for a public operation) and
    `scope`: `jurisdiction` (objects outside the caller's region subtree answer 404), `global`
    (reference data every caller sees), `self` (the caller's own record) or `public`."""
    rule: dict[str, Any] = {
        "roles": [str(r.value if isinstance(r, Role) else r) for r in roles],
        "scope": scope,
    }
    rule.update(extra)
    return {"x-emplan-access": rule}
