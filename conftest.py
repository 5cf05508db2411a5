"""Fixtures every test tree shares: the real PostgreSQL server and NATS server the tests talk to.

By default the tests start their own (the same standalone PostgreSQL and nats-server `make run`
uses, in a temporary directory on free ports); `TEST_DATABASE_URL` / `TEST_NATS_URL` point them at
existing servers instead. There is no mock of either.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent
SEEDS = REPO_ROOT.parent / "shared" / "seeds"


@dataclass(frozen=True)
class Infra:
    database_url: str  # server URL; tests create and drop their own databases on it
    nats_url: str


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    database_url = os.environ.get("TEST_DATABASE_URL")
    nats_url = os.environ.get("TEST_NATS_URL")
    if database_url and nats_url:
        yield Infra(database_url=database_url, nats_url=nats_url)
        return
    from emplan_tools.stack import Stack

    stack = Stack(
        tmp_path_factory.mktemp("stack"),
        free_ports=True,
        external_database_url=database_url,
        external_nats_url=nats_url,
    )
    started = stack.start_infra()
    try:
        yield Infra(database_url=started.database_url, nats_url=started.nats_url)
    finally:
        stack.stop_all()
