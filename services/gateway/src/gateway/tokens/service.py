"""The grants: who gets a token, for how long, with which claims. Never commits itself."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.audit import record
from emplan_shared.errors import EmplanError
from gateway.accounts.models import Account, MachineClient, RefreshToken
from gateway.accounts.passwords import verify_secret
from gateway.accounts.repository import AccountRepository
from gateway.database import audit_log
from gateway.settings import Settings
from gateway.tokens.schemas import TokenResponse
from gateway.tokens.signer import TokenSigner


class OAuthError(EmplanError):
    """An RFC 6749 §5.2 error; `code` is the OAuth error code."""

    status_code = 400


def _invalid_grant(detail: str = "用户名或密码错误") -> OAuthError:
    return OAuthError(detail, code="invalid_grant")


def _account_claims(account: Account) -> dict[str, object]:
    claims: dict[str, object] = {
        "sub": str(account.id),
        "name": account.display_name,
        "preferred_username": account.username,
        "roles": list(account.roles),
        "region": account.region_code,
        "typ": "user",
        # Checked against the account's current version on every request: see gateway.revocation.
        "ver": account.token_version,
    }
    if account.department_id is not None:
        claims["dept"] = str(account.department_id)
    return claims


async def _issue_for_account(
    session: AsyncSession, account: Account, signer: TokenSigner, settings: Settings
) -> TokenResponse:
    access_ttl = settings.access_token_minutes * 60
    refresh_id = uuid.uuid4()
    refresh_ttl = settings.refresh_token_hours * 3600
    await AccountRepository(session).add(
        RefreshToken(
            id=refresh_id,
            account_id=account.id,
            expires_at=datetime.now(UTC) + timedelta(seconds=refresh_ttl),
        )
    )
    return TokenResponse(
        access_token=signer.sign(_account_claims(account), ttl_seconds=access_ttl),
        expires_in=access_ttl,
        refresh_token=signer.sign(
            {"sub": str(account.id), "use": "refresh", "ver": account.token_version},
            ttl_seconds=refresh_ttl,
            token_id=refresh_id,
        ),
    )


async def audit_login(
    session: AsyncSession,
    action: str,
    *,
    username: str,
    address: str,
    reason: str,
    account: Account | None = None,
) -> None:
    """A refused sign-in in the audit trail, about the account when there is one."""
    await record(
        session,
        audit_log,
        action=action,
        object_type="account" if account is not None else "login",
        object_id=str(account.id) if account is not None else username[:200],
        region_code=account.region_code if account is not None else None,
        after={"username": username[:200], "address": address, "reason": reason},
    )


async def password_grant(
    session: AsyncSession,
    signer: TokenSigner,
    settings: Settings,
    *,
    username: str,
    password: str,
    address: str = "",
) -> TokenResponse | OAuthError:
    """A token for a person, or the error to answer with *after* committing: a failed attempt must
    count towards the lockout (and be in the audit trail) even though the request fails."""
    repository = AccountRepository(session)
    account = await repository.by_username(username, for_update=True)
    now = datetime.now(UTC)
    if account is not None and account.locked_until is not None and account.locked_until > now:
        # Checked before the password, so a locked account cannot be used to probe passwords.
        await audit_login(
            session, "login_failed", username=username, address=address, reason="locked", account=account
        )
        return OAuthError(
            "登录失败次数过多，账号已临时锁定，请稍后再试", code="account_locked", status_code=423
        )
    valid = await verify_secret(account.password_hash if account else None, password)
    if account is None or not account.active:
        reason = "unknown_username" if account is None else "disabled"
        await audit_login(
            session, "login_failed", username=username, address=address, reason=reason, account=account
        )
        return _invalid_grant()
    if not valid:
        account.failed_logins += 1
        await audit_login(
            session,
            "login_failed",
            username=username,
            address=address,
            reason="wrong_password",
            account=account,
        )
        if account.failed_logins >= settings.login_max_failures:
            account.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            account.failed_logins = 0
            await audit_login(
                session,
                "account_locked",
                username=username,
                address=address,
                reason=f"{settings.login_max_failures} failures",
                account=account,
            )
        await session.flush()
        return _invalid_grant()
    account.failed_logins = 0
    account.locked_until = None
    return await _issue_for_account(session, account, signer, settings)


async def refresh_grant(
    session: AsyncSession, signer: TokenSigner, settings: Settings, *, refresh_token: str
) -> TokenResponse:
    try:
        claims = signer.decode_own(refresh_token, token_use="refresh")
        token_id = uuid.UUID(claims["jti"])
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise _invalid_grant("刷新令牌无效或已过期") from exc
    repository = AccountRepository(session)
    stored = await repository.refresh_token(token_id)
    if stored is None or stored.used_at is not None:
        raise _invalid_grant("刷新令牌已使用或已撤销")
    stored.used_at = datetime.now(UTC)
    account = await repository.get(stored.account_id)
    if account is None or not account.active:
        raise _invalid_grant("账号已停用")
    if claims.get("ver", 0) != account.token_version:
        raise _invalid_grant("刷新令牌已撤销")
    return await _issue_for_account(session, account, signer, settings)


async def client_credentials_grant(
    session: AsyncSession,
    signer: TokenSigner,
    settings: Settings,
    *,
    client_id: str,
    client_secret: str,
    address: str = "",
) -> TokenResponse | OAuthError:
    client: MachineClient | None = await AccountRepository(session).client_by_client_id(client_id)
    valid = await verify_secret(client.secret_hash if client else None, client_secret)
    if client is None or not client.active or not valid:
        await record(
            session,
            audit_log,
            action="login_failed",
            object_type="machine_client" if client is not None else "login",
            object_id=str(client.id) if client is not None else client_id[:200],
            region_code=client.region_code if client is not None else None,
            after={"client_id": client_id[:200], "address": address, "reason": "invalid_client"},
        )
        return OAuthError("客户端认证失败", code="invalid_client", status_code=401)
    ttl = settings.access_token_minutes * 60
    claims = {
        "sub": client.client_id,
        "name": client.name,
        "roles": list(client.roles),
        "region": client.region_code,
        "typ": "client",
        "ver": client.token_version,
    }
    return TokenResponse(access_token=signer.sign(claims, ttl_seconds=ttl), expires_in=ttl)
