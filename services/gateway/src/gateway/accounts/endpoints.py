"""Accounts of people and machine clients, managed through the API by administrators within their
jurisdiction (`/api/v1/auth/accounts`, `/api/v1/auth/clients`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from emplan_shared.auth import Principal, Role, access_rule, require_roles
from emplan_shared.db import DbSession
from emplan_shared.errors import BadRequest, ProblemItem, problem_responses
from emplan_shared.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from gateway.accounts import rules, service
from gateway.accounts.schemas import (
    AccountCreate,
    AccountRead,
    AccountUpdate,
    ClientCreate,
    ClientRead,
    ClientSecret,
    ClientUpdate,
    PasswordReset,
)

router = APIRouter(prefix="/api/v1/auth", tags=["accounts"], responses=problem_responses(401, 403, 422))

AccountManager = Annotated[Principal, require_roles(*rules.ACCOUNT_MANAGERS)]
ClientManager = Annotated[Principal, require_roles(*rules.CLIENT_MANAGERS)]
RegionQuery = Annotated[str | None, Query(pattern=r"^\d{6}$", description="only this region (GB/T 2260)")]
ACCOUNT_RULE = access_rule(*rules.ACCOUNT_MANAGERS)
CLIENT_RULE = access_rule(*rules.CLIENT_MANAGERS)


def _after(cursor: str | None) -> str | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 1 or not isinstance(key[0], str):
        raise BadRequest(
            "分页游标无效",
            code="invalid_cursor",
            errors=[ProblemItem(field="query.cursor", detail="无法解析")],
        )
    return key[0]


@router.post(
    "/accounts",
    status_code=201,
    response_model=AccountRead,
    operation_id="createAccount",
    responses=problem_responses(409),
    openapi_extra=ACCOUNT_RULE,
)
async def create_account(data: AccountCreate, session: DbSession, principal: AccountManager) -> AccountRead:
    """Create a person's account in a region of the caller's jurisdiction."""
    return AccountRead.model_validate(await service.create_account(session, data, principal))


@router.get(
    "/accounts",
    response_model=Page[AccountRead],
    operation_id="listAccounts",
    responses=problem_responses(400),
    openapi_extra=ACCOUNT_RULE,
)
async def list_accounts(
    session: DbSession,
    principal: AccountManager,
    region_code: RegionQuery = None,
    role: Role | None = None,
    active: bool | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AccountRead]:
    """Accounts in the caller's jurisdiction, by username."""
    accounts = await service.list_accounts(
        session,
        principal,
        region_code=region_code,
        role=role,
        active=active,
        after=_after(cursor),
        limit=limit + 1,
    )
    items = [AccountRead.model_validate(a) for a in accounts[:limit]]
    return Page[AccountRead](
        items=items, next_cursor=encode_cursor([items[-1].username]) if len(accounts) > limit else None
    )


@router.get(
    "/accounts/{account_id}",
    response_model=AccountRead,
    operation_id="getAccount",
    responses=problem_responses(404),
    openapi_extra=ACCOUNT_RULE,
)
async def get_account(account_id: uuid.UUID, session: DbSession, principal: AccountManager) -> AccountRead:
    """One account (404 outside the caller's jurisdiction)."""
    return AccountRead.model_validate(await service.get_account(session, principal, account_id))


@router.patch(
    "/accounts/{account_id}",
    response_model=AccountRead,
    operation_id="updateAccount",
    responses=problem_responses(404),
    openapi_extra=ACCOUNT_RULE,
)
async def update_account(
    account_id: uuid.UUID, data: AccountUpdate, session: DbSession, principal: AccountManager
) -> AccountRead:
    """Change an account's name, roles, region or department; new roles or region end its sessions."""
    return AccountRead.model_validate(await service.update_account(session, principal, account_id, data))


@router.post(
    "/accounts/{account_id}/disable",
    response_model=AccountRead,
    operation_id="disableAccount",
    responses=problem_responses(404),
    openapi_extra=ACCOUNT_RULE,
)
async def disable_account(
    account_id: uuid.UUID, session: DbSession, principal: AccountManager
) -> AccountRead:
    """Disable an account: its tokens stop working on their next request."""
    return AccountRead.model_validate(
        await service.set_account_active(session, principal, account_id, active=False)
    )


