"""Creating accounts and machine clients. Never commits: the caller's unit of work does."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.errors import Conflict, ProblemItem, UnprocessableEntity
from gateway.accounts.models import Account, MachineClient
from gateway.accounts.passwords import check_password_strength, generate_secret, hash_secret
from gateway.accounts.repository import AccountRepository
from gateway.accounts.schemas import AccountCreate, ClientCreate


async def create_account(session: AsyncSession, data: AccountCreate) -> Account:
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
        roles=[role.value for role in data.roles],
        region_code=data.region_code,
        department_id=data.department_id,
    )
    await repository.add(account)
    return account


async def create_client(session: AsyncSession, data: ClientCreate) -> tuple[MachineClient, str]:
    """The new client and its secret, which is shown once and stored only hashed."""
    repository = AccountRepository(session)
    if await repository.client_by_client_id(data.client_id) is not None:
        raise Conflict(f"客户端 {data.client_id} 已存在", code="client_exists")
    secret = generate_secret()
    client = MachineClient(
        client_id=data.client_id,
        name=data.name,
        secret_hash=hash_secret(secret),
        roles=[role.value for role in data.roles],
        region_code=data.region_code,
    )
    await repository.add(client)
    return client, secret
