"""`python -m gateway migrate|serve|create-user|create-client`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Role
from emplan_shared.db import create_engine, create_sessionmaker
from emplan_shared.errors import EmplanError
from emplan_shared.service_main import service_main
from gateway.accounts import service
from gateway.accounts.passwords import generate_secret
from gateway.accounts.schemas import AccountCreate, ClientCreate
from gateway.settings import Settings

T = TypeVar("T")
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
ROLES = ", ".join(role.value for role in Role)


async def _in_transaction(action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = Settings()
    engine = create_engine(settings.async_database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await action(session)
    finally:
        await engine.dispose()


def create_user(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway create-user",
        description="创建人员账号 / create a person's account. 不带 --password-stdin 时生成随机密码并只显示一次。",
    )
    parser.add_argument("--username", required=True)
    parser.add_argument("--name", help="显示名 / display name (default: the username)")
    parser.add_argument("--role", action="append", required=True, help=f"repeatable; one of: {ROLES}")
    parser.add_argument("--region", required=True, help="GB/T 2260 code of the account's region")
    parser.add_argument("--department", help="department id, for department reporters")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)
    generated = not args.password_stdin
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass("密码: ")
    else:
        password = generate_secret()
    try:
        data = AccountCreate(
            username=args.username,
            display_name=args.name or args.username,
            roles=args.role,
            region_code=args.region,
            department_id=args.department,
            password=password,
        )
        account = asyncio.run(_in_transaction(lambda s: service.create_account(s, data)))
    except (ValidationError, EmplanError) as exc:
        print(f"创建失败 / failed: {exc}", file=sys.stderr)
        return 2
    print(f"created account {account.username} ({account.id})")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def create_client(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway create-client",
        description="创建机器客户端（如省级平台）/ create a machine client; the secret is shown once.",
    )
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument(
        "--region", required=True, help="GB/T 2260 code: the client sees this region and below"
    )
    parser.add_argument(
        "--role", action="append", help=f"repeatable (default machine_client); one of: {ROLES}"
    )
    args = parser.parse_args(argv)
    try:
        data = ClientCreate(
            client_id=args.client_id,
            name=args.name,
            region_code=args.region,
            roles=args.role or [Role.machine_client],
        )
        client, secret = asyncio.run(_in_transaction(lambda s: service.create_client(s, data)))
    except (ValidationError, EmplanError) as exc:
        print(f"创建失败 / failed: {exc}", file=sys.stderr)
        return 2
    print(f"created client {client.client_id}")
    print(f"client secret (shown once): {secret}")
    return 0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "create-user":
        sys.exit(create_user(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "create-client":
        sys.exit(create_client(sys.argv[2:]))
    service_main(settings_class=Settings, app_factory="gateway.app:create_edge", migrations_dir=MIGRATIONS)


if __name__ == "__main__":
    main()
