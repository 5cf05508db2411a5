from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emplan_shared.audit import Actor, set_actor
from emplan_shared.auth import CurrentPrincipal, access_rule
from emplan_shared.errors import EmplanError, ProblemItem, problem_responses
from gateway.tokens import service
from gateway.tokens.ratelimit import LoginLimiter
from gateway.tokens.schemas import JsonWebKeySet, Me, TokenResponse
from gateway.tokens.service import OAuthError
from gateway.tokens.signer import TokenSigner

router = APIRouter(tags=["auth"])


def _signer(request: Request) -> TokenSigner:
    signer: TokenSigner | None = request.app.state.token_signer
    if signer is None:
        raise OAuthError(
            "本部署由外部身份认证服务签发令牌，请向其申请", code="unsupported_grant_type", status_code=400
        )
    return signer


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


class TooManyAttempts(EmplanError):
    status_code, code = 429, "too_many_attempts"


def client_address(request: Request) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the nearest address
    in X-Forwarded-For that is not one."""
    peer = request.client.host if request.client else ""
    trusted = set(request.app.state.settings.trusted_proxies)
    if peer not in trusted:
        return peer
    forwarded = [
        part.strip() for part in request.headers.get("x-forwarded-for", "").split(",") if part.strip()
    ]
    for address in reversed(forwarded):
        if address not in trusted:
            return address[:64]
    return peer


def _limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter | None = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        settings = request.app.state.settings
        limiter = request.app.state.login_limiter = LoginLimiter(
            per_username=settings.login_failures_per_username,
            per_address=settings.login_failures_per_address,
            window_seconds=settings.login_rate_window_seconds,
        )
    return limiter


def _missing(*names: str) -> OAuthError:
    return OAuthError(
        "缺少必填参数",
        code="invalid_request",
        errors=[ProblemItem(field=f"body.{name}", detail="缺少必填参数") for name in names],
    )


@router.post(
    "/api/v1/auth/token",
    response_model=TokenResponse,
    operation_id="issueToken",
    responses=problem_responses(400, 401, 423, 429),
    openapi_extra={"security": []} | access_rule(scope="public"),
)
async def issue_token(
    request: Request,
    grant_type: Annotated[str, Form(description="`password`, `client_credentials` or `refresh_token`")],
    username: Annotated[str | None, Form()] = None,
    password: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
) -> TokenResponse:
    """Issue an access token (OAuth2 password, client-credentials or refresh grant)."""
    signer = _signer(request)
    settings = request.app.state.settings
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    address = client_address(request)
    # A trusted proxy's own address (the machine itself, with no X-Forwarded-For) has no budget of
    # its own: it stands for many people. The per-username budget and the lockout still apply.
    limited_address = "" if address in settings.trusted_proxies else address
    limiter = _limiter(request)
    set_actor(Actor(subject=None, kind="anonymous", name=address))
    outcome: TokenResponse | EmplanError
    # Who is trying: the username, or the client id, counted against the same budget.
    who: str | None = None
    # The token endpoint owns its unit of work: a failed login is committed before the error answers.
    async with sessionmaker() as session, session.begin():
        if grant_type == "password":
            if not username or not password:
                raise _missing(*(n for n, v in (("username", username), ("password", password)) if not v))
            who = username
            outcome = await _refusal(session, limiter, who, limited_address) or await service.password_grant(
                session, signer, settings, username=username, password=password, address=address
            )
        elif grant_type == "client_credentials":
            basic = _basic_credentials(request)
            if basic is not None:
                client_id, client_secret = basic
            if not client_id or not client_secret:
                raise _missing("client_id", "client_secret")
            who = f"client:{client_id}"
            outcome = await _refusal(
                session, limiter, who, limited_address
            ) or await service.client_credentials_grant(
                session, signer, settings, client_id=client_id, client_secret=client_secret, address=address
            )
        elif grant_type == "refresh_token":
            if not refresh_token:
                raise _missing("refresh_token")
            outcome = await service.refresh_grant(session, signer, settings, refresh_token=refresh_token)
        else:
            raise OAuthError(f"不支持的授权类型：{grant_type}", code="unsupported_grant_type")
    if isinstance(outcome, EmplanError):
        if who is not None and not isinstance(outcome, TooManyAttempts):
            limiter.failed(who, limited_address)
        raise outcome
    return outcome


async def _refusal(
    session: AsyncSession, limiter: LoginLimiter, who: str, address: str
) -> TooManyAttempts | None:
    """429 (committed to the audit trail, then answered) while the username or address is over
    its budget of failures; checked before the password, which is then not even compared."""
    wait = limiter.retry_after(who, address)
    if wait is None:
        return None
    if limiter.first_refusal(who, address):
        # Once per window and key, not per request: an attack must not flood the trail.
        await service.audit_login(
            session, "login_rate_limited", username=who, address=address, reason="rate_limited"
        )
    return TooManyAttempts(f"登录尝试过于频繁，请 {wait} 秒后再试", headers={"Retry-After": str(wait)})


@router.get(
    "/api/v1/auth/jwks",
    response_model=JsonWebKeySet,
    operation_id="getJwks",
    openapi_extra={"security": []} | access_rule(scope="public"),
)
async def jwks(request: Request) -> dict[str, Any]:
    """The public keys tokens are signed with (JWKS)."""
    signer = _signer(request)
    return signer.jwks()


@router.get(
    "/api/v1/auth/me",
    response_model=Me,
    operation_id="getMe",
    responses=problem_responses(401),
    openapi_extra=access_rule("any", scope="self"),
)
async def me(principal: CurrentPrincipal) -> Me:
    """Who the token says the caller is."""
    return Me(
        subject=principal.subject,
        name=principal.name,
        roles=sorted(principal.roles),
        region_code=principal.region_code,
        department_id=uuid.UUID(principal.department_id) if principal.department_id else None,
        is_client=principal.is_client,
    )
