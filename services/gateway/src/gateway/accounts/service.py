"""Accounts and machine clients: creating, changing, disabling, resetting and rotating. Never
commits: the caller's unit of work does. Every change is recorded in the audit trail by the models'
`@auditable` marking; every change that must end existing sessions raises the token version."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal, Role
from emplan_shared.errors import Conflict, Forbidden, NotFound, ProblemItem, UnprocessableEntity
from emplan_shared.events.catalogue import AUTH_ACCESS_REVOKED
from emplan_shared.events.payloads import AccessRevoked
from emplan_shared.messaging.outbox import enqueue
from gateway.accounts import rules
from gateway.accounts.models import Account, MachineClient
from gateway.accounts.passwords import check_password_strength, generate_secret, hash_secret
from gateway.accounts.repository import AccountRepository
from gateway.accounts.schemas import AccountCreate, AccountUpdate, ClientCreate, ClientUpdate
from gateway.database import messaging
from gateway.revocation import mark_revoked


def _account_not_found() -> NotFound:
    return NotFound("账号不存在", code="account_not_found")


def _client_not_found() -> NotFound:
    return NotFound("客户端不存在", code="client_not_found")


async def _publish_revocation(
    session: AsyncSession, *, kind: str, subject: str, min_version: int, reason: str, region_code: str
) -> None:
    """Services verify tokens themselves; this event tells them, in the same transaction as the
    change, which tokens no longer count (see emplan_shared.revocation_feed)."""
    event = AUTH_ACCESS_REVOKED.build(
        AccessRevoked(
            kind="client" if kind == "client" else "user",
            subject=subject,
            min_version=min_version,
            reason=reason,
            revoked_at=datetime.now(UTC),
        ),
        subject=f"{kind}/{subject}",
        region_code=region_code,
    )
    await enqueue(session, messaging.outbox_event, event)


async def _end_sessions(session: AsyncSession, account: Account, reason: str) -> None:
    account.token_version += 1
    mark_revoked(session, f"user:{account.id}")
    await AccountRepository(session).end_refresh_tokens(account.id)
    await _publish_revocation(
        session,
        kind="user",
        subject=str(account.id),
        min_version=account.token_version,
        reason=reason,
        region_code=account.region_code,
    )


async def create_account(
    session: AsyncSession, data: AccountCreate, principal: Principal | None = None
) -> Account:
    """With a principal (the API), the rules of who may grant what apply; without (the operator's
    command on the server), they do not."""
    if principal is not None:
        rules.check_region(principal, data.region_code)
        rules.check_roles(principal, data.roles)
    weakness = check_password_strength(data.password)
    if weakness is not None:
        raise UnprocessableEntity(
            weakness, code="weak_password", errors=[ProblemItem(field="body.password", detail=weakness)]
        )
    repository = AccountRepository(session)
    if await repository.by_username(data.username) is not None:
        raise Conflict(f"用户名 {data.username} 已被使用", code="username_taken")
    account = Account(
        username=data.username,
        display_name=data.display_name,
        password_hash=hash_secret(data.password),
        roles=sorted({role.value for role in data.roles}),
        region_code=data.region_code,
        department_id=data.department_id,
    )
    await repository.add(account)
    return account


async def get_account(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> Account:
    account = await AccountRepository(session).get_visible(account_id, principal)
    if account is None:
        raise _account_not_found()
    return account


async def _manageable_account(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> Account:
    account = await AccountRepository(session).get_visible(account_id, principal, for_update=True)
    if account is None:
        raise _account_not_found()
    rules.check_manageable(principal, account.roles, not_found=_account_not_found())
    return account


def _not_self(principal: Principal, account: Account) -> None:
    if not principal.is_client and principal.subject == str(account.id):
        raise Forbidden("不能停用、重置或变更自己账号的角色与地区，请由其他管理员操作", code="own_account")


async def update_account(
    session: AsyncSession, principal: Principal, account_id: uuid.UUID, data: AccountUpdate
) -> Account:
    account = await _manageable_account(session, principal, account_id)
    changes = data.model_dump(exclude_unset=True)
    ends_sessions = False
    if "display_name" in changes and data.display_name is not None:
        account.display_name = data.display_name
    if "roles" in changes and data.roles is not None:
        rules.check_roles(principal, data.roles)
        roles = sorted({role.value for role in data.roles})
        if roles != sorted(account.roles):
            account.roles = roles
            ends_sessions = True
    if "region_code" in changes and data.region_code is not None:
        rules.check_region(principal, data.region_code)
        if data.region_code != account.region_code:
            account.region_code = data.region_code
            ends_sessions = True
    if "department_id" in changes and data.department_id != account.department_id:
        account.department_id = data.department_id
        ends_sessions = True
    if ends_sessions:
        _not_self(principal, account)
        await _end_sessions(session, account, "account_changed")
    await session.flush()
    return account


async def set_account_active(
    session: AsyncSession, principal: Principal, account_id: uuid.UUID, *, active: bool
) -> Account:
    account = await _manageable_account(session, principal, account_id)
    if account.active != active:
        _not_self(principal, account)
        account.active = active
        if not active:
            await _end_sessions(session, account, "disabled")
        else:
            account.failed_logins = 0
            account.locked_until = None
    await session.flush()
    return account


async def reset_password(
    session: AsyncSession, principal: Principal, account_id: uuid.UUID
) -> tuple[Account, str]:
    """A new random password (shown once); the account's sessions end and its lockout is lifted."""
    account = await _manageable_account(session, principal, account_id)
    _not_self(principal, account)
    password = generate_secret()
    account.password_hash = hash_secret(password)
    account.failed_logins = 0
    account.locked_until = None
    await _end_sessions(session, account, "password_reset")
    await session.flush()
    return account, password