@router.post(
    "/accounts/{account_id}/enable",
    response_model=AccountRead,
    operation_id="enableAccount",
    responses=problem_responses(404),
    openapi_extra=ACCOUNT_RULE,
)
async def enable_account(account_id: uuid.UUID, session: DbSession, principal: AccountManager) -> AccountRead:
    """Enable a disabled account again (it signs in anew; old tokens stay revoked)."""
    return AccountRead.model_validate(
        await service.set_account_active(session, principal, account_id, active=True)
    )


@router.post(
    "/accounts/{account_id}/password-reset",
    response_model=PasswordReset,
    operation_id="resetAccountPassword",
    responses=problem_responses(404),
    openapi_extra=ACCOUNT_RULE,
)
async def reset_password(
    account_id: uuid.UUID, session: DbSession, principal: AccountManager
) -> PasswordReset:
    """Set a new random password, shown once; the account's sessions end and any lockout is lifted."""
    _account, password = await service.reset_password(session, principal, account_id)
    return PasswordReset(password=password)


@router.post(
    "/clients",
    status_code=201,
    response_model=ClientSecret,
    operation_id="createClient",
    responses=problem_responses(409),
    openapi_extra=CLIENT_RULE,
)
async def create_client(data: ClientCreate, session: DbSession, principal: ClientManager) -> ClientSecret:
    """Register a machine client (a provincial platform); its secret is shown this once."""
    client, secret = await service.create_client(session, data, principal)
    return ClientSecret(client=ClientRead.model_validate(client), client_secret=secret)


@router.get(
    "/clients",
    response_model=Page[ClientRead],
    operation_id="listClients",
    responses=problem_responses(400),
    openapi_extra=CLIENT_RULE,
)
async def list_clients(
    session: DbSession,
    principal: ClientManager,
    region_code: RegionQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ClientRead]:
    """Machine clients in the caller's jurisdiction, by client id."""
    clients = await service.list_clients(
        session, principal, region_code=region_code, after=_after(cursor), limit=limit + 1
    )
    items = [ClientRead.model_validate(c) for c in clients[:limit]]
    return Page[ClientRead](
        items=items, next_cursor=encode_cursor([items[-1].client_id]) if len(clients) > limit else None
    )


@router.get(
    "/clients/{client_uuid}",
    response_model=ClientRead,
    operation_id="getClient",
    responses=problem_responses(404),
    openapi_extra=CLIENT_RULE,
)
async def get_client(client_uuid: uuid.UUID, session: DbSession, principal: ClientManager) -> ClientRead:
    """One machine client (404 outside the caller's jurisdiction)."""
    return ClientRead.model_validate(await service.get_client(session, principal, client_uuid))


@router.patch(
    "/clients/{client_uuid}",
    response_model=ClientRead,
    operation_id="updateClient",
    responses=problem_responses(404),
    openapi_extra=CLIENT_RULE,
)
async def update_client(
    client_uuid: uuid.UUID, data: ClientUpdate, session: DbSession, principal: ClientManager
) -> ClientRead:
    """Change a client's name, roles or region; new roles or region end its tokens."""
    return ClientRead.model_validate(await service.update_client(session, principal, client_uuid, data))


@router.post(
    "/clients/{client_uuid}/disable",
    response_model=ClientRead,
    operation_id="disableClient",
    responses=problem_responses(404),
    openapi_extra=CLIENT_RULE,
)
async def disable_client(client_uuid: uuid.UUID, session: DbSession, principal: ClientManager) -> ClientRead:
    """Revoke a machine client: its tokens stop working on their next request."""
    return ClientRead.model_validate(
        await service.set_client_active(session, principal, client_uuid, active=False)
    )


@router.post(
    "/clients/{client_uuid}/enable",
    response_model=ClientRead,
    operation_id="enableClient",
    responses=problem_responses(404),
    openapi_extra=CLIENT_RULE,
)
async def enable_client(client_uuid: uuid.UUID, session: DbSession, principal: ClientManager) -> ClientRead:
    """Enable a disabled machine client again."""
    return ClientRead.model_validate(
        await service.set_client_active(session, principal, client_uuid, active=True)
    )


@router.post(
    "/clients/{client_uuid}/secret",
    response_model=ClientSecret,
    operation_id="rotateClientSecret",
    responses=problem_responses(404),
    openapi_extra=CLIENT_RULE,
)
async def rotate_client_secret(
    client_uuid: uuid.UUID, session: DbSession, principal: ClientManager
) -> ClientSecret:
    """Replace a client's secret (shown once); the old secret and its tokens stop working at once."""
    client, secret = await service.rotate_client_secret(session, principal, client_uuid)
    return ClientSecret(client=ClientRead.model_validate(client), client_secret=secret)
