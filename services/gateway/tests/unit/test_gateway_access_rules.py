"""The gateway's pure rules: who may grant which roles, the sign-in rate limiter, and which
address a request comes from."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from emplan_shared.auth import Principal, Role
from emplan_shared.errors import Forbidden, NotFound, UnprocessableEntity
from gateway.accounts import rules
from gateway.tokens import ratelimit
from gateway.tokens.endpoints import client_address
from gateway.tokens.ratelimit import LoginLimiter, SlidingWindowLimiter


def _principal(*roles: Role, region: str = "140900") -> Principal:
    return Principal(subject="a", roles=frozenset(roles), region_code=region)


class TestGrants:
    def test_a_system_admin_grants_every_role(self) -> None:
        assert rules.grantable(_principal(Role.system_admin)) == frozenset(Role)

    def test_a_planner_grants_reporters_and_viewers_only(self) -> None:
        planner = _principal(Role.bureau_planner)
        rules.check_roles(planner, [Role.department_reporter, Role.viewer])
        for role in (Role.system_admin, Role.bureau_planner, Role.evaluator, Role.machine_client):
            with pytest.raises(Forbidden) as raised:
                rules.check_roles(planner, [Role.viewer, role])
            assert raised.value.code == "role_not_grantable"
            assert [item.field for item in raised.value.errors] == ["body.roles"]

    def test_others_manage_nothing(self) -> None:
        viewer = _principal(Role.viewer, Role.evaluator)
        with pytest.raises(NotFound):
            rules.check_manageable(viewer, ["viewer"], not_found=NotFound("x"))

    def test_an_account_with_a_higher_role_is_not_the_planners(self) -> None:
        planner = _principal(Role.bureau_planner)
        rules.check_manageable(planner, ["department_reporter"], not_found=NotFound("x"))
        with pytest.raises(Forbidden) as raised:
            rules.check_manageable(planner, ["viewer", "system_admin"], not_found=NotFound("x"))
        assert raised.value.code == "account_not_manageable"

    @pytest.mark.parametrize(
        ("region", "inside"), [("140900", True), ("140902", True), ("140100", False), ("140000", False)]
    )
    def test_regions_only_inside_the_jurisdiction(self, region: str, inside: bool) -> None:
        admin = _principal(Role.system_admin)
        if inside:
            rules.check_region(admin, region)
        else:
            with pytest.raises(UnprocessableEntity) as raised:
                rules.check_region(admin, region)
            assert raised.value.code == "region_outside_jurisdiction"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(ratelimit.time, "monotonic", fake.monotonic)
    return fake


class TestSlidingWindow:
    def test_refuses_after_the_limit_until_the_oldest_failure_leaves_the_window(
        self, clock: FakeClock
    ) -> None:
        limiter = SlidingWindowLimiter(limit=3, window_seconds=60)
        for second in (0, 10, 20):
            clock.now = 1000 + second
            assert limiter.retry_after("k") is None
            limiter.hit("k")
        clock.now = 1030
        # The first failure (t=0) leaves the window at t=60: 30 seconds from now.
        assert limiter.retry_after("k") == 30
        clock.now = 1060.5
        assert limiter.retry_after("k") is None
        assert limiter.retry_after("other") is None

    def test_the_key_table_is_bounded(self, clock: FakeClock) -> None:
        limiter = SlidingWindowLimiter(limit=1, window_seconds=60, max_keys=3)
        for key in "abcd":
            limiter.hit(key)
        assert limiter.retry_after("a") is None  # dropped first
        assert limiter.retry_after("d") is not None


class TestLoginLimiter:
    def test_usernames_case_insensitive_and_addresses_counted_apart(self, clock: FakeClock) -> None:
        limiter = LoginLimiter(per_username=2, per_address=3, window_seconds=300)
        limiter.failed("Zhang", "203.0.113.5")
        limiter.failed("zhang", "203.0.113.6")
        assert limiter.retry_after("ZHANG", "203.0.113.7") == 300
        limiter.failed("li", "203.0.113.5")
        limiter.failed("wang", "203.0.113.5")
        assert limiter.retry_after("zhao", "203.0.113.5") == 300
        assert limiter.retry_after("zhao", "203.0.113.9") is None

    def test_a_local_caller_has_no_address_budget(self, clock: FakeClock) -> None:
        limiter = LoginLimiter(per_username=100, per_address=1, window_seconds=300)
        for i in range(5):
            limiter.failed(f"user{i}", "")
        assert limiter.retry_after("someone", "") is None

    def test_one_audit_row_per_key_and_window(self, clock: FakeClock) -> None:
        limiter = LoginLimiter(per_username=1, per_address=1, window_seconds=300)
        assert limiter.first_refusal("zhang", "203.0.113.5")
        assert not limiter.first_refusal("zhang", "203.0.113.5")
        clock.now += 301
        assert limiter.first_refusal("zhang", "203.0.113.5")


def _request(peer: str, forwarded: str | None = None) -> Any:
    headers = {"x-forwarded-for": forwarded} if forwarded is not None else {}
    settings = SimpleNamespace(trusted_proxies=["127.0.0.1", "::1"])
    return SimpleNamespace(
        client=SimpleNamespace(host=peer),
        headers=headers,
        app=SimpleNamespace(state=SimpleNamespace(settings=settings)),
    )


class TestClientAddress:
    def test_an_untrusted_peer_is_the_client_whatever_it_claims(self) -> None:
        assert client_address(_request("203.0.113.5", "198.51.100.1")) == "203.0.113.5"

    def test_behind_a_trusted_proxy_the_rightmost_untrusted_address(self) -> None:
        # A client can prepend anything; only what our own proxy appended is believed.
        assert client_address(_request("127.0.0.1", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"
        assert client_address(_request("127.0.0.1", "198.51.100.7, 127.0.0.1")) == "198.51.100.7"

    def test_a_trusted_peer_without_forwarding_is_itself(self) -> None:
        assert client_address(_request("127.0.0.1")) == "127.0.0.1"
