"""Token verification and jurisdiction rules."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from emplan_shared.auth import Principal, Role, TokenVerifier, jurisdiction_prefix, principal_from_claims
from emplan_shared.errors import NotFound, Unauthorized
from emplan_shared.settings import ServiceSettings


class TestJurisdiction:
    @pytest.mark.parametrize(
        ("code", "prefix"),
        [("140000", "14"), ("140900", "1409"), ("140902", "140902"), ("000000", ""), ("110100", "1101")],
    )
    def test_prefix_strips_trailing_zero_pairs(self, code: str, prefix: str) -> None:
        assert jurisdiction_prefix(code) == prefix

    @pytest.mark.parametrize("code", ["14090", "1409000", "14A900", ""])
    def test_rejects_codes_that_are_not_six_digits(self, code: str) -> None:
        with pytest.raises(ValueError, match="GB/T 2260"):
            jurisdiction_prefix(code)

    def test_city_sees_its_counties_but_not_its_province_or_neighbours(self) -> None:
        city = Principal(subject="u", roles=frozenset({Role.viewer}), region_code="140900")
        assert city.can_see("140900")
        assert city.can_see("140902")
        assert not city.can_see("140000")
        assert not city.can_see("140802")
        assert not city.can_see("141000")

    def test_a_region_named_outside_the_jurisdiction_is_refused_as_not_found(self) -> None:
        city = Principal(subject="u", roles=frozenset({Role.viewer}), region_code="140900")
        city.require_region(None, field="query.region_code")  # no region named: nothing to refuse
        city.require_region("140900", field="query.region_code")
        city.require_region("140902", field="query.region_code")
        for outside in ("140000", "140802"):
            with pytest.raises(NotFound) as caught:
                city.require_region(outside, field="query.below")
            assert caught.value.code == "region_not_found"
            assert [item.field for item in caught.value.errors] == ["query.below"]
            assert outside in caught.value.detail

    def test_county_sees_only_itself(self) -> None:
        county = Principal(subject="u", roles=frozenset({Role.viewer}), region_code="140902")
        assert county.can_see("140902")
        assert not county.can_see("140921")

    def test_system_admin_holds_every_role(self) -> None:
        admin = Principal(subject="u", roles=frozenset({Role.system_admin}), region_code="000000")
        assert admin.has_any(Role.evaluator)
        viewer = Principal(subject="u", roles=frozenset({Role.viewer}), region_code="000000")
        assert not viewer.has_any(Role.evaluator)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ed25519PrivateKey, Path]:
    private = Ed25519PrivateKey.generate()
    public_file = tmp_path_factory.mktemp("keys") / "public.pem"
    public_file.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public_file


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "emplan",
        "aud": "emplan",
        "sub": "someone",
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "roles": ["viewer"],
        "region": "140900",
    }
    claims.update(overrides)
    return claims


class TestTokenVerifier:
    @pytest.fixture
    def verifier(
        self, keys: tuple[Ed25519PrivateKey, Path], monkeypatch: pytest.MonkeyPatch
    ) -> TokenVerifier:
        monkeypatch.setenv("EMPLAN_JWT_PUBLIC_KEY_FILE", str(keys[1]))
        return TokenVerifier(ServiceSettings())

    async def test_accepts_a_valid_token(
        self, verifier: TokenVerifier, keys: tuple[Ed25519PrivateKey, Path]
    ) -> None:
        token = jwt.encode(_claims(), keys[0], algorithm="EdDSA")
        principal = principal_from_claims(await verifier.verify(token))
        assert principal.region_code == "140900"
        assert principal.roles == frozenset({Role.viewer})

    @pytest.mark.parametrize(
        ("overrides", "code"),
        [
            ({"exp": int(time.time()) - 60}, "token_expired"),
            ({"aud": "someone-else"}, "token_invalid"),
            ({"iss": "https://evil.example"}, "token_invalid"),
        ],
    )
    async def test_refuses_bad_claims(
        self,
        verifier: TokenVerifier,
        keys: tuple[Ed25519PrivateKey, Path],
        overrides: dict[str, object],
        code: str,
    ) -> None:
        token = jwt.encode(_claims(**overrides), keys[0], algorithm="EdDSA")
        with pytest.raises(Unauthorized) as caught:
            await verifier.verify(token)
        assert caught.value.code == code

    async def test_refuses_a_token_signed_by_another_key(self, verifier: TokenVerifier) -> None:
        token = jwt.encode(_claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA")
        with pytest.raises(Unauthorized):
            await verifier.verify(token)

    async def test_refuses_alg_none(self, verifier: TokenVerifier) -> None:
        token = jwt.encode(_claims(roles=["system_admin"]), key=None, algorithm="none")  # type: ignore[arg-type]
        with pytest.raises(Unauthorized):
            await verifier.verify(token)

    async def test_refuses_garbage(self, verifier: TokenVerifier) -> None:
        with pytest.raises(Unauthorized):
            await verifier.verify("not-a-token")

    def test_claims_without_region_are_refused(self) -> None:
        with pytest.raises(Unauthorized):
            principal_from_claims({"sub": "x", "roles": []})

    def test_unknown_roles_are_dropped_not_granted(self) -> None:
        principal = principal_from_claims({"sub": "x", "roles": ["root", "viewer"], "region": "140900"})
        assert principal.roles == frozenset({Role.viewer})


class TestVerifiedTokenCache:
    async def test_a_cached_token_still_expires(
        self, keys: tuple[Ed25519PrivateKey, Path], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("EMPLAN_JWT_PUBLIC_KEY_FILE", str(keys[1]))
        verifier = TokenVerifier(ServiceSettings())
        token = jwt.encode(_claims(exp=int(time.time()) + 2), keys[0], algorithm="EdDSA")
        assert (await verifier.verify(token))["sub"] == "someone"
        verifier._keys = []  # from here on only the cache can vouch for the token
        assert (await verifier.verify(token))["sub"] == "someone"
        monkeypatch.setattr(time, "time", lambda: 10_000_000_000.0)
        with pytest.raises(Unauthorized):
            await verifier.verify(token)  # past its exp the cache no longer vouches for it

    async def test_the_cache_is_bounded(
        self, keys: tuple[Ed25519PrivateKey, Path], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("EMPLAN_JWT_PUBLIC_KEY_FILE", str(keys[1]))
        verifier = TokenVerifier(ServiceSettings())
        verifier.cache_size = 3
        for _ in range(5):
            await verifier.verify(jwt.encode(_claims(), keys[0], algorithm="EdDSA"))
        assert len(verifier._verified) == 3


class TestExternalIssuer:
    """A province's own OIDC provider: tokens signed with its RSA key, verified through its JWKS URL."""

    async def test_tokens_verify_against_a_jwks_url(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import http.server
        import json
        import threading

        from cryptography.hazmat.primitives.asymmetric import rsa
        from jwt.algorithms import RSAAlgorithm

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key())) | {
            "kid": "province-1",
            "use": "sig",
            "alg": "RS256",
        }
        body = json.dumps({"keys": [jwk]}).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            monkeypatch.delenv("EMPLAN_JWT_PUBLIC_KEY_FILE", raising=False)
            monkeypatch.setenv("EMPLAN_JWT_JWKS_URL", f"http://127.0.0.1:{server.server_port}/jwks")
            monkeypatch.setenv("EMPLAN_JWT_ISSUER", "https://idp.province.example")
            verifier = TokenVerifier(ServiceSettings())
            token = jwt.encode(
                _claims(iss="https://idp.province.example"),
                key,
                algorithm="RS256",
                headers={"kid": "province-1"},
            )
            assert principal_from_claims(await verifier.verify(token)).region_code == "140900"
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            forged = jwt.encode(
                _claims(iss="https://idp.province.example"),
                other,
                algorithm="RS256",
                headers={"kid": "province-1"},
            )
            with pytest.raises(Unauthorized):
                await verifier.verify(forged)
            unknown_kid = jwt.encode(
                _claims(iss="https://idp.province.example"),
                key,
                algorithm="RS256",
                headers={"kid": "rotated-away"},
            )
            with pytest.raises(Unauthorized):
                await verifier.verify(unknown_kid)
        finally:
            server.shutdown()
