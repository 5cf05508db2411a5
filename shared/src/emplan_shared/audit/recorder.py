"""Recording changes: models marked `@auditable` get one audit row per insert, update and delete,
written in the same transaction as the change by a session event, so no service code writes audit
rows by hand (and none can forget to).

The `before_flush` event reads each dirty object's attribute history (the values as loaded) before
SQLAlchemy writes it; `after_flush` reads the values written (primary keys now assigned) and inserts
the rows through the flush's own connection. Both events are registered once, on every session,
and do nothing for models that are not marked.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from sqlalchemy import Table, event, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, Session, UOWTransaction

from emplan_shared.audit.context import current_actor
from emplan_shared.audit.tables import AUDIT_TABLE
from emplan_shared.context import current_request_id

T = TypeVar("T", bound=type)

REDACTED = "***"
_MISSING = object()
_PENDING_KEY = "emplan_audit_pending"


@dataclass(frozen=True)
class AuditSpec:
    object_type: str
    # Attributes never copied into the trail (secrets); a change to one shows as "***" → "***".
    redact: frozenset[str] = field(default_factory=frozenset)
    # Attributes left out entirely (noise such as updated_at or counters).
    exclude: frozenset[str] = field(default_factory=frozenset)
    region_attr: str | None = "region_code"


def auditable(
    object_type: str,
    *,
    redact: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    region_attr: str | None = "region_code",
) -> Any:
    """Class decorator: record every insert, update and delete of this model in `audit_log`."""

    def mark(cls: T) -> T:
        cls.__emplan_audit__ = AuditSpec(  # type: ignore[attr-defined]
            object_type, frozenset(redact), frozenset(exclude), region_attr
        )
        return cls

    return mark


def _spec(obj: object) -> AuditSpec | None:
    spec = getattr(type(obj), "__emplan_audit__", None)
    return spec if isinstance(spec, AuditSpec) else None


def jsonable(value: Any) -> Any:
    """A value as JSON keeps it exactly: decimals as strings, never floats."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def _column_keys(obj: object, spec: AuditSpec) -> list[str]:
    mapper: Mapper[Any] = inspect(type(obj))
    return [attr.key for attr in mapper.column_attrs if attr.key not in spec.exclude]


def _state_values(obj: object, spec: AuditSpec, *, before: bool) -> dict[str, Any]:
    """The loaded column values; with `before`, each changed one as it was loaded."""
    state = inspect(obj)
    values: dict[str, Any] = {}
    for key in _column_keys(obj, spec):
        if key not in state.dict and not before:
            continue  # not loaded (a server default not fetched back): never lazy-load in a flush
        value: Any = state.dict.get(key, _MISSING)
        if before:
            history = state.attrs[key].history
            if history.deleted:
                value = history.deleted[0]
            elif history.added and not history.unchanged:
                value = _MISSING
        if value is _MISSING:
            continue
        values[key] = REDACTED if key in spec.redact and value is not None else jsonable(value)
    return values


def _object_id(obj: object) -> str:
    identity = inspect(obj).identity
    if identity is None:
        mapper: Mapper[Any] = inspect(type(obj))
        identity = tuple(mapper.primary_key_from_instance(obj))
    return ",".join(str(part) for part in identity)


def _audit_table(obj: object) -> Table:
    mapper: Mapper[Any] = inspect(type(obj))
    table = cast(Table, mapper.local_table).metadata.tables.get(AUDIT_TABLE)
    if table is None:
        raise RuntimeError(
            f"{type(obj).__name__} is @auditable but its metadata has no audit_log table: "
            "call add_audit_table(Base.metadata)"
        )
    return table


@dataclass
class _Pending:
    obj: object
    spec: AuditSpec
    action: str
    before: dict[str, Any] | None


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _flush_context: UOWTransaction, _instances: object) -> None:
    pending: list[_Pending] = session.info.setdefault(_PENDING_KEY, [])
    for obj in session.new:
        spec = _spec(obj)
        if spec is not None:
            pending.append(_Pending(obj, spec, "create", None))
    for obj in session.dirty:
        spec = _spec(obj)
        # is_modified ignores attributes set to the value they already had: no row for a no-op.
        if spec is not None and session.is_modified(obj, include_collections=False):
            pending.append(_Pending(obj, spec, "update", _state_values(obj, spec, before=True)))
    for obj in session.deleted:
        spec = _spec(obj)
        if spec is not None:
            pending.append(_Pending(obj, spec, "delete", _state_values(obj, spec, before=True)))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush_context: UOWTransaction) -> None:
    pending: list[_Pending] = session.info.pop(_PENDING_KEY, [])
    if not pending:
        return
    actor = current_actor()
    request_id = current_request_id()
    rows_by_table: dict[Table, list[dict[str, Any]]] = {}
    for item in pending:
        after = None if item.action == "delete" else _state_values(item.obj, item.spec, before=False)
        if item.action == "update" and after is not None and item.before is not None:
            if after == item.before:
                continue  # only excluded attributes changed
        region = None
        if item.spec.region_attr is not None:
            source = item.before if item.action == "delete" else after
            region_value = (source or {}).get(item.spec.region_attr)
            region = region_value if isinstance(region_value, str) else None
        rows_by_table.setdefault(_audit_table(item.obj), []).append(
            {
                "actor_subject": actor.subject,
                "actor_kind": actor.kind,
                "actor_name": actor.name,
                "request_id": request_id,
                "action": item.action,
                "object_type": item.spec.object_type,
                "object_id": _object_id(item.obj),
                "region_code": region,
                "before": item.before,
                "after": after,
            }
        )
    connection = session.connection()
    for table, rows in rows_by_table.items():
        connection.execute(insert(table), rows)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


async def record(
    session: AsyncSession,
    table: Table,
    *,
    action: str,
    object_type: str,
    object_id: str,
    region_code: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """An audit row for something that is not a model change (a refused login, a lockout)."""
    actor = current_actor()
    await session.execute(
        insert(table).values(
            actor_subject=actor.subject,
            actor_kind=actor.kind,
            actor_name=actor.name,
            request_id=current_request_id(),
            action=action,
            object_type=object_type,
            object_id=object_id,
            region_code=region_code,
            before=jsonable(before) if before is not None else None,
            after=jsonable(after) if after is not None else None,
        )
    )
