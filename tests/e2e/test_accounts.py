"""Accounts and machine clients managed through the gateway's API, revocation that takes effect on
the next request, brute-force protection, refused tokens, and the audit trail of it all."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from dataclasses import dataclass

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from emplan_tools.stack import Stack

from .conftest import Login, expired_token
from .test_gateway import assert_problem

pytestmark = pytest.mark.e2e

ACCOUNTS = "/api/v1/auth/accounts"
CLIENTS = "/api/v1/auth/clients"
AUDIT = "/api/v1/auth/audit"
# A proxied route (plan-registry) and one of the gateway's own: revocation must hold on both.
PROXIED = "/api/v1/directory/departments"
OWN = "/api/v1/auth/me"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _address() -> dict[str, str]:
    """A client address of its own (as a TLS proxy in front would report it), so each test's failed
    sign-ins count against a budget no other test shares."""
    return {"X-Forwarded-For": f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"}


@dataclass
class Person:
    id: str
    username: str
    password: str
    token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return _bearer(self.token)


async def _token(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
        headers=_address(),
    )


async def make_person(
    client: httpx.AsyncClient,
    creator: Login | Person,
    *,
    roles: list[str],
    region: str,
) -> Person:
    username = f"p-{uuid.uuid4().hex[:12]}"
    password = f"Pw-{uuid.uuid4().hex}"
    created = await client.post(
        ACCOUNTS,
        json={
            "username": username,
            "display_name": f"测试{username[-4:]}",
            "roles": roles,
            "region_code": region,
            "password": password,
        },
        headers=creator.headers,
    )
    assert created.status_code == 201, created.text
    issued = await _token(client, username, password)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    return Person(created.json()["id"], username, password, body["access_token"], body["refresh_token"])


class TestAccountManagement:
    async def test_create_get_list_update(self, client: httpx.AsyncClient, admin: Login) -> None:
        person = await make_person(client, admin, roles=["viewer"], region="140902")
        got = await client.get(f"{ACCOUNTS}/{person.id}", headers=admin.headers)
        assert got.status_code == 200
        body = got.json()
        assert (body["username"], body["roles"], body["region_code"], body["active"]) == (
            person.username,
            ["viewer"],
            "140902",
            True,
        )
        assert "password" not in str(body)
        assert "password_hash" not in body
        listed = await client.get(
            ACCOUNTS, params={"region_code": "140902", "limit": 500}, headers=admin.headers
        )
        assert person.username in [a["username"] for a in listed.json()["items"]]
        changed = await client.patch(
            f"{ACCOUNTS}/{person.id}",
            json={"roles": ["evaluator", "viewer"], "display_name": "新名字"},
            headers=admin.headers,
        )
        assert changed.status_code == 200, changed.text
        assert (changed.json()["roles"], changed.json()["display_name"]) == (
            ["evaluator", "viewer"],
            "新名字",
        )

    async def test_list_pages_through_in_username_order(
        self, client: httpx.AsyncClient, admin: Login
    ) -> None:
        region = f"54{uuid.uuid4().int % 90 + 10:02d}{uuid.uuid4().int % 90 + 10:02d}"
        made = sorted(
            [(await make_person(client, admin, roles=["viewer"], region=region)).username for _ in range(3)]
        )
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"region_code": region, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get(ACCOUNTS, params=params, headers=admin.headers)).json()
            seen += [a["username"] for a in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == made

    async def test_jurisdiction_bounds_what_a_city_admin_sees_and_grants(
        self, client: httpx.AsyncClient, admin: Login
    ) -> None:
        city_admin = await make_person(client, admin, roles=["system_admin"], region="140900")
        inside = await make_person(client, admin, roles=["viewer"], region="140902")
        outside = await make_person(client, admin, roles=["viewer"], region="140100")
        assert (await client.get(f"{ACCOUNTS}/{inside.id}", headers=city_admin.headers)).status_code == 200
        assert_problem(
            await client.get(f"{ACCOUNTS}/{outside.id}", headers=city_admin.headers), 404, "account_not_found"
        )
        assert_problem(
            await client.post(f"{ACCOUNTS}/{outside.id}/disable", headers=city_admin.headers),
            404,
            "account_not_found",
        )
        listed = (await client.get(ACCOUNTS, params={"limit": 500}, headers=city_admin.headers)).json()[
            "items"
        ]
        assert {a["region_code"][:4] for a in listed} == {"1409"}
        refused = await client.post(
            ACCOUNTS,
            json={
                "username": f"x-{uuid.uuid4().hex[:8]}",
                "display_name": "越权",
                "roles": ["viewer"],
                "region_code": "140100",
                "password": "Pw-0123456789",
            },
            headers=city_admin.headers,
        )
        body = assert_problem(refused, 422, "region_outside_jurisdiction")
        assert [e["field"] for e in body["errors"]] == ["body.region_code"]
        # A filter outside is 404, as in every service's lists.
        assert_problem(
            await client.get(ACCOUNTS, params={"region_code": "140100"}, headers=city_admin.headers),
            404,
            "region_not_found",
        )
        # Both refusals are in the gateway's trail, under the city admin's region (its auditors').
        trail = (
            await client.get(
                AUDIT, params={"actor": city_admin.id, "action": "region_refused"}, headers=admin.headers
            )
        ).json()["items"]
        assert sorted(
            (e["object_id"], e["region_code"], e["after"]["field"], e["after"]["status"]) for e in trail
        ) == [("140100", "140900", "body.region_code", 422), ("140100", "140900", "query.region_code", 404)]

    async def test_no_role_above_ones_own(self, client: httpx.AsyncClient, admin: Login) -> None:
        planner = await make_person(client, admin, roles=["bureau_planner"], region="140900")
        reporter = await make_person(client, planner, roles=["department_reporter"], region="140902")
        assert reporter.token
        for roles in (["system_admin"], ["bureau_planner"], ["viewer", "evaluator"]):
            refused = await client.post(
                ACCOUNTS,
                json={
                    "username": f"x-{uuid.uuid4().hex[:8]}",
                    "display_name": "越级",
                    "roles": roles,
                    "region_code": "140902",
                    "password": "Pw-0123456789",
                },
                headers=planner.headers,
            )
            assert_problem(refused, 403, "role_not_grantable")
        # Nor raise someone to a role the planner does not hold, nor touch an admin in its region.
        assert_problem(
            await client.patch(
                f"{ACCOUNTS}/{reporter.id}", json={"roles": ["system_admin"]}, headers=planner.headers
            ),
            403,
            "role_not_grantable",
        )
        county_admin = await make_person(client, admin, roles=["system_admin"], region="140902")
        assert_problem(
            await client.post(f"{ACCOUNTS}/{county_admin.id}/disable", headers=planner.headers),
            403,
            "account_not_manageable",
        )
        # Machine clients are a system admin's business only.
        assert_problem(await client.get(CLIENTS, headers=planner.headers), 403, "role_required")

    async def test_viewer_manages_nothing(self, client: httpx.AsyncClient, admin: Login) -> None:
        viewer = await make_person(client, admin, roles=["viewer"], region="140900")
        assert_problem(await client.get(ACCOUNTS, headers=viewer.headers), 403, "role_required")
        assert_problem(await client.get(AUDIT, headers=viewer.headers), 403, "role_required")

    async def test_weak_password_and_taken_username(self, client: httpx.AsyncClient, admin: Login) -> None:
        person = await make_person(client, admin, roles=["viewer"], region="140902")
        payload = {"display_name": "某", "roles": ["viewer"], "region_code": "140902"}
        assert_problem(
            await client.post(
                ACCOUNTS,
                json=payload | {"username": person.username, "password": "Pw-0123456789"},
                headers=admin.headers,
            ),
            409,
            "username_taken",
        )
        body = assert_problem(
            await client.post(
                ACCOUNTS,
                json=payload | {"username": f"w-{uuid.uuid4().hex[:8]}", "password": "short"},
                headers=admin.headers,
            ),
            422,
            "weak_password",
        )
        assert body["errors"][0]["field"] == "body.password"


class TestRevocation:
    async def test_disabling_ends_the_accounts_tokens_on_the_next_request(
        self, client: httpx.AsyncClient, admin: Login
    ) -> None:
        person = await make_person(client, admin, roles=["viewer"], region="140902")
        for path in (OWN, PROXIED):
            assert (await client.get(path, headers=person.headers)).status_code == 200
        disabled = await client.post(f"{ACCOUNTS}/{person.id}/disable", headers=admin.headers)
        assert disabled.status_code == 200
        assert disabled.json()["active"] is False
        for path in (OWN, PROXIED):
            assert_problem(await client.get(path, headers=person.headers), 401, "token_revoked")
        refreshed = await client.post(
            "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": person.refresh_token}
        )
        assert_problem(refreshed, 400, "invalid_grant")
        assert_problem(await _token(client, person.username, person.password), 400, "invalid_grant")
        # Enabled again: it signs in anew, and the token from before stays revoked.
        assert (await client.post(f"{ACCOUNTS}/{person.id}/enable", headers=admin.headers)).status_code == 200
        fresh = await _token(client, person.username, person.password)
        assert fresh.status_code == 200
        assert (await client.get(OWN, headers=_bearer(fresh.json()["access_token"]))).status_code == 200
        assert_problem(await client.get(OWN, headers=person.headers), 401, "token_revoked")

    async def test_new_roles_end_tokens_carrying_the_old_ones(
        self, client: httpx.AsyncClient, admin: Login
    ) -> None:
        person = await make_person(client, admin, roles=["bureau_planner"], region="140902")
        await client.patch(f"{ACCOUNTS}/{person.id}", json={"roles": ["viewer"]}, headers=admin.headers)
        assert_problem(await client.get(PROXIED, headers=person.headers), 401, "token_revoked")
        again = await _token(client, person.username, person.password)
        me = await client.get(OWN, headers=_bearer(again.json()["access_token"]))
        assert me.json()["roles"] == ["viewer"]

    async def test_password_reset(self, client: httpx.AsyncClient, admin: Login) -> None:
        person = await make_person(client, admin, roles=["viewer"], region="140902")
        reset = await client.post(f"{ACCOUNTS}/{person.id}/password-reset", headers=admin.headers)
        assert reset.status_code == 200
        new_password = reset.json()["password"]
        assert len(new_password) >= 20
        assert_problem(await client.get(OWN, headers=person.headers), 401, "token_revoked")
        assert_problem(await _token(client, person.username, person.password), 400, "invalid_grant")
        assert (await _token(client, person.username, new_password)).status_code == 200

    async def test_an_admin_cannot_disable_themselves(self, client: httpx.AsyncClient, admin: Login) -> None:
        own_admin = await make_person(client, admin, roles=["system_admin"], region="140900")
        assert_problem(
            await client.post(f"{ACCOUNTS}/{own_admin.id}/disable", headers=own_admin.headers),
            403,
            "own_account",
        )


async def _client_token(client: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"} | _address(),
    )


class TestMachineClients:
    async def test_rotation_and_revocation(self, client: httpx.AsyncClient, admin: Login) -> None:
        client_id = f"prov-{uuid.uuid4().hex[:8]}"
        created = await client.post(
            CLIENTS,
            json={"client_id": client_id, "name": "省级平台", "region_code": "140000"},
            headers=admin.headers,
        )
        assert created.status_code == 201, created.text
        body = created.json()
        uid, first_secret = body["client"]["id"], body["client_secret"]
        assert body["client"]["roles"] == ["machine_client"]
        # The secret is shown once: reading the client never returns it.
        assert "secret" not in str((await client.get(f"{CLIENTS}/{uid}", headers=admin.headers)).json())
        token = (await _client_token(client, client_id, first_secret)).json()["access_token"]
        me = (await client.get(OWN, headers=_bearer(token))).json()
        assert (me["is_client"], me["region_code"]) == (True, "140000")
        assert (await client.get(PROXIED, headers=_bearer(token))).status_code == 200

        rotated = await client.post(f"{CLIENTS}/{uid}/secret", headers=admin.headers)
        second_secret = rotated.json()["client_secret"]
        assert second_secret != first_secret
        assert_problem(await client.get(PROXIED, headers=_bearer(token)), 401, "token_revoked")
        assert_problem(await _client_token(client, client_id, first_secret), 401, "invalid_client")
        second = (await _client_token(client, client_id, second_secret)).json()["access_token"]
        assert (await client.get(OWN, headers=_bearer(second))).status_code == 200

        assert (await client.post(f"{CLIENTS}/{uid}/disable", headers=admin.headers)).json()[
            "active"
        ] is False
        assert_problem(await client.get(OWN, headers=_bearer(second)), 401, "token_revoked")
        assert_problem(await _client_token(client, client_id, second_secret), 401, "invalid_client")

    async def test_clients_within_jurisdiction(self, client: httpx.AsyncClient, admin: Login) -> None:
        city_admin = await make_person(client, admin, roles=["system_admin"], region="140900")
        outside = await client.post(
            CLIENTS,
            json={"client_id": f"c-{uuid.uuid4().hex[:8]}", "name": "外市平台", "region_code": "140100"},
            headers=admin.headers,
        )
        uid = outside.json()["client"]["id"]
        assert_problem(
            await client.get(f"{CLIENTS}/{uid}", headers=city_admin.headers), 404, "client_not_found"
        )
        assert_problem(
            await client.post(f"{CLIENTS}/{uid}/secret", headers=city_admin.headers), 404, "client_not_found"
        )
        listed = (await client.get(CLIENTS, params={"limit": 500}, headers=city_admin.headers)).json()[
            "items"
        ]
        assert all(c["region_code"].startswith("1409") for c in listed)


class TestBruteForce:
    async def test_lockout_then_rate_limit_per_username(
        self, client: httpx.AsyncClient, admin: Login
    ) -> None:
        person = await make_person(client, admin, roles=["viewer"], region="140902")
        statuses = []
        for _ in range(10):
            # Each from another address: only the per-username budget is at stake here.
            statuses.append((await _token(client, person.username, "wrong-password-1")).status_code)
        # Five wrong passwords lock the account (423); the lockout answers count as failures too.
        assert statuses == [400] * 5 + [423] * 5
        limited = await _token(client, person.username, person.password)
        body = assert_problem(limited, 429, "too_many_attempts")
        assert 1 <= int(limited.headers["retry-after"]) <= 300
        assert body["detail"]

    async def test_rate_limit_per_address_across_usernames(
        self, client: httpx.AsyncClient, admin: Login
    ) -> None:
        address = {"X-Forwarded-For": f"203.0.113.{uuid.uuid4().int % 250 + 1}"}
        person = await make_person(client, admin, roles=["viewer"], region="140902")
        for i in range(30):
            response = await client.post(
                "/api/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": f"nobody-{i}-{uuid.uuid4().hex[:6]}",
                    "password": "x",
                },
                headers=address,
            )
            assert response.status_code == 400, (i, response.text)
        # The 31st from that address is refused before any password is compared, even a right one.
        refused = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": person.username, "password": person.password},
            headers=address,
        )
        assert_problem(refused, 429, "too_many_attempts")
        assert int(refused.headers["retry-after"]) >= 1
        # The same person from elsewhere is not affected.
        assert (await _token(client, person.username, person.password)).status_code == 200
        events = await client.get(
            AUDIT, params={"action": "login_rate_limited", "limit": 500}, headers=admin.headers
        )
        assert any(e["after"]["address"] == address["X-Forwarded-For"] for e in events.json()["items"])


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": "emplan",
        "aud": "emplan",
        "sub": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 600,
        "roles": ["system_admin"],
        "region": "000000",
        "typ": "user",
    } | overrides


def _unsigned(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        import json

        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def bad_tokens(system: Stack) -> dict[str, tuple[str, str]]:
    key = system.jwt_private_key_file.read_text()
    stranger = Ed25519PrivateKey.generate()
    return {
        "expired": (expired_token(system), "token_expired"),
        "wrong_audience": (jwt.encode(_claims(aud="someone-else"), key, algorithm="EdDSA"), "token_invalid"),
        "wrong_issuer": (jwt.encode(_claims(iss="elsewhere"), key, algorithm="EdDSA"), "token_invalid"),
        "alg_none": (_unsigned(_claims()), "token_invalid"),
        "other_key": (jwt.encode(_claims(), stranger, algorithm="EdDSA"), "token_invalid"),
        "hs256_with_public_key": (
            jwt.encode(_claims(), "not-the-key-at-all-but-long-enough-32b", algorithm="HS256"),
            "token_invalid",
        ),
        "garbage": ("not.a.token", "token_invalid"),
        # Signed with the real key for an account that does not exist: nothing to honour.
        "unknown_subject": (jwt.encode(_claims(ver=0), key, algorithm="EdDSA"), "token_revoked"),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "alg_none",
        "other_key",
        "hs256_with_public_key",
        "garbage",
        "unknown_subject",
    ],
)
@pytest.mark.parametrize("path", [OWN, PROXIED, ACCOUNTS])
async def test_refused_tokens(system: Stack, client: httpx.AsyncClient, kind: str, path: str) -> None:
    token, code = bad_tokens(system)[kind]
    response = await client.get(path, headers=_bearer(token))
    assert_problem(response, 401, code)
    assert response.headers["www-authenticate"].startswith("Bearer")


class TestAudit:
    async def test_account_changes_are_recorded_with_actor_and_request(
        self, client: httpx.AsyncClient, admin: Login
    ) -> None:
        me = (await client.get(OWN, headers=admin.headers)).json()
        person = await make_person(client, admin, roles=["viewer"], region="140902")
        request_id = f"audit-{uuid.uuid4().hex[:8]}"
        await client.patch(
            f"{ACCOUNTS}/{person.id}",
            json={"roles": ["evaluator"]},
            headers=admin.headers | {"X-Request-Id": request_id},
        )
        await client.post(f"{ACCOUNTS}/{person.id}/disable", headers=admin.headers)
        trail = (
            await client.get(
                AUDIT, params={"object_type": "account", "object_id": person.id}, headers=admin.headers
            )
        ).json()["items"]
        # Newest first: disable, the role change, the creation.
        assert [e["action"] for e in trail] == ["update", "update", "create"]
        disable, change, create = trail
        assert all(e["actor_subject"] == me["subject"] and e["actor_kind"] == "user" for e in trail)
        assert change["request_id"] == request_id
        assert (change["before"]["roles"], change["after"]["roles"]) == (["viewer"], ["evaluator"])
        assert (disable["before"]["active"], disable["after"]["active"]) == (True, False)
        assert create["after"]["password_hash"] == "***"
        assert create["region_code"] == "140902"

    async def test_failed_logins_and_lockout_are_recorded(
        self, client: httpx.AsyncClient, admin: Login
    ) -> None:
        person = await make_person(client, admin, roles=["viewer"], region="140902")
        for _ in range(5):
            await _token(client, person.username, "wrong-password-2")
        trail = (
            await client.get(AUDIT, params={"object_id": person.id, "limit": 50}, headers=admin.headers)
        ).json()["items"]
        actions = [e["action"] for e in trail]
        assert actions.count("login_failed") == 5
        assert actions.count("account_locked") == 1
        failed = next(e for e in trail if e["action"] == "login_failed")
        assert failed["actor_kind"] == "anonymous"
        assert failed["after"]["reason"] == "wrong_password"
        assert failed["after"]["address"].startswith("2001:db8::")

    async def test_filters_by_person_and_time_and_stays_in_jurisdiction(
        self, client: httpx.AsyncClient, admin: Login
    ) -> None:
        city_admin = await make_person(client, admin, roles=["system_admin"], region="140900")
        started = (await client.get(AUDIT, params={"limit": 1}, headers=admin.headers)).json()["items"][0][
            "occurred_at"
        ]
        inside = await make_person(client, city_admin, roles=["viewer"], region="140902")
        await make_person(client, admin, roles=["viewer"], region="140100")
        by_city_admin = (
            await client.get(
                AUDIT, params={"actor": str(city_admin.id), "since": started}, headers=admin.headers
            )
        ).json()["items"]
        assert [(e["action"], e["object_id"]) for e in by_city_admin] == [("create", inside.id)]
        seen = (await client.get(AUDIT, params={"limit": 500}, headers=city_admin.headers)).json()["items"]
        assert seen
        assert all((e["region_code"] or "").startswith("1409") for e in seen)
        assert_problem(
            await client.get(AUDIT, params={"since": "2026-01-01T00:00:00"}, headers=admin.headers),
            400,
            "naive_datetime",
        )

    async def test_the_trail_cannot_be_edited_through_the_api(
        self, client: httpx.AsyncClient, admin: Login
    ) -> None:
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            assert_problem(
                await client.request(method, AUDIT, headers=admin.headers), 405, "method_not_allowed"
            )


class TestServicesHearOfRevocations:
    async def test_a_service_called_directly_refuses_a_revoked_token(
        self, system: Stack, client: httpx.AsyncClient, admin: Login
    ) -> None:
        """A call that bypasses the gateway (a forged or replayed internal call) gains nothing: the
        service verifies the token itself and has heard of the revocation through its event."""
        person = await make_person(client, admin, roles=["viewer"], region="140902")
        bystander = await make_person(client, admin, roles=["viewer"], region="140902")
        direct = f"http://127.0.0.1:{system.ports.service('plan-registry')}{PROXIED}"
        async with httpx.AsyncClient(timeout=10) as service:
            assert (await service.get(direct, headers=person.headers)).status_code == 200
            await client.post(f"{ACCOUNTS}/{person.id}/disable", headers=admin.headers)
            started = time.monotonic()
            response = await service.get(direct, headers=person.headers)
            while response.status_code == 200 and time.monotonic() - started < 10:
                await asyncio.sleep(0.02)
                response = await service.get(direct, headers=person.headers)
            assert_problem(response, 401, "token_revoked")
            assert (await service.get(direct, headers=bystander.headers)).status_code == 200


class TestRefusedTokensAudited:
    async def test_each_refusal_is_recorded_once_a_minute(
        self, system: Stack, client: httpx.AsyncClient, admin: Login
    ) -> None:
        subject = str(uuid.uuid4())
        forged = _unsigned(_claims(sub=subject, region="140902"))
        for path in (PROXIED, OWN, PROXIED):
            assert_problem(await client.get(path, headers=_bearer(forged)), 401, "token_invalid")
        key = system.jwt_private_key_file.read_text()
        wrong_audience = jwt.encode(
            _claims(sub=subject, aud="elsewhere", region="140902"), key, algorithm="EdDSA"
        )
        assert_problem(await client.get(PROXIED, headers=_bearer(wrong_audience)), 401, "token_invalid")
        person = await make_person(client, admin, roles=["viewer"], region="140902")
        await client.post(f"{ACCOUNTS}/{person.id}/disable", headers=admin.headers)
        assert_problem(await client.get(PROXIED, headers=person.headers), 401, "token_revoked")

        forged_trail = (
            await client.get(
                AUDIT, params={"action": "token_refused", "object_id": subject}, headers=admin.headers
            )
        ).json()["items"]
        # Three forged requests and one with the wrong audience: one entry for the reason and subject.
        assert [(e["after"]["reason"], e["object_type"], e["actor_kind"]) for e in forged_trail] == [
            ("token_invalid", "token", "anonymous")
        ]
        assert forged_trail[0]["region_code"] == "140902"
        revoked_trail = (
            await client.get(
                AUDIT, params={"action": "token_refused", "object_id": person.id}, headers=admin.headers
            )
        ).json()["items"]
        assert [e["after"]["reason"] for e in revoked_trail] == ["token_revoked"]