async def list_accounts(
    session: AsyncSession,
    principal: Principal,
    *,
    region_code: str | None,
    role: Role | None,
    active: bool | None,
    after: str | None,
    limit: int,
) -> list[Account]:
    # A filter outside the jurisdiction is 404, as in every service's lists (docs/decisions.md).
    principal.require_region(region_code, field="query.region_code")
    return await AccountRepository(session).list_visible(
        principal,
        region_code=region_code,
        role=role.value if role is not None else None,
        active=active,
        after=after,
        limit=limit,
    )


async def create_client(
    session: AsyncSession, data: ClientCreate, principal: Principal | None = None
) -> tuple[MachineClient, str]:
    """The new client and its secret, which is shown once and stored only hashed."""
    if principal is not None:
        rules.check_region(principal, data.region_code)
        rules.check_roles(principal, data.roles)
    repository = AccountRepository(session)
    if await repository.client_by_client_id(data.client_id) is not None:
        raise Conflict(f"客户端 {data.client_id} 已存在", code="client_exists")
    secret = generate_secret()
    client = MachineClient(
        client_id=data.client_id,
        name=data.name,
        secret_hash=hash_secret(secret),
        roles=sorted({role.value for role in data.roles}),
        region_code=data.region_code,
    )
    await repository.add(client)
    return client, secret


async def get_client(session: AsyncSession, principal: Principal, client_uuid: uuid.UUID) -> MachineClient:
    client = await AccountRepository(session).client_visible(client_uuid, principal)
    if client is None:
        raise _client_not_found()
    return client


async def _manageable_client(
    session: AsyncSession, principal: Principal, client_uuid: uuid.UUID
) -> MachineClient:
    client = await AccountRepository(session).client_visible(client_uuid, principal, for_update=True)
    if client is None:
        raise _client_not_found()
    rules.check_manageable(principal, client.roles, not_found=_client_not_found())
    return client


async def _end_client_tokens(session: AsyncSession, client: MachineClient, reason: str) -> None:
    client.token_version += 1
    mark_revoked(session, f"client:{client.client_id}")
    await _publish_revocation(
        session,
        kind="client",
        subject=client.client_id,
        min_version=client.token_version,
        reason=reason,
        region_code=client.region_code,
    )


async def update_client(
    session: AsyncSession, principal: Principal, client_uuid: uuid.UUID, data: ClientUpdate
) -> MachineClient:
    client = await _manageable_client(session, principal, client_uuid)
    changes = data.model_dump(exclude_unset=True)
    ends_tokens = False
    if "name" in changes and data.name is not None:
        client.name = data.name
    if "roles" in changes and data.roles is not None:
        rules.check_roles(principal, data.roles)
        roles = sorted({role.value for role in data.roles})
        if roles != sorted(client.roles):
            client.roles = roles
            ends_tokens = True
    if "region_code" in changes and data.region_code is not None:
        rules.check_region(principal, data.region_code)
        if data.region_code != client.region_code:
            client.region_code = data.region_code
            ends_tokens = True
    if ends_tokens:
        await _end_client_tokens(session, client, "client_changed")
    await session.flush()
    return client


async def set_client_active(
    session: AsyncSession, principal: Principal, client_uuid: uuid.UUID, *, active: bool
) -> MachineClient:
    client = await _manageable_client(session, principal, client_uuid)
    if client.active != active:
        client.active = active
        if not active:
            await _end_client_tokens(session, client, "disabled")
    await session.flush()
    return client


async def rotate_client_secret(
    session: AsyncSession, principal: Principal, client_uuid: uuid.UUID
) -> tuple[MachineClient, str]:
    """A new secret, shown once; the old one and every token issued with it stop working at once."""
    client = await _manageable_client(session, principal, client_uuid)
    secret = generate_secret()
    client.secret_hash = hash_secret(secret)
    await _end_client_tokens(session, client, "secret_rotated")
    await session.flush()
    return client, secret


async def list_clients(
    session: AsyncSession, principal: Principal, *, region_code: str | None, after: str | None, limit: int
) -> list[MachineClient]:
    # A filter outside the jurisdiction is 404, as in every service's lists (docs/decisions.md).
    principal.require_region(region_code, field="query.region_code")
    return await AccountRepository(session).list_clients(
        principal, region_code=region_code, after=after, limit=limit
    )
