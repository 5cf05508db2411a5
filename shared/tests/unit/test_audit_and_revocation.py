"""Pure rules of the audit trail (how values are kept) and of the services' revocation list."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from emplan_shared.audit.recorder import jsonable
from emplan_shared.auth import RevocationList, Role, access_rule
from emplan_shared.errors import Unauthorized


class Colour(enum.Enum):
    red = "红"


class TestJsonable:
    def test_exact_and_readable(self) -> None:
        some_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
        assert jsonable(
            {
                "amount": Decimal("0.030"),
                "id": some_id,
                "at": datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
                "day": date(2025, 12, 31),
                "light": Colour.red,
                "roles": {"viewer", "evaluator"},
                "blob": b"abc",
            }
        ) == {
            "amount": "0.030",
            "id": "12345678-1234-5678-1234-567812345678",
            "at": "2026-11-23T08:00:00+00:00",
            "day": "2025-12-31",
            "light": "红",
            "roles": ["evaluator", "viewer"],
            "blob": "<3 bytes>",
        }


class TestRevocationList:
    def test_tokens_below_the_minimum_version_are_refused(self) -> None:
        revocations = RevocationList()
        revocations.revoke("user", "a1", min_version=3)
        assert revocations.is_revoked({"sub": "a1", "typ": "user", "ver": 2})
        assert not revocations.is_revoked({"sub": "a1", "typ": "user", "ver": 3})
        # A token without a version predates versions: refused once its subject was revoked.
        assert revocations.is_revoked({"sub": "a1", "typ": "user"})
        # Another subject, or a client with the same name, is not affected.
        assert not revocations.is_revoked({"sub": "a2", "typ": "user", "ver": 0})
        assert not revocations.is_revoked({"sub": "a1", "typ": "client", "ver": 0})

    def test_an_older_event_arriving_late_does_not_lower_the_minimum(self) -> None:
        revocations = RevocationList()
        revocations.revoke("client", "prov", min_version=5)
        revocations.revoke("client", "prov", min_version=2)
        assert revocations.is_revoked({"sub": "prov", "typ": "client", "ver": 4})

    def test_entries_expire_after_tokens_could(self) -> None:
        revocations = RevocationList(keep_seconds=-1)
        revocations.revoke("user", "a1", min_version=9)
        assert not revocations.is_revoked({"sub": "a1", "typ": "user", "ver": 1})

    async def test_check_answers_401_token_revoked(self) -> None:
        revocations = RevocationList()
        revocations.revoke("user", "a1", min_version=1)
        with pytest.raises(Unauthorized) as raised:
            await revocations.check({"sub": "a1", "typ": "user", "ver": 0})
        assert raised.value.code == "token_revoked"
        assert raised.value.status_code == 401


def test_access_rule_extension() -> None:
    assert access_rule(Role.bureau_planner, "viewer") == {
        "x-emplan-access": {"roles": ["bureau_planner", "viewer"], "scope": "jurisdiction"}
    }
    assert access_rule(scope="public") == {"x-emplan-access": {"roles": [], "scope": "public"}}
