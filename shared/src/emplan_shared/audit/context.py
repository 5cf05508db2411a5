"""Who is acting in the current request (or command), for the audit rows written during it."""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["user", "client", "system", "anonymous"]


@dataclass(frozen=True)
class Actor:
    subject: str | None
    kind: ActorKind
    name: str | None = None
    region_code: str | None = None


SYSTEM = Actor(subject=None, kind="system")

# Set by `current_principal` once a token is verified; unset means a command, a consumer or a job.
actor_var: ContextVar[Actor | None] = ContextVar("audit_actor", default=None)


def set_actor(actor: Actor | None) -> Token[Actor | None]:
    return actor_var.set(actor)


def current_actor() -> Actor:
    return actor_var.get() or SYSTEM
