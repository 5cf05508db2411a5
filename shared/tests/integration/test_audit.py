"""The audit trail on a real PostgreSQL: every insert, update and delete of a model marked
`@auditable` is recorded in the same transaction with who, which request, before and after; nothing
rolled back is recorded; the table refuses UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Numeric, String, Table, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from emplan_shared.audit import Actor, actor_var, add_audit_table, auditable, record, set_actor
from emplan_shared.audit.migration_ops import create_audit_table, drop_audit_table
from emplan_shared.context import request_id_var
from emplan_shared.db import create_engine, create_sessionmaker, new_metadata
from emplan_shared.migrate import ensure_database
from emplan_shared.settings import with_database

pytestmark = pytest.mark.integration


class Base(DeclarativeBase):
    metadata = new_metadata()


audit_log = add_audit_table(Base.metadata)


@auditable("widget", redact=("secret",), exclude=("hits",))
class Widget(Base):
    __tablename__ = "widget"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(50))
    region_code: Mapped[str] = mapped_column(String(6))
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    secret: Mapped[str] = mapped_column(String(50))
    hits: Mapped[int] = mapped_column(default=0)


class Note(Base):
    """Not marked: its changes leave no trace."""

    __tablename__ = "note"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(50))


@dataclass
class Db:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]


def _migrate(connection: Connection) -> None:
    # Up, down and up again: the downgrade must leave nothing behind that the upgrade then trips on.
    with Operations.context(MigrationContext.configure(connection)):
        create_audit_table()
        drop_audit_table()
        create_audit_table()


@pytest.fixture(scope="module")
async def db(infra) -> AsyncIterator[Db]:  # type: ignore[no-untyped-def]
    url = with_database(infra.database_url, "emplan_test_audit")
    await ensure_database(url)
    engine = create_engine(url, pool_size=3)
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS widget, note"))
        await connection.run_sync(Base.metadata.create_all, tables=[Widget.__table__, Note.__table__])  # type: ignore[list-item]
        # The audit table through the same helper the services' migrations call.
        await connection.execute(text("DROP TABLE IF EXISTS audit_log"))
        await connection.execute(text("DROP FUNCTION IF EXISTS emplan_audit_immutable() CASCADE"))
        await connection.run_sync(_migrate)
    yield Db(engine, create_sessionmaker(engine))
    await engine.dispose()


@pytest.fixture(autouse=True)
def actor_and_request() -> Iterator[None]:
    # Reset after the test: a sync fixture sets these in the session's own context, and left set
    # they made every later test's consumers (started from that context) act as this user.
    actor = set_actor(Actor(subject="acct-1", kind="user", name="王科长", region_code="140900"))
    request_id = request_id_var.set("req-audit-1")
    yield
    request_id_var.reset(request_id)
    actor_var.reset(actor)


async def _entries(db: Db, object_id: str) -> list[dict]:  # type: ignore[type-arg]
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(audit_log).where(audit_log.c.object_id == object_id).order_by(audit_log.c.id)
        )
        return [dict(row) for row in rows.mappings()]


async def _create(db: Db, **values: object) -> Widget:
    widget = Widget(
        name=values.get("name", "抽水泵"),
        region_code=values.get("region_code", "140902"),
        amount=values.get("amount", Decimal("12.50")),
        secret=values.get("secret", "s3cret"),
    )
    async with db.sessionmaker() as session, session.begin():
        session.add(widget)
    return widget


class TestRecording:
    async def test_insert_is_recorded_with_actor_request_and_values(self, db: Db) -> None:
        widget = await _create(db)
        [entry] = await _entries(db, str(widget.id))
        assert entry["action"] == "create"
        assert entry["object_type"] == "widget"
        assert (entry["actor_subject"], entry["actor_kind"], entry["actor_name"]) == (
            "acct-1",
            "user",
            "王科长",
        )
        assert entry["request_id"] == "req-audit-1"
        assert entry["region_code"] == "140902"
        assert entry["before"] is None
        # Decimals stay exact as strings; the secret never leaves the row; excluded columns absent.
        assert entry["after"]["amount"] == "12.50"
        assert entry["after"]["secret"] == "***"
        assert entry["after"]["name"] == "抽水泵"
        assert "hits" not in entry["after"]

    async def test_update_records_before_and_after(self, db: Db) -> None:
        widget = await _create(db, name="旧名")
        async with db.sessionmaker() as session, session.begin():
            loaded = await session.get(Widget, widget.id)
            assert loaded is not None
            loaded.name = "新名"
            loaded.amount = Decimal("3")
        entries = await _entries(db, str(widget.id))
        assert [e["action"] for e in entries] == ["create", "update"]
        update = entries[1]
        assert update["before"]["name"] == "旧名"
        assert update["after"]["name"] == "新名"
        assert Decimal(update["before"]["amount"]) == Decimal("12.50")
        assert Decimal(update["after"]["amount"]) == Decimal("3")

    async def test_setting_the_same_value_or_an_excluded_column_records_nothing(self, db: Db) -> None:
        widget = await _create(db)
        async with db.sessionmaker() as session, session.begin():
            loaded = await session.get(Widget, widget.id)
            assert loaded is not None
            loaded.name = loaded.name
            loaded.hits = 7
        assert [e["action"] for e in await _entries(db, str(widget.id))] == ["create"]

    async def test_delete_records_the_last_state(self, db: Db) -> None:
        widget = await _create(db, name="报废")
        async with db.sessionmaker() as session, session.begin():
            loaded = await session.get(Widget, widget.id)
            await session.delete(loaded)
        entries = await _entries(db, str(widget.id))
        assert [e["action"] for e in entries] == ["create", "delete"]
        assert entries[1]["before"]["name"] == "报废"
        assert entries[1]["after"] is None
        assert entries[1]["region_code"] == "140902"

    async def test_rolled_back_change_leaves_no_entry(self, db: Db) -> None:
        widget = Widget(name="回滚", region_code="140902", amount=Decimal(1), secret="x")
        async with db.sessionmaker() as session:
            session.add(widget)
            await session.flush()
            await session.rollback()
        assert await _entries(db, str(widget.id)) == []

    async def test_without_a_request_the_system_is_the_actor(self, db: Db) -> None:
        set_actor(None)
        request_id_var.set(None)
        widget = await _create(db)
        [entry] = await _entries(db, str(widget.id))
        assert (entry["actor_subject"], entry["actor_kind"], entry["request_id"]) == (None, "system", None)

    async def test_unmarked_models_are_not_recorded(self, db: Db) -> None:
        async with db.sessionmaker() as session, session.begin():
            session.add(Note(id=1001, body="x"))
        async with db.sessionmaker() as session:
            count = await session.scalar(select(audit_log.c.id).where(audit_log.c.object_id == "1001"))
        assert count is None

    async def test_explicit_security_event(self, db: Db) -> None:
        async with db.sessionmaker() as session, session.begin():
            await record(
                session,
                audit_log,
                action="login_failed",
                object_type="login",
                object_id="nobody",
                after={"address": "10.0.0.9"},
            )
        [entry] = await _entries(db, "nobody")
        assert (entry["action"], entry["after"]) == ("login_failed", {"address": "10.0.0.9"})


class TestAppendOnly:
    @pytest.mark.parametrize(
        "statement",
        ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
    )
    async def test_the_trail_cannot_be_changed(self, db: Db, statement: str) -> None:
        await _create(db)
        async with db.engine.connect() as connection:
            before = await connection.scalar(text("SELECT count(*) FROM audit_log"))
            with pytest.raises(DBAPIError, match="append-only"):
                await connection.execute(text(statement))
            await connection.rollback()
            assert await connection.scalar(text("SELECT count(*) FROM audit_log")) == before


def test_a_marked_model_without_the_table_fails_loudly() -> None:
    class Other(DeclarativeBase):
        metadata = new_metadata()

    @auditable("orphan")
    class Orphan(Other):
        __tablename__ = "orphan"
        id: Mapped[int] = mapped_column(primary_key=True)

    from emplan_shared.audit.recorder import _audit_table

    with pytest.raises(RuntimeError, match="add_audit_table"):
        _audit_table(Orphan(id=1))
    assert isinstance(audit_log, Table)
